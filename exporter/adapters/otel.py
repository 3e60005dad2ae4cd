"""OpenTelemetry GenAI spans -> GatewayEvent.

A span is a model call when its ``gen_ai.operation.name`` is an inference operation (chat,
text_completion, embeddings, generate_content, …), or, for producers older than that attribute,
when OpenLLMetry's ``llm.request.type`` names one. Agent, tool, workflow and retrieval spans are
not model calls: ``classify`` says so and they are never turned into events.

Only the attribute keys in the tables below, and the attribution keys the spec names, are ever
read; every other attribute (message content, tool-call arguments) is skipped by its key and its
value is never turned into a Python object. The span's status description and its events'
attributes (exception messages can echo the provider's error body, and so the prompt) are never
read either: an event's name and time are all that time to first token needs.

Attribute names of the current and previous semantic-convention releases are accepted, first
listed first; docs/otlp-in.md has the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from contract import fields
from exporter.adapters._common import RecordError, rejection
from exporter.event import GatewayEvent, Rejection

# Attribution paths: "resource.<key>" reads a resource attribute, "span.<key>" a span attribute
# (baggage copied onto spans by a BaggageSpanProcessor arrives as the latter).
RESOURCE_PREFIX = "resource."
SPAN_PREFIX = "span."

OPERATION = fields.OTEL_OPERATION
OPENLLMETRY_REQUEST_TYPE = fields.OTEL_OPENLLMETRY_REQUEST_TYPE
OPENLLMETRY_SPAN_KIND = fields.OTEL_OPENLLMETRY_SPAN_KIND
MODEL_OPERATIONS = fields.OTEL_MODEL_OPERATIONS
OPENLLMETRY_OPERATIONS = fields.OTEL_OPENLLMETRY_OPERATIONS
OPENLLMETRY_WRAPPERS = frozenset(fields.OTEL_OPENLLMETRY_WRAPPERS)

# Each fact, by the attribute names that carry it, newest convention first.
PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
REQUEST_MODEL = ("gen_ai.request.model",)
RESPONSE_MODEL = ("gen_ai.response.model",)
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHED_INPUT_TOKENS = (
    "gen_ai.usage.cache_read.input_tokens",  # semantic conventions 1.37 on
    "gen_ai.usage.cache_read_input_tokens",  # OpenLLMetry, OpenLIT
    "gen_ai.usage.cached_input_tokens",
)
REASONING_TOKENS = (
    "gen_ai.usage.reasoning.output_tokens",  # semantic conventions 1.38 on
    "gen_ai.usage.reasoning_tokens",  # OpenLLMetry 0.4x on
    "llm.usage.reasoning_tokens",  # OpenLLMetry before
)
STREAMING = ("gen_ai.request.stream", "gen_ai.is_streaming", "llm.is_streaming")
TTFT_SECONDS = ("gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token")
# The conventions define no cost attribute: OpenLIT's, and LiteLLM's OpenTelemetry callback's.
COST_USD = ("gen_ai.usage.cost", "gen_ai.cost.total_cost")
ERROR_TYPE = ("error.type",)
HTTP_STATUS = ("http.response.status_code", "http.status_code")
# Events a producer adds when the first streamed chunk arrives; only their time is read.
FIRST_CHUNK_EVENTS = frozenset({"gen_ai.content.completion.chunk", "llm.content.completion.chunk",
                                "gen_ai.first_token"})

_CLASSIFYING = (OPERATION, OPENLLMETRY_REQUEST_TYPE, OPENLLMETRY_SPAN_KIND)
READ = frozenset((
    *_CLASSIFYING, *PROVIDER, *REQUEST_MODEL, *RESPONSE_MODEL, *INPUT_TOKENS, *OUTPUT_TOKENS,
    *CACHED_INPUT_TOKENS, *REASONING_TOKENS, *STREAMING, *TTFT_SECONDS, *COST_USD, *ERROR_TYPE, *HTTP_STATUS,
))

# Provider names of the conventions -> the names the gateways' records use, so that the same
# traffic has one provider label whichever way it arrives.
PROVIDERS = {
    "azure.ai.openai": "azure", "az.ai.openai": "azure", "azure.ai.inference": "azure_ai",
    "az.ai.inference": "azure_ai", "gcp.vertex_ai": "vertex_ai", "gcp.gemini": "gemini",
    "gcp.gen_ai": "vertex_ai", "aws.bedrock": "bedrock", "x_ai": "xai", "mistral_ai": "mistral",
    "ibm.watsonx.ai": "watsonx",
}

# error.type -> outcome. The value is an exception class name or an HTTP status, depending on
# the producer; anything not listed that still marks an error is the provider's.
_ERROR_OUTCOMES = {
    "ratelimiterror": "rate_limited",
    "timeout": "timeout", "apitimeouterror": "timeout", "timeouterror": "timeout", "readtimeout": "timeout",
    "connecttimeout": "timeout", "deadline_exceeded": "timeout",
    "badrequesterror": "client_error", "authenticationerror": "client_error",
    "permissiondeniederror": "client_error", "notfounderror": "client_error",
    "unprocessableentityerror": "client_error", "conflicterror": "client_error",
    "contentfiltererror": "guardrail_blocked",
}
_STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR


class SpanRecord(NamedTuple):
    """One span with what the adapter needs from around it.

    ``resource`` holds only the resource attributes attribution reads, already as strings.
    """

    resource: dict[str, str]
    span: Any  # opentelemetry.proto.trace.v1.trace_pb2.Span


def _scalar(value: Any) -> object:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    return None  # arrays, maps and bytes carry nothing read here


def read_attributes(key_values: Iterable[Any], wanted: frozenset[str]) -> dict[str, object]:
    """The ``wanted`` keys' scalar values; other values are never materialised."""
    out: dict[str, object] = {}
    for kv in key_values:
        key = kv.key
        if key in wanted:
            out[key] = _scalar(kv.value)
    return out


