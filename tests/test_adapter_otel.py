"""The OTel span adapter and the OTLP decoder, in process: every attribute name of the table in
docs/otlp-in.md, outcomes, classification, and properties over arbitrary input."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import catalog
from contract import spec as spec_model
from exporter.adapters import build_adapter
from exporter.adapters.otel import READ, SpanRecord
from exporter.event import GatewayEvent, Rejection
from exporter.otlp_receiver import JSON, PROTOBUF, MalformedRequestError, decode_traces
from tests.paths import EXAMPLE_SPEC
from tests.support.otlp import export_request, span

ADAPT = build_adapter("otel", {"resource.service.name", "span.gatewatch.team"})
BASE = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}


def adapt(attributes: dict[str, Any], **kwargs: Any) -> GatewayEvent | Rejection:
    return ADAPT(SpanRecord({"resource.service.name": "svc"}, span(attributes, **kwargs)))


def event(attributes: dict[str, Any], **kwargs: Any) -> GatewayEvent:
    result = adapt(attributes, **kwargs)
    assert isinstance(result, GatewayEvent), result
    return result


# (attributes, field, expected): each name a producer generation uses for each fact.
NAMES = [
    ({**BASE}, "provider", "openai"),
    ({**BASE, "gen_ai.provider.name": "azure.ai.openai"}, "provider", "azure"),
    ({"gen_ai.operation.name": "chat", "gen_ai.system": "OpenAI", "gen_ai.request.model": "m"}, "provider", "openai"),
    ({"gen_ai.operation.name": "chat", "gen_ai.system": "gcp.vertex_ai", "gen_ai.request.model": "m"},
     "provider", "vertex_ai"),
    ({**BASE, "gen_ai.response.model": "gpt-4o-2024-08-06"}, "model", "gpt-4o"),
    ({k: v for k, v in BASE.items() if k != "gen_ai.request.model"} | {"gen_ai.response.model": "r"}, "model", "r"),
    ({**BASE, "gen_ai.usage.input_tokens": 11}, "input_tokens", 11),
    ({**BASE, "gen_ai.usage.prompt_tokens": 12}, "input_tokens", 12),
    ({**BASE, "gen_ai.usage.output_tokens": 13}, "output_tokens", 13),
    ({**BASE, "gen_ai.usage.completion_tokens": 14}, "output_tokens", 14),
    ({**BASE, "gen_ai.usage.input_tokens": 50, "gen_ai.usage.cache_read.input_tokens": 5}, "cached_input_tokens", 5),
    ({**BASE, "gen_ai.usage.input_tokens": 50, "gen_ai.usage.cache_read_input_tokens": 6}, "cached_input_tokens", 6),
    ({**BASE, "gen_ai.usage.input_tokens": 50, "gen_ai.usage.cached_input_tokens": 7}, "cached_input_tokens", 7),
    ({**BASE, "gen_ai.usage.input_tokens": 3, "gen_ai.usage.cached_input_tokens": 7}, "cached_input_tokens", 3),
    ({**BASE, "gen_ai.usage.output_tokens": 50, "gen_ai.usage.reasoning.output_tokens": 8}, "reasoning_tokens", 8),
    ({**BASE, "gen_ai.usage.output_tokens": 50, "gen_ai.usage.reasoning_tokens": 9}, "reasoning_tokens", 9),
    ({**BASE, "gen_ai.usage.output_tokens": 50, "llm.usage.reasoning_tokens": 10}, "reasoning_tokens", 10),
    ({**BASE, "gen_ai.usage.output_tokens": 4, "llm.usage.reasoning_tokens": 10}, "reasoning_tokens", 4),
    ({**BASE, "gen_ai.usage.input_tokens": "15"}, "input_tokens", 15),
    ({**BASE, "gen_ai.request.stream": True}, "streaming", True),
    ({**BASE, "gen_ai.is_streaming": True}, "streaming", True),
    ({**BASE, "llm.is_streaming": True}, "streaming", True),
    ({**BASE}, "streaming", False),
    ({**BASE, "gen_ai.usage.cost": 0.25}, "reported_cost_usd", 0.25),
    ({**BASE, "gen_ai.cost.total_cost": 3.12e-05}, "reported_cost_usd", 3.12e-05),
    ({**BASE}, "reported_cost_usd", None),
    ({**BASE, "gen_ai.operation.name": "text_completion"}, "operation", "text_completion"),
    ({**BASE, "gen_ai.operation.name": "embeddings"}, "operation", "embeddings"),
    ({**BASE, "gen_ai.operation.name": "generate_content"}, "operation", "generate_content"),
    ({"llm.request.type": "completion", "gen_ai.system": "openai", "gen_ai.request.model": "m"},
     "operation", "text_completion"),
    ({"llm.request.type": "embedding", "gen_ai.system": "openai", "gen_ai.request.model": "m"},
     "operation", "embeddings"),
    ({**BASE, "gatewatch.team": "search"}, "attributes",
     {"resource.service.name": "svc", "span.gatewatch.team": "search"}),
]


@pytest.mark.parametrize(("attributes", "field", "expected"), NAMES)
def test_each_attribute_name_of_every_convention_release_is_read(
    attributes: dict[str, Any], field: str, expected: Any
) -> None:
    assert getattr(event(attributes), field) == expected


def test_duration_timestamp_and_id_come_from_the_span() -> None:
    result = event(BASE, duration=1.25, span_id=99)
    assert result.duration_seconds == pytest.approx(1.25)
    assert result.id == (99).to_bytes(16, "big").hex() + (99).to_bytes(8, "big").hex()
    assert result.timestamp == pytest.approx(1_790_000_001.25)


@pytest.mark.parametrize(("attributes", "events", "expected"), [
    ({**BASE, "gen_ai.request.stream": True, "gen_ai.response.time_to_first_chunk": 0.4}, (), 0.4),
    ({**BASE, "gen_ai.request.stream": True, "gen_ai.server.time_to_first_token": 0.3}, (), 0.3),
    ({**BASE, "llm.is_streaming": True}, (("llm.content.completion.chunk", 0.7), ("llm.content.completion.chunk", 0.9)),
     0.7),
    ({**BASE, "gen_ai.is_streaming": True}, (("gen_ai.content.completion.chunk", 0.2),), 0.2),
    ({**BASE, "gen_ai.is_streaming": True}, (("exception", 0.2),), None),
    ({**BASE}, (("gen_ai.content.completion.chunk", 0.2),), None),  # not streaming: no TTFT
])
def test_time_to_first_token_from_an_attribute_or_the_first_chunk_event(
    attributes: dict[str, Any], events: tuple[tuple[str, float], ...], expected: float | None
) -> None:
    got = event(attributes, events=events).ttft_seconds
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_a_failed_stream_has_no_time_to_first_token() -> None:
    attributes = {**BASE, "gen_ai.request.stream": True, "gen_ai.response.time_to_first_chunk": 0.4,
                  "error.type": "InternalServerError"}
    assert event(attributes, error=True).ttft_seconds is None


@pytest.mark.parametrize(("extra", "error", "outcome"), [
    ({}, False, "success"),
    ({"error.type": "RateLimitError"}, True, "rate_limited"),
    ({"error.type": "openai.RateLimitError"}, True, "rate_limited"),
    ({"error.type": "429"}, True, "rate_limited"),
    ({"error.type": "APITimeoutError"}, True, "timeout"),
    ({"error.type": "timeout"}, True, "timeout"),
    ({"error.type": "504"}, True, "timeout"),
    ({"error.type": "BadRequestError"}, True, "client_error"),
    ({"error.type": "AuthenticationError"}, True, "client_error"),
    ({"error.type": "404"}, True, "client_error"),
    ({"error.type": "InternalServerError"}, True, "provider_error"),
    ({"error.type": "500"}, True, "provider_error"),
    ({"error.type": "_OTHER"}, True, "provider_error"),
    ({"error.type": "ContentFilterError"}, True, "guardrail_blocked"),
    ({}, True, "provider_error"),  # status ERROR, nothing more said
    ({"http.response.status_code": 429}, False, "rate_limited"),
    ({"http.response.status_code": 200}, False, "success"),
])
def test_outcome_from_status_and_error_type(extra: dict[str, Any], error: bool, outcome: str) -> None:
    assert event({**BASE, **extra}, error=error).outcome == outcome
    assert outcome in catalog.OUTCOMES


@pytest.mark.parametrize(("attributes", "reason"), [
    ({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}, "gen_ai.request.model"),
    ({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}, "gen_ai.provider.name"),
    ({**BASE, "gen_ai.usage.input_tokens": -1}, "must not be negative"),
    ({**BASE, "gen_ai.usage.output_tokens": "many"}, "must be an integer"),
    ({**BASE, "gen_ai.usage.output_tokens": 1.5}, "must be an integer"),
])
def test_spans_missing_or_breaking_attributes_are_rejected_with_a_reason_naming_the_field(
    attributes: dict[str, Any], reason: str
) -> None:
    result = adapt(attributes)
    assert isinstance(result, Rejection) and reason in result.reason


@pytest.mark.parametrize("attributes", [
    {**BASE, "gen_ai.operation.name": "invoke_agent"},
    {**BASE, "gen_ai.operation.name": "execute_tool"},
    {**BASE, "gen_ai.operation.name": "create_agent"},
    {**BASE, "gen_ai.operation.name": "invoke_workflow"},
    {**BASE, "gen_ai.operation.name": "retrieval"},
    {**BASE, "traceloop.span.kind": "workflow"},
    {"llm.request.type": "chat", "traceloop.span.kind": "tool", "gen_ai.system": "openai", "gen_ai.request.model": "m"},
    {"http.request.method": "POST"},
])
def test_spans_that_are_not_model_calls_are_set_aside_not_rejected(attributes: dict[str, Any]) -> None:
    assert adapt(attributes) is None


def test_a_status_message_and_exception_events_are_never_read() -> None:
    secret = "leaked prompt: my card is 4111 1111 1111 1111"
    result = event({**BASE, "error.type": "BadRequestError", "gen_ai.input.messages": secret}, error=True,
                   status_message=secret, events=(("exception", 0.1),))
    assert secret not in repr(result)


# -- properties ----------------------------------------------------------------------------------

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_values = (st.text(max_size=10) | st.integers(-(2**63), 2**63 - 1) | st.booleans()
           | st.floats(allow_nan=True, allow_infinity=True))
_keys = st.sampled_from([
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model", "gen_ai.response.model",
    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.reasoning_tokens", "llm.request.type", "traceloop.span.kind", "gen_ai.request.stream",
    "gen_ai.response.time_to_first_chunk", "gen_ai.usage.cost", "error.type", "http.response.status_code",
    "gatewatch.team",
]) | st.text(max_size=8)


@EXAMPLES
@given(st.dictionaries(_keys, _values, max_size=10), st.booleans(), st.floats(-5, 5))
def test_any_span_gives_a_valid_event_or_a_rejection(attributes: dict[str, Any], error: bool, duration: float) -> None:
    result = adapt(attributes, error=error, duration=duration)
    if result is None:
        return
    if isinstance(result, Rejection):
        assert result.reason
        return
    assert result.outcome in catalog.OUTCOMES
    assert min(result.input_tokens, result.output_tokens, result.cached_input_tokens, result.reasoning_tokens) >= 0
    assert result.cached_input_tokens <= result.input_tokens and result.reasoning_tokens <= result.output_tokens
    assert result.duration_seconds is not None and result.duration_seconds >= 0
    assert result.model and result.provider and result.operation
    assert result.reported_cost_usd is None or result.reported_cost_usd >= 0
    assert set(result.attributes) <= {"resource.service.name", "span.gatewatch.team"}


@EXAMPLES
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused_as_malformed(data: bytes) -> None:
    for encoding in (PROTOBUF, JSON):
        try:
            decode_traces(data, encoding)
        except MalformedRequestError as err:
            assert str(err)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.floats(allow_nan=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "attributes", "key", "value",
                         "stringValue", "intValue", "startTimeUnixNano", "status", "code", "links"])
        | st.text(max_size=5),
        children, max_size=4),
    max_leaves=15,
)


@EXAMPLES
@given(_json)
def test_any_json_document_decodes_or_is_refused_as_malformed(document: Any) -> None:
    try:
        decode_traces(json.dumps(document).encode(), JSON)
    except MalformedRequestError as err:
        assert str(err)


@EXAMPLES
@given(st.dictionaries(_keys, _values.filter(lambda v: not (isinstance(v, float) and math.isnan(v))), max_size=10),
       st.booleans(),
       st.lists(st.tuples(st.sampled_from(["gen_ai.content.completion.chunk", "exception"]),
                          st.floats(0, 3)), max_size=3))
def test_otlp_json_and_protobuf_of_the_same_span_give_the_same_result(
    attributes: dict[str, Any], error: bool, events: list[tuple[str, float]]
) -> None:
    # OTLP/JSON as the protobuf JSON mapping writes it, with ids in hex as OTLP requires.
    proto = export_request([span(attributes, error=error, events=events)], {"service.name": "svc"})
    document = json_format.MessageToDict(proto)
    for item in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId"):
            item[key] = base64.b64decode(item[key]).hex()
    from_json = decode_traces(json.dumps(document).encode(), JSON)
    from_proto = decode_traces(proto.SerializeToString(), PROTOBUF)
    results = [ADAPT(SpanRecord({"resource.service.name": "svc"}, request.resource_spans[0].scope_spans[0].spans[0]))
               for request in (from_json, from_proto)]
    assert results[0] == results[1]


# -- the spec: which OTel context attribution may read, and which producer counts ---------------

@pytest.mark.parametrize(("paths", "valid"), [
    (["resource.service.namespace", "resource.k8s.namespace.name", "resource.deployment.environment"], True),
    (["span.gatewatch.team", "resource.team.name"], True),
    (["service.namespace"], False),  # resource. or span. must say where to read
    (["resource."], False),
    (["metadata.user_api_key_team_alias"], False),  # a LiteLLM field, not an OTel one
])
def test_otel_attribution_paths_name_a_resource_or_span_attribute(paths: list[str], valid: bool) -> None:
    text = EXAMPLE_SPEC.read_text().replace(
        "    team: [span.gatewatch.team, resource.service.namespace]", f"    team: [{', '.join(paths)}]")
    if valid:
        assert spec_model.parse(text).attribution["otel"].team == tuple(paths)
    else:
        with pytest.raises(spec_model.SpecError, match="expected a field the otel adapter reads"):
            spec_model.parse(text)


@pytest.mark.parametrize(("service", "scope", "signal"), [
    ("litellm-proxy", "any.scope", "none"),
    ("checkout", "opentelemetry.instrumentation.openai_v2", "spans"),
    ("envoy-ai-gateway", "envoy", "metrics"),
    ("envoy-ai-gateway-2", "other", "spans"),
])
def test_the_first_matching_source_says_which_signal_counts(service: str, scope: str, signal: str) -> None:
    otlp = spec_model.Otlp(sources=(
        spec_model.OtlpSource(service="litellm-proxy", signal="none"),
        spec_model.OtlpSource(service="envoy-*", scope="envoy", signal="metrics"),
    ))
    assert otlp.signal(service, scope) == signal


def test_the_docs_table_names_every_attribute_the_adapter_reads() -> None:
    text = (EXAMPLE_SPEC.parent / "docs" / "otlp-in.md").read_text()
    assert [name for name in sorted(READ) if f"`{name}`" not in text] == []
