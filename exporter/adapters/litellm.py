"""LiteLLM proxy ``StandardLoggingPayload`` (what its generic HTTP logger posts) -> GatewayEvent.

The decoder Structs name only the fields gatewatch reads; msgspec skips everything else (prompt
and response text included) without building objects. Fields whose shape drifted between LiteLLM
versions are unions. The metadata dicts a spec may read keys of are decoded only when it does,
and then only those keys (``build`` derives the decoder type from the attribute paths).
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import msgspec

from contract.catalog import ERROR_KINDS, RATE_LIMIT_TYPES
from contract.fields import TAG_PREFIX
from exporter.adapters._common import (
    ABSENT,
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


class _UsageObject(Decoded):
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class _HiddenParams(Decoded):
    usage_object: _UsageObject | None = None


class _ErrorInformation(Decoded):
    # "429"; a number in some versions; for provider errors often the provider's own code string
    # ("context_length_exceeded"), the HTTP status then being in normalized_error.
    error_code: str | int | float | None = None
    error_class: str | None = None
    llm_provider: str | None = None  # empty when the proxy itself refused the request
    error_rate_limit_category: str | None = None  # litellm_rate_limit: the proxy's own limiter
    error_rate_limit_type: str | None = None  # requests, tokens, budget, ...
    normalized_error: str | None = None  # "400_INVALID_REQUEST": status and kind


class _StatusFields(Decoded):
    guardrail_status: str | None = None


class _Guardrail(Decoded):
    guardrail_name: str | None = None
    # A hook name, a list of them, or a tag-based mode object ({"tags": ..., "default": ...}).
    guardrail_mode: Any = None
    guardrail_status: str | None = None
    guardrail_action: str | None = None
    masked_entity_count: dict[str, Count | None] | None = None
    duration: Amount | None = None  # seconds


class _Metadata(Decoded):
    # Any: a non-string here is not worth rejecting the record for; it is just not copied.
    user_api_key_team_alias: Any = None
    user_api_key_team_id: Any = None
    user_api_key_alias: Any = None
    user_api_key_org_id: Any = None
    # Where the proxy carries usage details (hidden_params.usage_object is null in its records).
    usage_object: _UsageObject | None = None
    # Skipped unparsed unless the spec reads keys of them: build() then decodes those keys only.
    spend_logs_metadata: msgspec.Raw = ABSENT
    requester_metadata: msgspec.Raw = ABSENT


class _Payload(Decoded):
    id: str | int | None = None
    call_type: str | None = None
    status: str | None = None
    model_group: str | None = None
    model: str | None = None
    custom_llm_provider: str | None = None
    stream: bool | None = None
    cache_hit: bool | None = None
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None
    response_cost: Amount | None = None
    saved_cache_cost: Amount | None = None
    start_time: Amount | None = msgspec.field(default=None, name="startTime")
    end_time: Amount | None = msgspec.field(default=None, name="endTime")
    completion_start_time: Amount | None = msgspec.field(default=None, name="completionStartTime")
    metadata: _Metadata | None = None
    request_tags: Any = None  # a list of strings, "key:value" ones naming attributes
    error_information: _ErrorInformation | None = None
    status_fields: _StatusFields | None = None  # absent in old payloads
    hidden_params: _HiddenParams | None = None
    # null, one dict (older versions) or a list of them.
    guardrail_information: list[_Guardrail | None] | _Guardrail | None = None


# LiteLLM call types -> OpenTelemetry GenAI operation names.
_OPERATIONS: dict[str | None, str] = {
    "completion": "chat",
    "acompletion": "chat",
    "responses": "chat",
    "aresponses": "chat",
    "text_completion": "text_completion",
    "atext_completion": "text_completion",
    "embedding": "embeddings",
    "aembedding": "embeddings",
    "image_generation": "image_generation",
    "aimage_generation": "image_generation",
    "transcription": "audio_transcription",
    "atranscription": "audio_transcription",
    "speech": "speech",
    "aspeech": "speech",
    "rerank": "rerank",
    "arerank": "rerank",
}

# Guardrail hooks -> the stage they inspect. Unknown hooks count as input, where most run.
_STAGES = {
    "pre_call": "input",
    "during_call": "input",
    "pre_mcp_call": "input",
    "during_mcp_call": "input",
    "post_call": "output",
    "post_mcp_call": "output",
    "logging_only": "output",
}

_METADATA_FIELDS = (
    "user_api_key_team_alias",
    "user_api_key_team_id",
    "user_api_key_alias",
    "user_api_key_org_id",
)


def _stage(mode: Any) -> str:
    if isinstance(mode, list):
        mode = mode[0] if mode else None
    elif isinstance(mode, dict):
        mode = mode.get("default")
    return _STAGES.get(mode, "input") if mode.__class__ is str else "input"


def _result(status: str | None, action: str | None, masked: bool, succeeded: bool, guardrail_error: bool) -> str:
    # Older LiteLLM documented "blocked" and "failure" for what are now "guardrail_intervened"
    # and "guardrail_failed_to_respond".
    if status in ("success", "passed"):
        # Masking guardrails log "success" with the entities they masked.
        return "masked" if masked else "passed"
    if status == "guardrail_flagged":  # allowed through, violation recorded (logging-only mode)
        return "flagged"
    if status in ("guardrail_intervened", "blocked"):
        # A guardrail that masked PII may intervene on a request the provider then failed (a
        # 429, say): only a guardrail exception or a BLOCKED action means it stopped the request.
        if guardrail_error or (action is not None and action.upper() == "BLOCKED"):
            return "blocked"
        return "masked" if masked else "flagged"
    if status in ("guardrail_failed_to_respond", "failure"):
        # Failed closed only when the guardrail's failure is what stopped the request.
        return "failed_closed" if guardrail_error else "failed_open"
    # "not_run", and any status this version does not know: nothing says the guardrail judged
    # the request, and "flagged" or "failed_open" would invent a signal that is not there.
    return "not_run"


_KNOWN_GUARDRAIL_STATUSES = frozenset((
    "success", "passed", "guardrail_intervened", "blocked", "guardrail_flagged",
    "guardrail_failed_to_respond", "failure", "not_run",
))


def _guardrails(
    info: list[_Guardrail | None] | _Guardrail, succeeded: bool, guardrail_error: bool, gaps: list[str]
) -> tuple[tuple[GuardrailEvaluation, ...], dict[str, int], tuple[float | None, ...]]:
    evaluations = []
    seconds: list[float | None] = []
    entities: dict[str, int] = {}
    for g in info if isinstance(info, list) else (info,):
        if g is None:
            continue
        masked = False
        if g.masked_entity_count:
            for kind, count in g.masked_entity_count.items():
                if count:
                    masked = True
                    name = entity_name(kind)
                    entities[name] = entities.get(name, 0) + count
        if g.guardrail_status not in _KNOWN_GUARDRAIL_STATUSES and "unknown_guardrail_status" not in gaps:
            gaps.append("unknown_guardrail_status")
        evaluations.append(
            GuardrailEvaluation(
                g.guardrail_name or "unknown",
                _stage(g.guardrail_mode),
                _result(g.guardrail_status, g.guardrail_action, masked, succeeded, guardrail_error),
            )
        )
        seconds.append(g.duration)
    return tuple(evaluations), entities, tuple(seconds)


def _stopped_by_guardrail(p: _Payload) -> bool:
    """A failed request that a guardrail stopped: a guardrail exception, or the proxy itself (no
    provider named) failing it while the summary status or a guardrail's own entry says a
    guardrail intervened (the proxy raises a plain HTTPException, 400 or 403). A guardrail that
    only masked PII on a request the provider then failed did not stop it."""
    if p.status == "success":
        return False
    err = p.error_information
    if err is not None and "Guardrail" in (err.error_class or ""):
        return True
    intervened = p.status_fields is not None and p.status_fields.guardrail_status == "guardrail_intervened"
    if not intervened:
        # Some versions leave the summary at "success" and say it in the guardrail's own entry.
        info = p.guardrail_information
        entries = info if isinstance(info, list) else (info,)
        intervened = any(g is not None and g.guardrail_status in ("guardrail_intervened", "blocked") for g in entries)
    return intervened and (err is None or not err.llm_provider)


class _Failure(NamedTuple):
    outcome: str
    error: str | None = None
    rate_limit_source: str | None = None
    rate_limit_type: str | None = None
    gaps: tuple[str, ...] = ()


_ERROR_KINDS = frozenset(ERROR_KINDS)
_RATE_LIMIT_TYPES = frozenset(RATE_LIMIT_TYPES)
# Error classes the proxy raises for its own limits, whatever provider the record names.
_GATEWAY_LIMIT_CLASSES = ("BudgetExceededError", "ProxyRateLimitError")


def _status_and_kind(err: _ErrorInformation) -> tuple[int | None, str | None, bool]:
    """The HTTP status (error_code, else normalized_error's), the error kind, and whether the
    normalised code was one this version does not know."""
    status = error_code(err.error_code) or None
    normalized = err.normalized_error
    kind = None
    unknown_kind = False
    if normalized.__class__ is str and normalized:
        head, _, tail = normalized.partition("_")
        if status is None and head.isdigit():
            status = int(head)
        kind = tail.lower()
        if kind not in _ERROR_KINDS:
            kind, unknown_kind = "other", True
    return status, kind, unknown_kind


def _failure(p: _Payload, guardrails: tuple[GuardrailEvaluation, ...]) -> _Failure:
    err = p.error_information
    if _stopped_by_guardrail(p) or any(g.result == "blocked" for g in guardrails):
        kind = _status_and_kind(err)[1] if err is not None else None
        return _Failure("guardrail_blocked", kind)
    if err is None:
        return _Failure("gateway_error", gaps=("status_unreadable",))
    error_class = err.error_class or ""
    status, kind, unknown_kind = _status_and_kind(err)
    gaps = ("unknown_error_kind",) if unknown_kind else ()
    limit = err.error_rate_limit_type
    limit = (limit if limit in _RATE_LIMIT_TYPES else "unknown") if limit.__class__ is str else "unknown"
    provider = err.llm_provider
    if (err.error_rate_limit_category == "litellm_rate_limit" or error_class in _GATEWAY_LIMIT_CLASSES
            or (status == 429 and not provider and "PROVIDER" not in (err.normalized_error or ""))):
        return _Failure("quota_exceeded", kind, "gateway", limit, gaps)  # the proxy's own limits
    if status == 429:
        return _Failure("rate_limited", kind, "provider", limit, gaps)
    if status in (408, 504) or "Timeout" in error_class:
        return _Failure("timeout", kind, gaps=gaps)
    # A connection to the provider that broke (a stream cut mid-way) names no provider and
    # carries no status code, yet it is the provider's failure.
    lost_connection = error_class == "APIConnectionError"
    if status is None:
        if lost_connection:
            return _Failure("provider_error", kind, gaps=gaps)
        return _Failure("gateway_error", kind, gaps=(*gaps, "status_unreadable"))
    from_provider = bool(provider) or lost_connection or "PROVIDER" in (err.normalized_error or "")
    if status >= 500:
        return _Failure("provider_error" if from_provider else "gateway_error", kind, gaps=gaps)
    if 400 <= status < 500:
        return _Failure("client_error", kind, gaps=gaps)
    return _Failure("gateway_error", kind, gaps=(*gaps, "status_unreadable"))


def _decoder_type(spend_logs_keys: dict[str, str], requester_keys: dict[str, str]) -> tuple[type[_Payload], Any, Any]:
    """The payload type to decode, with the metadata dicts the spec reads decoded key by key."""
    if not spend_logs_keys and not requester_keys:
        return _Payload, (), ()
    fields: list[tuple[str, Any, None]] = []
    spend_logs_pairs: tuple[tuple[str, str], ...] = ()
    requester_pairs: tuple[tuple[str, str], ...] = ()
    if spend_logs_keys:
        spend_logs_type, spend_logs_pairs = picker("_SpendLogsMetadata", spend_logs_keys)
        fields.append(("spend_logs_metadata", spend_logs_type, None))
    if requester_keys:
        requester_type, requester_pairs = picker("_RequesterMetadata", requester_keys)
        fields.append(("requester_metadata", requester_type, None))
    metadata = msgspec.defstruct("_Metadata", fields, bases=(_Metadata,))
    payload = msgspec.defstruct("_Payload", [("metadata", metadata | None, None)], bases=(_Payload,))
    return cast(type[_Payload], payload), spend_logs_pairs, requester_pairs


def build(paths: frozenset[str]) -> Adapter:
    spend_logs_keys = wanted_under("metadata.spend_logs_metadata.", paths)
    requester_keys = wanted_under("metadata.requester_metadata.", paths)
    payload_type, spend_logs_pairs, requester_pairs = _decoder_type(spend_logs_keys, requester_keys)
    decode = msgspec.json.Decoder(payload_type, strict=False).decode
    metadata_fields = tuple(
        (f"metadata.{name}", name) for name in _METADATA_FIELDS if f"metadata.{name}" in paths
    )
    tag_keys = wanted_under(TAG_PREFIX, paths)
    copies_metadata = bool(metadata_fields or spend_logs_pairs or requester_pairs)

    def adapter(data: bytes) -> GatewayEvent | Rejection:
        try:
            p = decode(data)
            model = p.model_group or p.model
            if not model:
                raise RecordError("no model: expected model_group or model")
            start = p.start_time
            end = p.end_time
            duration = ttft = None
            gaps: list[str] = []
            if start is not None:
                if end is not None and end >= start:
                    duration = end - start
                # A failed request never had a first token: LiteLLM puts its end time there, and
                # counting it would make a provider outage burn the TTFT objectives too.
                if p.stream is True and p.status == "success":
                    first = p.completion_start_time
                    if first is not None and first >= start:
                        ttft = first - start
            elif end is not None:
                start = end
            else:
                raise RecordError("no start time: expected unix seconds at `$.startTime`")
            if duration is None:
                gaps.append("no_duration")

            input_tokens = p.prompt_tokens or 0
            output_tokens = p.completion_tokens or 0
            cached = reasoning = 0
            hidden = p.hidden_params
            usage = hidden.usage_object if hidden is not None else None
            if usage is None and p.metadata is not None:
                usage = p.metadata.usage_object
            if usage is not None:
                details = usage.prompt_tokens_details
                if details is not None and details.cached_tokens:
                    # More cached than input is drift between counters, not an error.
                    cached = details.cached_tokens if details.cached_tokens < input_tokens else input_tokens
                completion = usage.completion_tokens_details
                if completion is not None and completion.reasoning_tokens:
                    reasoning = (completion.reasoning_tokens if completion.reasoning_tokens < output_tokens
                                 else output_tokens)

            succeeded = p.status == "success"
            info = p.guardrail_information
            if info is None:
                guardrails: tuple[GuardrailEvaluation, ...] = ()
                entities: dict[str, int] = {}
                seconds: tuple[float | None, ...] = ()
            else:
                # A failure with no other cause given is the guardrail's doing.
                stopped = not succeeded and (p.error_information is None or _stopped_by_guardrail(p))
                guardrails, entities, seconds = _guardrails(info, succeeded, stopped, gaps)

            attributes: dict[str, str] = {}
            md = p.metadata
            if copies_metadata and md is not None:
                for path, name in metadata_fields:
                    value = getattr(md, name)
                    if value.__class__ is str:
                        if value:
                            attributes[path] = value
                    elif value is not None and "attribute_not_string" not in gaps:
                        gaps.append("attribute_not_string")
                if spend_logs_pairs:
                    copy_strings(md.spend_logs_metadata, spend_logs_pairs, attributes)
                if requester_pairs:
                    copy_strings(md.requester_metadata, requester_pairs, attributes)
            if tag_keys and p.request_tags.__class__ is list:
                for tag in p.request_tags:
                    # "data-classification:confidential" -> tag.data-classification; first wins.
                    if tag.__class__ is str and ":" in tag:
                        key, _, value = tag.partition(":")
                        tag_path = tag_keys.get(key.strip())
                        if tag_path is not None and tag_path not in attributes:
                            value = value.strip()
                            if value:
                                attributes[tag_path] = value

            ident = p.id
            if ident is not None and ident.__class__ is not str:
                ident = str(ident)
            saved = p.saved_cache_cost
            operation = _OPERATIONS.get(p.call_type)
            if operation is None:
                operation = "other"
                gaps.append("unknown_operation")
            provider = p.custom_llm_provider
            if not provider:
                provider = "unknown"
                gaps.append("no_provider")
            failure = None if succeeded else _failure(p, guardrails)
            if failure is not None and failure.gaps:
                gaps.extend(failure.gaps)
            return GatewayEvent(
                ident or None,  # id
                start,  # timestamp
                attributes,  # attributes
                model,  # model
                provider.lower(),  # provider
                operation,  # operation
                "success" if failure is None else failure.outcome,  # outcome
                p.cache_hit is True,  # cache_hit
                p.stream is True,  # streaming
                input_tokens,  # input_tokens
                output_tokens,  # output_tokens
                cached,  # cached_input_tokens
                reasoning,  # reasoning_tokens
                p.response_cost,  # reported_cost_usd
                saved if saved else None,  # reported_cache_saved_usd
                duration,  # duration_seconds
                ttft,  # ttft_seconds
                guardrails,  # guardrails
                entities,  # sensitive_entities
                seconds,  # guardrail_seconds
                None if failure is None else failure.error,  # error
                None if failure is None else failure.rate_limit_source,  # rate_limit_source
                None if failure is None else failure.rate_limit_type,  # rate_limit_type
                tuple(gaps),  # gaps
            )
        except Exception as exc:
            return rejection(exc)

    return adapter
