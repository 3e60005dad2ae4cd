"""Kong AI Gateway log entry (http-log / file-log plugins, with the ``ai`` section) -> GatewayEvent.

Kong measures time in milliseconds; the event carries seconds. Where the AI section sits moved
with Kong's releases (docs/support-kong.md has every release's shape and the Kong file it follows):
``ai.usage`` / ``ai.meta`` in 3.6, ``ai["ai-proxy"]`` (or the plugin's own name) in 3.7 and 3.8,
``ai.proxy`` from 3.9. Guardrail plugins log beside the usage, under the proxy section (current
releases) or directly under ``ai``.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec

from exporter.adapters._common import (
    ABSENT,
    UNKNOWN_ENTITY,
    Adapter,
    Amount,
    CompletionTokensDetails,
    Count,
    Decoded,
    PromptTokensDetails,
    RecordError,
    copy_strings,
    entity_name,
    error_code,
    picker,
    rejection,
    wanted_under,
)
from exporter.event import GatewayEvent, GuardrailEvaluation, Rejection


class _Usage(Decoded):
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None
    prompt_token: Count | None = None  # 3.7's name
    completion_token: Count | None = None  # 3.7's name
    input_tokens: Count | None = None  # non-text requests (images, audio), 3.11+
    output_tokens: Count | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    cost: Amount | None = None
    cost_request: Amount | None = None  # legacy name of cost
    time_to_first_token: Amount | None = None  # ms


class _Meta(Decoded):
    request_model: str | None = None
    response_model: str | None = None
    provider_name: str | None = None
    request_mode: str | None = None  # "oneshot", "stream" or "realtime" (3.12+)
    route_type: str | None = None  # "llm/v1/chat", ...
    llm_latency: Amount | None = None  # ms; missing on cache hits


class _Cache(Decoded):
    cache_status: str | None = None


_GUARD_MODES = (None, "INPUT", "OUTPUT", "BOTH")


class _Guard(Decoded):
    """A guard plugin's log block (lakera-guard, aws-guardrails, gcp-model-armor,
    azure-content-safety, custom-guardrail): which stages ran, and whether each blocked or masked.

    Only presence matters for the rest, so it stays unparsed (the faulty_* fields hold the
    blocked prompt or response itself).
    """

    mode: Any = None  # "INPUT", "OUTPUT" or "BOTH" (3.14+)
    input_masked: Any = None
    output_masked: Any = None
    input_block_reason: Any = None
    input_processing_latency: msgspec.Raw = ABSENT
    input_request_uuid: msgspec.Raw = ABSENT
    input_block_detail: msgspec.Raw = ABSENT
    input_faulty_prompt: msgspec.Raw = ABSENT
    output_block_reason: Any = None
    output_processing_latency: msgspec.Raw = ABSENT
    output_request_uuid: msgspec.Raw = ABSENT
    output_block_detail: msgspec.Raw = ABSENT
    output_faulty_response: msgspec.Raw = ABSENT

    def undocumented(self) -> bool:
        """A mode or masked flag outside what Kong documents: read as BOTH / not masked."""
        return self.mode not in _GUARD_MODES or any(
            flag is not None and flag.__class__ is not bool for flag in (self.input_masked, self.output_masked)
        )

    def ran_on_input(self) -> bool:
        if self.mode == "OUTPUT":
            return False
        return bool(
            self.input_block_reason is not None
            or self.input_masked is not None
            or self.input_processing_latency
            or self.input_request_uuid
            or self.input_block_detail
            or self.input_faulty_prompt
        )

    def ran_on_output(self) -> bool:
        if self.mode == "INPUT":
            return False
        return bool(
            self.output_block_reason is not None
            or self.output_masked is not None
            or self.output_processing_latency
            or self.output_request_uuid
            or self.output_block_detail
            or self.output_faulty_response
        )


class _SanitizedItem(Decoded):
    entity_type: str | None = None  # "original" (the PII itself) is never read


class _Sanitizer(Decoded):
    pii_identified: Count | None = None
    pii_sanitized: Count | None = None
    sanitized_items: list[_SanitizedItem | None] | None = None


class _Guards(Decoded):
    lakera_guard: _Guard | None = msgspec.field(default=None, name="lakera-guard")
    aws_guardrails: _Guard | None = msgspec.field(default=None, name="aws-guardrails")
    gcp_model_armor: _Guard | None = msgspec.field(default=None, name="gcp-model-armor")
    azure_content_safety: _Guard | None = msgspec.field(default=None, name="azure-content-safety")
    custom_guardrail: _Guard | None = msgspec.field(default=None, name="custom-guardrail")
    sanitizer: _Sanitizer | None = None


class _Proxy(_Guards):
    usage: _Usage | None = None
    meta: _Meta | None = None
    cache: _Cache | None = None


class _AI(_Proxy):
    """The ``ai`` section. Its own usage and meta are 3.6's shape, before each plugin had a key."""

    proxy: _Proxy | None = None
    ai_proxy: _Proxy | None = msgspec.field(default=None, name="ai-proxy")
    ai_proxy_advanced: _Proxy | None = msgspec.field(default=None, name="ai-proxy-advanced")
    # Their own LLM call, counted when no proxy section is logged (the proxied call comes first).
    request_transformer: _Proxy | None = msgspec.field(default=None, name="ai-request-transformer")
    response_transformer: _Proxy | None = msgspec.field(default=None, name="ai-response-transformer")