def classify(attributes: dict[str, object]) -> str | None:
    """The operation label of a model-call span, or None for any other span."""
    if attributes.get(OPENLLMETRY_SPAN_KIND) in OPENLLMETRY_WRAPPERS:
        return None
    operation = attributes.get(OPERATION)
    if isinstance(operation, str) and operation:
        return MODEL_OPERATIONS.get(operation)
    request_type = attributes.get(OPENLLMETRY_REQUEST_TYPE)
    if isinstance(request_type, str):
        return OPENLLMETRY_OPERATIONS.get(request_type)
    return None


def _first(attributes: dict[str, object], names: tuple[str, ...]) -> object:
    for name in names:
        value = attributes.get(name)
        if value is not None and value != "":
            return value
    return None


def _text(attributes: dict[str, object], names: tuple[str, ...]) -> str | None:
    value = _first(attributes, names)
    return value if isinstance(value, str) else None


def _count(attributes: dict[str, object], names: tuple[str, ...]) -> int:
    value = _first(attributes, names)
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().isdigit():  # some producers stringify
        value = int(value)
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int:
        raise RecordError(f"{names[0]} must be an integer")
    if value < 0:
        raise RecordError(f"{names[0]} must not be negative")
    return value


def _seconds(attributes: dict[str, object], names: tuple[str, ...]) -> float | None:
    value = _first(attributes, names)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value < 1e6 else None


def _flag(attributes: dict[str, object], names: tuple[str, ...]) -> bool:
    value = _first(attributes, names)
    return value is True or (isinstance(value, str) and value.lower() == "true")


def provider_name(raw: str) -> str:
    name = raw.strip().lower()
    return PROVIDERS.get(name, name)


def outcome(span: Any, attributes: dict[str, object]) -> str:
    """success, or the contract's outcome for a failed call (status code and error.type only)."""
    return outcome_of(attributes, failed=span.status.code == _STATUS_ERROR)


