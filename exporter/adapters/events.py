"""gatewatch's own normalised event (``POST /ingest/events``) -> GatewayEvent.

For gateways gatewatch has no adapter for: the sender does the normalising and posts this
shape. ``NormalizedEvent`` is the published contract; ``docs/event-schema.json`` is generated
from it (``schema_json()``) and a test keeps the two equal. Unknown fields are ignored, so
senders may add fields before gatewatch reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

import msgspec

from contract import catalog
from exporter.adapters._common import ONE_OF_DOCUMENTED, Adapter, Count, entity_name, rejection
from exporter.event import GatewayEvent, GuardrailEvaluation, Rejection

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
# Decoded strictly (our own format: no "12" for 12), so a float cannot be NaN or infinite: JSON
# has no such literals and msgspec refuses out-of-range numbers.
Amount = Annotated[float, msgspec.Meta(ge=0)]


# Literal types built from the catalog: msgspec validates against them; a type checker cannot
# evaluate a starred Literal, so it sees plain strings.
if TYPE_CHECKING:
    Stage: TypeAlias = str
    Result: TypeAlias = str
    Outcome: TypeAlias = str
else:
    Stage = Literal[*catalog.GUARDRAIL_STAGES]
    Result = Literal[*catalog.GUARDRAIL_RESULTS]
    Outcome = Literal[*catalog.OUTCOMES]


def _doc(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class GuardrailResult(msgspec.Struct, kw_only=True):
    """One guardrail's verdict on the request."""

    name: Annotated[NonEmpty, _doc("The guardrail's name, as the spec's guardrail catalogue knows it.")]
    stage: Annotated[Stage, _doc("What it inspected: the prompt or the answer.")]
    result: Annotated[
        Result,
        _doc("failed_open: it did not answer and the request went on; failed_closed: it did not "
             "answer and the request was refused."),
    ]


class NormalizedEvent(msgspec.Struct, kw_only=True):
    """One gateway request, normalised by the sender. Unknown fields are ignored."""

    id: Annotated[
        str | None, _doc("The request's id. A retried post with an id already seen counts once.")
    ] = None
    timestamp: Annotated[Amount, _doc("When the request started, Unix seconds.")]
    team: Annotated[str | None, _doc("The team, raw: mapped through the spec's team aliases.")] = None
    app: Annotated[str | None, _doc("The app or API key name, raw: mapped through the spec's app aliases.")] = None
    classification: Annotated[
        str | None, _doc("The data classification level the request carries; absent means the spec's default.")
    ] = None
    model: Annotated[NonEmpty, _doc("The model as the gateway named it; provider prefixes and dates are fine.")]
    provider: Annotated[NonEmpty, _doc("The provider, e.g. openai, anthropic, vertex_ai.")]
    operation: Annotated[
        NonEmpty, _doc("OpenTelemetry GenAI operation: chat, text_completion, embeddings, ...")
    ] = "chat"
    outcome: Annotated[Outcome, _doc("How the request ended.")]
    cache_hit: Annotated[bool, _doc("Answered from the gateway's cache.")] = False
    streaming: Annotated[bool, _doc("The answer was streamed.")] = False
    input_tokens: Annotated[Count, _doc("All input tokens, cached ones included.")] = 0
    output_tokens: Annotated[Count, _doc("All output tokens, reasoning ones included.")] = 0
    cached_input_tokens: Annotated[Count, _doc("Input tokens served from the provider's prompt cache.")] = 0
    reasoning_tokens: Annotated[Count, _doc("Output tokens spent on reasoning.")] = 0
    cost_usd: Annotated[
        Amount | None, _doc("What the request cost, USD; absent means price it from the spec's table.")
    ] = None
    cache_saved_usd: Annotated[Amount | None, _doc("What a cache hit saved, USD.")] = None
    duration_seconds: Annotated[Amount | None, _doc("Whole-request latency, seconds.")] = None
    ttft_seconds: Annotated[Amount | None, _doc("Time to first token, seconds (streaming requests).")] = None
    guardrails: list[GuardrailResult] = []
    sensitive_entities: Annotated[
        dict[str, Count],
        _doc("PII / DLP entities detected, by type (email, phone_number, ...): counts, never values."),
    ] = {}


def schema_json() -> bytes:
    """The JSON Schema of NormalizedEvent, as committed in docs/event-schema.json."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **msgspec.json.schema(NormalizedEvent)}
    return msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n"


# The enumerated fields: a rejection can name the values they take (ours, never the record's).
_ALLOWED = {
    "outcome": catalog.OUTCOMES,
    "stage": catalog.GUARDRAIL_STAGES,
    "result": catalog.GUARDRAIL_RESULTS,
}


def _rejection(exc: Exception) -> Rejection:
    rejected = rejection(exc)
    if rejected.reason.startswith(ONE_OF_DOCUMENTED):
        allowed = _ALLOWED.get(rejected.reason.rpartition(".")[2].rstrip("`"))
        if allowed is not None:
            return Rejection(f"Expected one of {', '.join(allowed)}{rejected.reason[len(ONE_OF_DOCUMENTED):]}")
    return rejected


def build(paths: frozenset[str]) -> Adapter:
    decode = msgspec.json.Decoder(NormalizedEvent).decode
    copied: tuple[str, ...] = tuple(name for name in ("team", "app", "classification") if name in paths)

    def adapter(data: bytes) -> GatewayEvent | Rejection:
        try:
            e = decode(data)
            attributes: dict[str, str] = {}
            for name in copied:
                value = getattr(e, name)
                if value:
                    attributes[name] = value
            entities: dict[str, int] = {}
            for kind, count in e.sensitive_entities.items():
                if count:
                    name = entity_name(kind)
                    entities[name] = entities.get(name, 0) + count
            return GatewayEvent(
                id=e.id or None,
                timestamp=e.timestamp,
                attributes=attributes,
                model=e.model,
                provider=e.provider.lower(),
                operation=e.operation,
                outcome=e.outcome,
                cache_hit=e.cache_hit,
                streaming=e.streaming,
                input_tokens=e.input_tokens,
                output_tokens=e.output_tokens,
                cached_input_tokens=min(e.cached_input_tokens, e.input_tokens),
                reasoning_tokens=min(e.reasoning_tokens, e.output_tokens),
                reported_cost_usd=e.cost_usd,
                reported_cache_saved_usd=e.cache_saved_usd,
                duration_seconds=e.duration_seconds,
                ttft_seconds=e.ttft_seconds,
                guardrails=tuple(
                    GuardrailEvaluation(name=g.name, stage=g.stage, result=g.result) for g in e.guardrails
                ),
                sensitive_entities=entities,
            )
        except Exception as exc:
            return _rejection(exc)

    return adapter
