"""LiteLLM proxy ``StandardLoggingPayload`` (what its generic HTTP logger posts) -> GatewayEvent.

The decoder Structs name only the fields gatewatch reads; msgspec skips everything else (prompt
and response text included) without building objects. Fields whose shape drifted between LiteLLM
versions are unions; attribute sources that only some specs read stay unparsed ``Raw``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from exporter.adapters._common import (
    ABSENT,
    Adapter,
    Amount,
    CompletionTokensDetails,
    Count,
    Invalid,
    PromptTokensDetails,
    copy_strings,
    decode_raw,
    entity_name,
    error_code,
    never_raising,
    seconds,
    wanted_under,
)
from exporter.event import GatewayEvent, GuardrailEvaluation
from exporter.fields import TAG_PREFIX


class _UsageObject(msgspec.Struct):
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class _HiddenParams(msgspec.Struct):
    usage_object: _UsageObject | None = None


class _ErrorInformation(msgspec.Struct):
    error_code: str | int | float | None = None  # "429" today; a number in some versions
    error_class: str | None = None
    llm_provider: str | None = None  # empty when the proxy itself refused the request


class _StatusFields(msgspec.Struct):
    guardrail_status: str | None = None


class _Guardrail(msgspec.Struct):
    guardrail_name: str | None = None
    # A hook name, a list of them, or a tag-based mode object ({"tags": ..., "default": ...}).
    guardrail_mode: Any = None
    guardrail_status: str | None = None
    guardrail_action: str | None = None
    masked_entity_count: dict[str, Count | None] | None = None


class _Metadata(msgspec.Struct):
    # Any: a non-string here is not worth rejecting the record for; it is just not copied.
    user_api_key_team_alias: Any = None
    user_api_key_team_id: Any = None
    user_api_key_alias: Any = None
    user_api_key_org_id: Any = None
    spend_logs_metadata: msgspec.Raw = ABSENT
    requester_metadata: msgspec.Raw = ABSENT


class _Payload(msgspec.Struct):
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
    request_tags: msgspec.Raw = ABSENT
    error_information: _ErrorInformation | None = None
    status_fields: _StatusFields | None = None  # absent in old payloads
    hidden_params: _HiddenParams | None = None
    # null, one dict (older versions) or a list of them.
    guardrail_information: list[_Guardrail | None] | _Guardrail | None = None


# LiteLLM call types -> OpenTelemetry GenAI operation names.
_OPERATIONS = {
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
    return _STAGES.get(mode, "input") if isinstance(mode, str) else "input"


def _result(status: str | None, action: str | None, masked: bool, succeeded: bool) -> str:
    # Older LiteLLM documented "blocked" and "failure" for what are now "guardrail_intervened"
    # and "guardrail_failed_to_respond".
    if status in ("success", "passed"):
        return "passed"
    if status in ("guardrail_intervened", "blocked"):
        if not succeeded or (action is not None and action.upper() == "BLOCKED"):
            return "blocked"
        return "masked" if masked else "flagged"
    if status in ("guardrail_failed_to_respond", "failure"):
        return "failed_open" if succeeded else "failed_closed"
    # "not_run", and any status this version does not know: nothing says the guardrail judged
    # the request, and "flagged" or "failed_open" would invent a signal that is not there.
    return "not_run"


def _outcome(p: _Payload, guardrail_blocked: bool) -> str:
    if p.status == "success":
        return "success"
    err = p.error_information
    error_class = (err.error_class or "") if err is not None else ""
    if guardrail_blocked or "Guardrail" in error_class:
        return "guardrail_blocked"
    if err is None:
        return "gateway_error"
    code = error_code(err.error_code)
    provider = err.llm_provider
    if error_class == "BudgetExceededError" or (code == 429 and not provider):
        return "quota_exceeded"  # the proxy's own budget or rate limiter
    if code == 429:
        return "rate_limited"
    if code in (408, 504) or "Timeout" in error_class:
        return "timeout"
    if code >= 500:
        return "provider_error" if provider else "gateway_error"
    if 400 <= code < 500:
        return "client_error"
    return "gateway_error"


def build(paths: frozenset[str]) -> Adapter:
    decoder = msgspec.json.Decoder(_Payload, strict=False)
    metadata_fields = tuple(
        (f"metadata.{name}", name) for name in _METADATA_FIELDS if f"metadata.{name}" in paths
    )
    spend_logs_keys = wanted_under("metadata.spend_logs_metadata.", paths)
    requester_keys = wanted_under("metadata.requester_metadata.", paths)
    tag_keys = wanted_under(TAG_PREFIX, paths)

    def attributes_of(p: _Payload) -> dict[str, str]:
        attributes: dict[str, str] = {}
        md = p.metadata
        if md is not None:
            for path, name in metadata_fields:
                value = getattr(md, name)
                if value.__class__ is str and value:
                    attributes[path] = value
            if spend_logs_keys and md.spend_logs_metadata:
                copy_strings(decode_raw(md.spend_logs_metadata), spend_logs_keys, attributes)
            if requester_keys and md.requester_metadata:
                copy_strings(decode_raw(md.requester_metadata), requester_keys, attributes)
        if tag_keys and p.request_tags:
            tags = decode_raw(p.request_tags)
            if isinstance(tags, list):
                for tag in tags:
                    # "data-classification:confidential" -> tag.data-classification; first wins.
                    if tag.__class__ is str:
                        key, colon, value = tag.partition(":")
                        path = tag_keys.get(key.strip()) if colon else None
                        value = value.strip()
                        if path is not None and value and path not in attributes:
                            attributes[path] = value
        return attributes

    def convert(data: bytes) -> GatewayEvent:
        p = decoder.decode(data)
        model = p.model_group or p.model
        if not model:
            raise Invalid("no model: expected model_group or model")
        start = p.start_time if p.start_time is not None else p.end_time
        if start is None:
            raise Invalid("no start time: expected unix seconds at `$.startTime`")
        succeeded = p.status == "success"

        evaluations: list[GuardrailEvaluation] = []
        entities: dict[str, int] = {}
        blocked = False
        info = p.guardrail_information
        if info is not None:
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
                result = _result(g.guardrail_status, g.guardrail_action, masked, succeeded)
                blocked = blocked or result == "blocked"
                evaluations.append(
                    GuardrailEvaluation(
                        name=g.guardrail_name or "unknown", stage=_stage(g.guardrail_mode), result=result
                    )
                )
        if not succeeded and p.status_fields is not None:
            blocked = blocked or p.status_fields.guardrail_status == "guardrail_intervened"

        input_tokens = p.prompt_tokens or 0
        output_tokens = p.completion_tokens or 0
        cached = reasoning = 0
        usage = p.hidden_params.usage_object if p.hidden_params is not None else None
        if usage is not None:
            if usage.prompt_tokens_details is not None:
                cached = min(usage.prompt_tokens_details.cached_tokens or 0, input_tokens)
            if usage.completion_tokens_details is not None:
                reasoning = min(usage.completion_tokens_details.reasoning_tokens or 0, output_tokens)

        duration = ttft = None
        if p.start_time is not None:
            if p.end_time is not None:
                duration = seconds(p.end_time - p.start_time)
            if p.stream is True and p.completion_start_time is not None:
                ttft = seconds(p.completion_start_time - p.start_time)

        ident = p.id
        if ident is not None and ident.__class__ is not str:
            ident = str(ident)
        saved = p.saved_cache_cost
        return GatewayEvent(
            id=ident or None,
            timestamp=start,
            attributes=attributes_of(p),
            model=model,
            provider=(p.custom_llm_provider or "unknown").lower(),
            operation=_OPERATIONS.get(p.call_type, "other"),  # type: ignore[arg-type]
            outcome=_outcome(p, blocked),
            cache_hit=p.cache_hit is True,
            streaming=p.stream is True,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached,
            reasoning_tokens=reasoning,
            reported_cost_usd=p.response_cost,
            reported_cache_saved_usd=saved if saved else None,
            duration_seconds=duration,
            ttft_seconds=ttft,
            guardrails=tuple(evaluations),
            sensitive_entities=entities,
        )

    return never_raising(convert)