class _Request(Decoded):
    id: str | int | None = None
    uri: str | None = None
    # Skipped unparsed unless the spec reads headers: build() then decodes those headers only.
    headers: msgspec.Raw = ABSENT


class _ResponseHeaders(Decoded):
    content_type: Any = msgspec.field(default=None, name="content-type")


class _Response(Decoded):
    status: int | None = None
    headers: _ResponseHeaders | None = None


class _Latencies(Decoded):
    request: Amount | None = None  # ms


class _Consumer(Decoded):
    id: Any = None
    username: Any = None
    custom_id: Any = None


class _Named(Decoded):
    name: Any = None


class _Entry(Decoded):
    request: _Request | None = None
    response: _Response | None = None
    upstream_uri: str | None = None
    # An integer behind ai-proxy's buffered proxying (3.8+), else nginx's string ("" when Kong
    # answered itself, "502, 200" after a retry).
    upstream_status: int | str | None = None
    started_at: Amount | None = None  # ms
    latencies: _Latencies | None = None
    workspace_name: Any = None
    consumer: _Consumer | None = None
    consumer_groups: Any = None  # [{"name": ...}, ...]
    consumer_group: Any = None  # {"name": ...}
    route: _Named | None = None
    service: _Named | None = None
    ai: _AI | None = None


_NO_SECTION = (
    "no AI section: expected `ai.proxy`, `ai.ai-proxy`, `ai.ai-proxy-advanced`, `ai.usage` or an "
    "ai-request/response-transformer section (Kong writes none for a request its AI plugins did not answer)"
)
_NO_REQUEST = _Request()
_NO_USAGE = _Usage()
_NO_META = _Meta()

_ROUTE_TYPES = {
    "llm/v1/chat": "chat",
    "llm/v1/completions": "text_completion",
    "llm/v1/embeddings": "embeddings",
}

# Never copied, whatever a spec asks: credentials do not belong in attributes.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "apikey", "x-goog-api-key"}
)

_CONSUMER_FIELDS = ("username", "id", "custom_id")


def _path_operation(uri: str | None) -> str | None:
    """The operation a route path or a provider path (ai-proxy's upstream_uri) names, if any."""
    if not uri:
        return None
    if "/embeddings" in uri:
        return "embeddings"
    if (
        "/chat" in uri
        or "/messages" in uri
        or "/responses" in uri
        or "enerateContent" in uri  # Gemini's :generateContent and :streamGenerateContent
        or "/converse" in uri  # Bedrock
    ):
        return "chat"
    if "/completions" in uri:
        return "text_completion"
    return None


