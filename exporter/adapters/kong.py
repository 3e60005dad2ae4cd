"""Kong AI Gateway log entry (http-log / file-log plugins, with the ``ai`` section) -> GatewayEvent.

Kong measures time in milliseconds; the event carries seconds. The AI section is ``ai.proxy``
today and ``ai["ai-proxy"]`` in older releases; guardrail plugins log beside the usage, under
the proxy section (current releases) or directly under ``ai``.
"""

from __future__ import annotations

from typing import Any

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
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    cost: Amount | None = None
    cost_request: Amount | None = None  # legacy name of cost
    time_to_first_token: Amount | None = None  # ms


class _Meta(Decoded):
    request_model: str | None = None
    response_model: str | None = None
    provider_name: str | None = None
    request_mode: str | None = None  # "oneshot" or "stream"
    route_type: str | None = None  # "llm/v1/chat", ...
    llm_latency: Amount | None = None  # ms; missing on cache hits


class _Cache(Decoded):
    cache_status: str | None = None


class _Guard(Decoded):
    """lakera-guard / aws-guardrails: which stages ran, and whether each blocked.

    Only presence matters for the rest, so it stays unparsed (the faulty_* fields hold the
    blocked prompt or response itself).
    """

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

    def ran_on_input(self) -> bool:
        return bool(
            self.input_block_reason is not None
            or self.input_processing_latency
            or self.input_request_uuid
            or self.input_block_detail
            or self.input_faulty_prompt
        )

    def ran_on_output(self) -> bool:
        return bool(
            self.output_block_reason is not None
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
    sanitizer: _Sanitizer | None = None


class _Proxy(_Guards):
    usage: _Usage | None = None
    meta: _Meta | None = None
    cache: _Cache | None = None


class _AI(_Guards):
    proxy: _Proxy | None = None
    ai_proxy: _Proxy | None = msgspec.field(default=None, name="ai-proxy")
    ai_proxy_advanced: _Proxy | None = msgspec.field(default=None, name="ai-proxy-advanced")


class _Request(Decoded):
    id: str | int | None = None
    uri: str | None = None
    # Skipped unparsed unless the spec reads headers: build() then decodes those headers only.
    headers: msgspec.Raw = ABSENT


class _Response(Decoded):
    status: int | None = None


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
    upstream_status: int | str | None = None  # nginx gives "502, 200" after a retry
    started_at: Amount | None = None  # ms
    latencies: _Latencies | None = None
    workspace_name: Any = None
    consumer: _Consumer | None = None
    consumer_groups: Any = None  # [{"name": ...}, ...]
    consumer_group: Any = None  # {"name": ...}
    route: _Named | None = None
    service: _Named | None = None
    ai: _AI | None = None


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


def _operation(meta: _Meta, uri: str | None) -> str:
    if meta.route_type is not None:
        op = _ROUTE_TYPES.get(meta.route_type)
        if op is not None:
            return op
    uri = uri or ""
    if "/embeddings" in uri:
        return "embeddings"
    if "/chat/completions" in uri or "/messages" in uri or "/responses" in uri:
        return "chat"
    if "/completions" in uri:
        return "text_completion"
    return "chat" if meta.request_mode else "other"


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


def _guardrails(ai: _AI, proxy: _Proxy) -> tuple[tuple[GuardrailEvaluation, ...], dict[str, int]]:
    evaluations = []
    entities: dict[str, int] = {}
    for name, guard in (
        ("lakera-guard", proxy.lakera_guard or ai.lakera_guard),
        ("aws-guardrails", proxy.aws_guardrails or ai.aws_guardrails),
    ):
        if guard is None:
            continue
        if guard.ran_on_input():
            result = "blocked" if guard.input_block_reason else "passed"
            evaluations.append(GuardrailEvaluation(name=name, stage="input", result=result))
        if guard.ran_on_output():
            result = "blocked" if guard.output_block_reason else "passed"
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
    return entry, header_pairs


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
            proxy = (ai.proxy or ai.ai_proxy or ai.ai_proxy_advanced) if ai is not None else None
            if proxy is None:
                raise RecordError("no ai.proxy section: not an AI Gateway log entry")
            meta = proxy.meta or _NO_META
            model = meta.request_model or meta.response_model
            if not model:
                raise RecordError("no model: expected ai.proxy.meta.request_model or response_model")
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

            if (
                proxy.lakera_guard is None
                and proxy.aws_guardrails is None
                and proxy.sanitizer is None
                and ai.lakera_guard is None
                and ai.aws_guardrails is None
                and ai.sanitizer is None
            ):
                guardrails: tuple[GuardrailEvaluation, ...] = ()
                entities: dict[str, int] = {}
            else:
                guardrails, entities = _guardrails(ai, proxy)

            if status < 400:
                outcome = "success"
            else:
                outcome = _failure_outcome(status, upstream, any(g.result == "blocked" for g in guardrails))

            input_tokens = usage.prompt_tokens or 0
            output_tokens = usage.completion_tokens or 0
            cached = reasoning = 0
            if usage.prompt_tokens_details is not None:
                # More cached than input is drift between counters, not an error.
                cached = min(usage.prompt_tokens_details.cached_tokens or 0, input_tokens)
            if usage.completion_tokens_details is not None:
                reasoning = min(usage.completion_tokens_details.reasoning_tokens or 0, output_tokens)

            latency = meta.llm_latency
            if latency is None and entry.latencies is not None:
                latency = entry.latencies.request  # cache hits have no LLM latency
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

            ident = request.id
            if ident is not None and ident.__class__ is not str:
                ident = str(ident)
            return GatewayEvent(
                ident or None,  # id
                started_at / 1000,  # timestamp
                attributes,  # attributes
                model,  # model
                (meta.provider_name or "unknown").lower(),  # provider
                _operation(meta, request.uri),  # operation
                outcome,  # outcome
                cache_status is not None and cache_status.lower() == "hit",  # cache_hit
                meta.request_mode == "stream",  # streaming
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
            )
        except Exception as exc:
            return rejection(exc)

    return adapter
