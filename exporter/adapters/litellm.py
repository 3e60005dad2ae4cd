"""LiteLLM proxy ``StandardLoggingPayload`` (what its generic HTTP logger posts) -> GatewayEvent.

The decoder Structs name only the fields gatewatch reads; msgspec skips everything else (prompt
and response text included) without building objects. Fields whose shape drifted between LiteLLM
versions are unions. The metadata dicts a spec may read keys of are decoded only when it does,
and then only those keys (``build`` derives the decoder type from the attribute paths).
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
from exporter.fields import TAG_PREFIX


class _UsageObject(Decoded):
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class _HiddenParams(Decoded):
    usage_object: _UsageObject | None = None


class _ErrorInformation(Decoded):
    error_code: str | int | float | None = None  # "429" today; a number in some versions
    error_class: str | None = None
    llm_provider: str | None = None  # empty when the proxy itself refused the request


class _StatusFields(Decoded):
    guardrail_status: str | None = None


class _Guardrail(Decoded):
    guardrail_name: str | None = None
    # A hook name, a list of them, or a tag-based mode object ({"tags": ..., "default": ...}).
    guardrail_mode: Any = None
    guardrail_status: str | None = None
    guardrail_action: str | None = None
    masked_entity_count: dict[str, Count | None] | None = None


class _Metadata(Decoded):
    # Any: a non-string here is not worth rejecting the record for; it is just not copied.
    user_api_key_team_alias: Any = None
    user_api_key_team_id: Any = None
    user_api_key_alias: Any = None
    user_api_key_org_id: Any = None
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
    return _STAGES.get(mode, "input") if mode.__class__ is str else "input"


def _result(status: str | None, action: str | None, masked: bool, succeeded: bool, guardrail_error: bool) -> str:
    # Older LiteLLM documented "blocked" and "failure" for what are now "guardrail_intervened"
    # and "guardrail_failed_to_respond".
    if status in ("success", "passed"):
        return "passed"
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


def _guardrails(
    info: list[_Guardrail | None] | _Guardrail, succeeded: bool, guardrail_error: bool
) -> tuple[tuple[GuardrailEvaluation, ...], dict[str, int]]:
    evaluations = []
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
        evaluations.append(
            GuardrailEvaluation(
                g.guardrail_name or "unknown",
                _stage(g.guardrail_mode),
                _result(g.guardrail_status, g.guardrail_action, masked, succeeded, guardrail_error),
            )
        )
    return tuple(evaluations), entities


def _stopped_by_guardrail(p: _Payload) -> bool:
    """A failed request that a guardrail stopped: a guardrail exception, or the proxy itself (no
    provider named) failing it while the summary status says a guardrail intervened (older
    versions raise a plain HTTPException 400). A guardrail that only masked PII on a request the
    provider then failed did not stop it."""
    if p.status == "success":
        return False
    err = p.error_information
    if err is not None and "Guardrail" in (err.error_class or ""):
        return True
    intervened = p.status_fields is not None and p.status_fields.guardrail_status == "guardrail_intervened"
    return intervened and (err is None or not err.llm_provider)


def _failure_outcome(p: _Payload, guardrails: tuple[GuardrailEvaluation, ...]) -> str:
    err = p.error_information
    error_class = (err.error_class or "") if err is not None else ""
    if _stopped_by_guardrail(p) or any(g.result == "blocked" for g in guardrails):
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


def _decoder_type(spend_logs_keys: dict[str, str], requester_keys: dict[str, str]) -> tuple[type[_Payload], Any, Any]:
    """The payload type to decode, with the metadata dicts the spec reads decoded key by key."""
    if not spend_logs_keys and not requester_keys:
        return _Payload, (), ()
    fields = []
    spend_logs_pairs = requester_pairs = ()
    if spend_logs_keys:
        spend_logs_type, spend_logs_pairs = picker("_SpendLogsMetadata", spend_logs_keys)
        fields.append(("spend_logs_metadata", spend_logs_type, None))
    if requester_keys:
        requester_type, requester_pairs = picker("_RequesterMetadata", requester_keys)
        fields.append(("requester_metadata", requester_type, None))
    metadata = msgspec.defstruct("_Metadata", fields, bases=(_Metadata,))
    payload = msgspec.defstruct("_Payload", [("metadata", metadata | None, None)], bases=(_Payload,))
    return payload, spend_logs_pairs, requester_pairs


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

            input_tokens = p.prompt_tokens or 0
            output_tokens = p.completion_tokens or 0
            cached = reasoning = 0
            hidden = p.hidden_params
            if hidden is not None and hidden.usage_object is not None:
                usage = hidden.usage_object
                details = usage.prompt_tokens_details
                if details is not None and details.cached_tokens:
                    # More cached than input is drift between counters, not an error.
                    cached = details.cached_tokens if details.cached_tokens < input_tokens else input_tokens
                details = usage.completion_tokens_details
                if details is not None and details.reasoning_tokens:
                    reasoning = details.reasoning_tokens if details.reasoning_tokens < output_tokens else output_tokens

            succeeded = p.status == "success"
            info = p.guardrail_information
            if info is None:
                guardrails: tuple[GuardrailEvaluation, ...] = ()
                entities: dict[str, int] = {}
            else:
                # A failure with no other cause given is the guardrail's doing.
                stopped = not succeeded and (p.error_information is None or _stopped_by_guardrail(p))
                guardrails, entities = _guardrails(info, succeeded, stopped)

            attributes: dict[str, str] = {}
            md = p.metadata
            if copies_metadata and md is not None:
                for path, name in metadata_fields:
                    value = getattr(md, name)
                    if value.__class__ is str and value:
                        attributes[path] = value
                if spend_logs_pairs:
                    copy_strings(md.spend_logs_metadata, spend_logs_pairs, attributes)
                if requester_pairs:
                    copy_strings(md.requester_metadata, requester_pairs, attributes)
            if tag_keys and p.request_tags.__class__ is list:
                for tag in p.request_tags:
                    # "data-classification:confidential" -> tag.data-classification; first wins.
                    if tag.__class__ is str and ":" in tag:
                        key, _, value = tag.partition(":")
                        path = tag_keys.get(key.strip())
                        if path is not None and path not in attributes:
                            value = value.strip()
                            if value:
                                attributes[path] = value

            ident = p.id
            if ident is not None and ident.__class__ is not str:
                ident = str(ident)
            saved = p.saved_cache_cost
            return GatewayEvent(
                ident or None,  # id
                start,  # timestamp
                attributes,  # attributes
                model,  # model
                (p.custom_llm_provider or "unknown").lower(),  # provider
                _OPERATIONS.get(p.call_type, "other"),  # operation
                "success" if succeeded else _failure_outcome(p, guardrails),  # outcome
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
            )
        except Exception as exc:
            return rejection(exc)

    return adapter