def _operation(meta: _Meta, uri: str | None, upstream_uri: str | None) -> str:
    if meta.route_type is not None:
        op = _ROUTE_TYPES.get(meta.route_type)
        if op is not None:
            return op
    op = _path_operation(uri) or _path_operation(upstream_uri)
    if op is not None:
        return op
    return "chat" if meta.request_mode else "other"


# Kong's name for a model or provider it never resolved (3.9+): none.
_UNRESOLVED = "UNSPECIFIED"
_UNKNOWN_VERDICT = "unknown_guardrail_status"


def _older_section(ai: _AI) -> tuple[_Proxy | None, bool]:
    """Without a proxy section: 3.6's flat one, else a transformer's own call (and True)."""
    if ai.usage is not None or ai.meta is not None:
        return ai, False
    transformer = ai.request_transformer or ai.response_transformer
    return transformer, transformer is not None


def _is_event_stream(response: _Response | None) -> bool:
    if response is None or response.headers is None:
        return False
    value = response.headers.content_type
    if value.__class__ is list:
        value = value[0] if value else None
    return value.__class__ is str and value.startswith("text/event-stream")


def _upstream_status(value: int | str | None) -> int:
    if isinstance(value, str):
        # After retries nginx lists every try ("502, 200", "504 : 200"): the last one answered.
        value = value.replace(":", ",").rpartition(",")[2]
    return error_code(value)


def _failure_outcome(status: int, upstream: int, guardrail_blocked: bool) -> str:
    if guardrail_blocked:
        return "guardrail_blocked"
    if status == 429:
        # The provider's 429 passed through, or Kong's own ai-rate-limiting refused it.
        return "rate_limited" if upstream == 429 else "quota_exceeded"
    if status in (408, 504):
        return "timeout"
    if status >= 500:
        return "provider_error" if upstream >= 500 else "gateway_error"
    return "client_error"


def _group_name(entry: _Entry) -> str | None:
    groups = entry.consumer_groups
    if groups.__class__ is list and groups:
        first = groups[0]
        name = first.get("name") if first.__class__ is dict else first
    else:
        group = entry.consumer_group
        name = group.get("name") if group.__class__ is dict else None
    return name if name.__class__ is str and name else None


def _verdict(masked: Any, block_reason: Any) -> str:
    # Masking is logged beside an empty or filled block reason: the content went on, masked.
    if masked is True:
        return "masked"
    return "blocked" if block_reason else "passed"


def _guardrails(
    ai: _AI, proxy: _Proxy, gaps: list[str]
) -> tuple[tuple[GuardrailEvaluation, ...], dict[str, int]]:
    evaluations = []
    entities: dict[str, int] = {}
    for name, guard in (
        ("lakera-guard", proxy.lakera_guard or ai.lakera_guard),
        ("aws-guardrails", proxy.aws_guardrails or ai.aws_guardrails),
        ("gcp-model-armor", proxy.gcp_model_armor or ai.gcp_model_armor),
        ("azure-content-safety", proxy.azure_content_safety or ai.azure_content_safety),
        ("custom-guardrail", proxy.custom_guardrail or ai.custom_guardrail),
    ):
        if guard is None:
            continue
        if guard.undocumented() and _UNKNOWN_VERDICT not in gaps:
            gaps.append(_UNKNOWN_VERDICT)
        if guard.ran_on_input():
            result = _verdict(guard.input_masked, guard.input_block_reason)
            evaluations.append(GuardrailEvaluation(name=name, stage="input", result=result))
        if guard.ran_on_output():
            result = _verdict(guard.output_masked, guard.output_block_reason)
            evaluations.append(GuardrailEvaluation(name=name, stage="output", result=result))
    sanitizer = proxy.sanitizer or ai.sanitizer
    if sanitizer is not None:
        result = "masked" if sanitizer.pii_sanitized else "passed"
        evaluations.append(GuardrailEvaluation(name="sanitizer", stage="input", result=result))
        if sanitizer.sanitized_items:
            for item in sanitizer.sanitized_items:
                if item is not None:
                    kind = entity_name(item.entity_type or "")
                    entities[kind] = entities.get(kind, 0) + 1
        elif sanitizer.pii_identified:
            entities[UNKNOWN_ENTITY] = sanitizer.pii_identified
    return tuple(evaluations), entities