def outcome_of(attributes: dict[str, object], *, failed: bool = False) -> str:
    """The outcome from ``error.type`` and an HTTP status among ``attributes`` (a span's or a
    metric data point's); ``failed`` when something else already says the call failed."""
    error_type = _first(attributes, ERROR_TYPE)
    status = _first(attributes, HTTP_STATUS)
    failed = failed or error_type is not None
    if not failed and not (isinstance(status, int) and status >= 400):
        return "success"
    code = status if isinstance(status, int) else 0
    if isinstance(error_type, str):
        name = error_type.rsplit(".", 1)[-1].strip().lower()
        if name.isdigit() and len(name) == 3:
            code = code or int(name)
        elif name in _ERROR_OUTCOMES:
            return _ERROR_OUTCOMES[name]
    if code == 429:
        return "rate_limited"
    if code in (408, 504):
        return "timeout"
    if 400 <= code < 500:
        return "client_error"
    return "provider_error"


def _first_chunk_seconds(span: Any) -> float | None:
    start = span.start_time_unix_nano
    for event in span.events:
        if event.name in FIRST_CHUNK_EVENTS and event.time_unix_nano >= start:
            seconds: float = (event.time_unix_nano - start) / 1e9
            return seconds
    return None


def build(attribute_paths: frozenset[str]) -> Any:
    """The adapter: SpanRecord -> GatewayEvent, Rejection, or None for a span that is not a model
    call (the pipeline counts it as ignored)."""
    span_keys = {p[len(SPAN_PREFIX):]: p for p in attribute_paths if p.startswith(SPAN_PREFIX)}
    wanted = READ | frozenset(span_keys)
    resource_paths = tuple(p for p in attribute_paths if p.startswith(RESOURCE_PREFIX))

    def adapt(record: SpanRecord) -> GatewayEvent | Rejection | None:
        try:
            span = record.span
            attributes = read_attributes(span.attributes, wanted)
            operation = classify(attributes)
            if operation is None:
                return None  # not a model call: set aside, not rejected
            model = _text(attributes, REQUEST_MODEL) or _text(attributes, RESPONSE_MODEL)
            if model is None:
                raise RecordError("span has no gen_ai.request.model or gen_ai.response.model")
            provider = _text(attributes, PROVIDER)
            if provider is None:
                raise RecordError("span has no gen_ai.provider.name or gen_ai.system")
            start, end = span.start_time_unix_nano, span.end_time_unix_nano
            if not start or end < start:
                raise RecordError("span has no start time or ends before it starts")
            labels: dict[str, str] = {}
            for path in resource_paths:
                value = record.resource.get(path)
                if value:
                    labels[path] = value
            for key, path in span_keys.items():
                span_value = attributes.get(key)
                if isinstance(span_value, str) and span_value:
                    labels[path] = span_value
            result = outcome(span, attributes)
            streaming = _flag(attributes, STREAMING)
            ttft = None
            if streaming and result == "success":
                ttft = _seconds(attributes, TTFT_SECONDS)
                if ttft is None:
                    ttft = _first_chunk_seconds(span)
            input_tokens = _count(attributes, INPUT_TOKENS)
            output_tokens = _count(attributes, OUTPUT_TOKENS)
            # Subsets of input and output, as the contract defines them: more is drift between a
            # producer's counters, not extra usage.
            cached = min(_count(attributes, CACHED_INPUT_TOKENS), input_tokens)
            reasoning = min(_count(attributes, REASONING_TOKENS), output_tokens)
            cost = _first(attributes, COST_USD)
            reported_cost = float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) \
                and 0 <= cost < 1e12 else None
            return GatewayEvent(
                span.trace_id.hex() + span.span_id.hex(),
                end / 1e9,
                labels,
                model,
                provider_name(provider),
                operation,
                result,
                False,
                streaming,
                input_tokens,
                output_tokens,
                cached,
                reasoning,
                reported_cost,
                None,
                (end - start) / 1e9,
                ttft,
            )
        except Exception as exc:
            return rejection(exc)

    return adapt