def _decoder_type(header_keys: dict[str, str]) -> tuple[type[_Entry], Any]:
    """The entry type to decode, with the request headers the spec reads decoded one by one."""
    if not header_keys:
        return _Entry, ()
    headers_type, header_pairs = picker("_Headers", header_keys)
    request = msgspec.defstruct("_Request", [("headers", headers_type, None)], bases=(_Request,))
    entry = msgspec.defstruct("_Entry", [("request", request | None, None)], bases=(_Entry,))
    return cast(type[_Entry], entry), header_pairs


def build(paths: frozenset[str]) -> Adapter:
    # Kong logs header names in lower case.
    header_keys = {
        name.lower(): path
        for name, path in wanted_under("request.headers.", paths).items()
        if name.lower() not in _SECRET_HEADERS
    }
    entry_type, header_pairs = _decoder_type(header_keys)
    decode = msgspec.json.Decoder(entry_type, strict=False).decode
    consumer_fields = tuple(
        (f"consumer.{name}", name) for name in _CONSUMER_FIELDS if f"consumer.{name}" in paths
    )
    want_group = "consumer_group" in paths
    want_workspace = "workspace_name" in paths
    want_route = "route.name" in paths
    want_service = "service.name" in paths

    def adapter(data: bytes) -> GatewayEvent | Rejection:
        try:
            entry = decode(data)
            ai = entry.ai
            if ai is None:
                raise RecordError(_NO_SECTION)
            proxy = ai.proxy or ai.ai_proxy or ai.ai_proxy_advanced
            transformer = False
            if proxy is None:
                proxy, transformer = _older_section(ai)
                if proxy is None:
                    raise RecordError(_NO_SECTION)
            meta = proxy.meta or _NO_META
            model = meta.request_model
            if not model or model == _UNRESOLVED:
                model = meta.response_model
                if model == _UNRESOLVED:
                    model = None
            if not model:
                raise RecordError(
                    "no model: expected ai.proxy.meta.request_model or response_model (`UNSPECIFIED` is none)"
                )
            started_at = entry.started_at
            if started_at is None:
                raise RecordError("no start time: expected unix milliseconds at `$.started_at`")
            upstream = entry.upstream_status
            if upstream.__class__ is not int:
                upstream = _upstream_status(upstream)
            status = entry.response.status if entry.response is not None else None
            if status is None:
                status = upstream
            if not 100 <= status < 1000:
                raise RecordError("no HTTP status: expected an integer 100-999 at `$.response.status`")
            request = entry.request or _NO_REQUEST
            usage = proxy.usage or _NO_USAGE
            gaps: list[str] = []

            if (
                proxy.lakera_guard is None
                and proxy.aws_guardrails is None
                and proxy.gcp_model_armor is None
                and proxy.azure_content_safety is None
                and proxy.custom_guardrail is None
                and proxy.sanitizer is None
                and ai.lakera_guard is None
                and ai.aws_guardrails is None
                and ai.gcp_model_armor is None
                and ai.azure_content_safety is None
                and ai.custom_guardrail is None
                and ai.sanitizer is None
            ):
                guardrails: tuple[GuardrailEvaluation, ...] = ()
                entities: dict[str, int] = {}
            else:
                guardrails, entities = _guardrails(ai, proxy, gaps)

            if status < 400:
                outcome = "success"
            else:
                outcome = _failure_outcome(status, upstream, any(g.result == "blocked" for g in guardrails))
                if status >= 500 and upstream == 0:
                    # 3.6/3.7 log upstream_status "" behind buffering: a provider 5xx reads as Kong's.
                    gaps.append("status_unreadable")

            input_tokens = usage.prompt_tokens
            if input_tokens is None:
                input_tokens = usage.prompt_token if usage.prompt_token is not None else usage.input_tokens or 0
            output_tokens = usage.completion_tokens
            if output_tokens is None:
                output_tokens = (
                    usage.completion_token if usage.completion_token is not None else usage.output_tokens or 0
                )
            cached = reasoning = 0
            if usage.prompt_tokens_details is not None:
                # More cached than input is drift between counters, not an error.
                cached = min(usage.prompt_tokens_details.cached_tokens or 0, input_tokens)
            if usage.completion_tokens_details is not None:
                reasoning = min(usage.completion_tokens_details.reasoning_tokens or 0, output_tokens)

            streaming = meta.request_mode == "stream" or (
                meta.request_mode is None and _is_event_stream(entry.response)
            )
            whole = entry.latencies.request if entry.latencies is not None else None
            # A stream lasts until its last chunk: Kong's whole request (3.9 stops llm_latency at the
            # upstream's headers). Elsewhere the provider's time, or the whole request where Kong
            # logs none (before 3.8, cache hits, requests a guard stopped).
            latency: float | None
            if streaming and whole is not None:
                latency = whole
            else:
                latency = meta.llm_latency if meta.llm_latency is not None else whole
            ttft = usage.time_to_first_token
            cache_status = proxy.cache.cache_status if proxy.cache is not None else None

            attributes: dict[str, str] = {}
            if consumer_fields:
                copy_strings(entry.consumer, consumer_fields, attributes)
            if want_group:
                group = _group_name(entry)
                if group is not None:
                    attributes["consumer_group"] = group
            if want_workspace and entry.workspace_name.__class__ is str and entry.workspace_name:
                attributes["workspace_name"] = entry.workspace_name
            if want_route and entry.route is not None and entry.route.name.__class__ is str and entry.route.name:
                attributes["route.name"] = entry.route.name
            if (
                want_service
                and entry.service is not None
                and entry.service.name.__class__ is str
                and entry.service.name
            ):
                attributes["service.name"] = entry.service.name
            if header_pairs:
                headers = request.headers
                if isinstance(headers, msgspec.Struct):
                    for path, name in header_pairs:
                        value = getattr(headers, name)
                        if value.__class__ is list:  # a repeated header
                            value = value[0] if value else None
                        if value.__class__ is str and value:
                            attributes[path] = value

            provider = meta.provider_name
            if not provider or provider == _UNRESOLVED:
                provider = "unknown"
                gaps.append("no_provider")
            else:
                provider = provider.lower()
            operation = "chat" if transformer else _operation(meta, request.uri, entry.upstream_uri)
            if operation == "other":
                gaps.append("unknown_operation")
            if latency is None:
                gaps.append("no_duration")
            ident = request.id
            if ident is not None and ident.__class__ is not str:
                ident = str(ident)
            return GatewayEvent(
                ident or None,  # id
                started_at / 1000,  # timestamp
                attributes,  # attributes
                model,  # model
                provider,  # provider
                operation,  # operation
                outcome,  # outcome
                cache_status is not None and cache_status.lower() == "hit",  # cache_hit
                streaming,  # streaming
                input_tokens,  # input_tokens
                output_tokens,  # output_tokens
                cached,  # cached_input_tokens
                reasoning,  # reasoning_tokens
                usage.cost if usage.cost is not None else usage.cost_request,  # reported_cost_usd
                None,  # reported_cache_saved_usd: Kong reports none
                latency / 1000 if latency is not None else None,  # duration_seconds
                # A failed request had no first token of an answer, whatever Kong timed.
                ttft / 1000 if ttft and outcome == "success" else None,  # ttft_seconds
                guardrails,  # guardrails
                entities,  # sensitive_entities
                gaps=tuple(gaps),
            )
        except Exception as exc:
            return rejection(exc)

    return adapter
