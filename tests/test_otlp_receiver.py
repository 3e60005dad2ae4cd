"""POST /v1/traces on a real exporter process: encodings, gzip, refusals, partial success,
retries, the spec's choice of producer, and attribution from OpenTelemetry context."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from contract import catalog
from tests.support.otlp import export_request, json_request, post_traces, span
from tests.support.processes import Exporter, clean_env, start_exporter, total

PROTOBUF, JSON = "application/x-protobuf", "application/json"
RESOURCE = {"service.name": "support-bot", "service.namespace": "support"}
EVENTS = catalog.EXPORTER_EVENTS.name
REFUSED = catalog.EXPORTER_OTLP_REFUSED.name


def chat(model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10, **extra}


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    process = start_exporter(tmp_path_factory.mktemp("otlp"))
    yield process
    process.stop()


def requests_for(exporter: Exporter, model: str, **labels: str) -> float:
    return total(exporter.scrape(), catalog.REQUESTS.name, model=model, **labels)


def response_of(body: bytes) -> ExportTraceServiceResponse:
    return ExportTraceServiceResponse.FromString(body)


def test_protobuf_spans_are_counted_and_answered_with_an_empty_response(exporter: Exporter) -> None:
    body = export_request([span(chat("otlp-proto")), span(chat("otlp-proto"))], RESOURCE).SerializeToString()
    status, answer, headers = post_traces(exporter.url, body)
    assert (status, headers["content-type"]) == (200, PROTOBUF)
    assert not response_of(answer).HasField("partial_success")
    assert requests_for(exporter, "otlp-proto", team="support", app="zendesk-assist", outcome="success") == 2


def test_otlp_json_with_hex_ids_string_integers_and_enum_numbers_is_read(exporter: Exporter) -> None:
    document = json_request([{"attributes": chat("otlp-json", **{"gen_ai.usage.input_tokens": 7})}], RESOURCE)
    status, answer, headers = post_traces(exporter.url, json.dumps(document).encode(), JSON)
    assert (status, headers["content-type"], json.loads(answer)) == (200, JSON, {})
    metrics = exporter.scrape()
    assert total(metrics, catalog.REQUESTS.name, model="otlp-json") == 1
    assert total(metrics, catalog.TOKENS.name, model="otlp-json", type="input") == 7


def test_gzip_bodies_are_read_in_both_encodings(exporter: Exporter) -> None:
    proto = export_request([span(chat("otlp-gzip"))], RESOURCE).SerializeToString()
    document = json.dumps(json_request([{"attributes": chat("otlp-gzip")}], RESOURCE)).encode()
    for body, content_type in ((proto, PROTOBUF), (document, JSON)):
        status, _, _ = post_traces(exporter.url, gzip.compress(body), content_type, {"Content-Encoding": "gzip"})
        assert status == 200
    assert requests_for(exporter, "otlp-gzip") == 2


@pytest.mark.parametrize(("body", "content_type", "status", "reason"), [
    (b"\xff\xff\xff\xff", PROTOBUF, 400, "malformed"),
    (b"{not json", JSON, 400, "malformed"),
    (b"[1, 2]", JSON, 400, "malformed"),
    (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}).encode(), JSON, 400,
     "malformed"),
    (json.dumps({"resourceSpans": "nope"}).encode(), JSON, 400, "malformed"),
    (b"{}", "text/plain", 415, "content_type"),
    (b"{}", "application/grpc", 415, "content_type"),
], ids=["bad-protobuf", "bad-json", "json-array", "bad-hex-id", "wrong-shape", "text-plain", "grpc"])
def test_undecodable_bodies_and_wrong_content_types_are_refused_and_counted(
    exporter: Exporter, body: bytes, content_type: str, status: int, reason: str
) -> None:
    before = total(exporter.scrape(), REFUSED, signal="traces", reason=reason)
    got, answer, _ = post_traces(exporter.url, body, content_type)
    assert got == status
    assert total(exporter.scrape(), REFUSED, signal="traces", reason=reason) == before + 1
    if status == 400 and content_type == JSON:
        assert json.loads(answer)["code"] == 3  # google.rpc.Status, INVALID_ARGUMENT


def test_a_400_for_protobuf_carries_a_protobuf_status(exporter: Exporter) -> None:
    status, answer, headers = post_traces(exporter.url, b"\x0a\xff\xff\xff\xff\x0f", PROTOBUF)
    assert (status, headers["content-type"]) == (400, PROTOBUF)
    # google.rpc.Status: field 1 code = 3, field 2 the message.
    assert answer[:2] == b"\x08\x03" and b"ExportTraceServiceRequest" in answer


def test_an_oversized_body_is_a_413_and_counted(tmp_path: Path) -> None:
    from tests.support.processes import spec_variant
    spec = spec_variant(tmp_path, {"max_body_bytes: 10485760": "max_body_bytes: 2048"})
    process = start_exporter(tmp_path, spec=spec)
    try:
        big = export_request([span(chat("otlp-big")) for _ in range(40)], RESOURCE).SerializeToString()
        assert len(big) > 2048
        assert post_traces(process.url, big)[0] == 413
        bomb = gzip.compress(big)
        assert len(bomb) < 2048
        assert post_traces(process.url, bomb, PROTOBUF, {"Content-Encoding": "gzip"})[0] == 413
        assert total(process.scrape(), REFUSED, signal="traces", reason="too_large") == 2
        assert total(process.scrape(), catalog.REQUESTS.name) == 0
    finally:
        process.stop()


def test_spans_missing_what_a_request_needs_are_rejected_by_reason_and_the_rest_counted(
    exporter: Exporter,
) -> None:
    no_model = {k: v for k, v in chat().items() if k != "gen_ai.request.model"}
    no_provider = {k: v for k, v in chat("otlp-partial").items() if k != "gen_ai.provider.name"}
    negative = chat("otlp-partial", **{"gen_ai.usage.output_tokens": -5})
    spans = [span(chat("otlp-partial")), span(no_model), span(no_provider), span(negative), span(no_model)]
    before = total(exporter.scrape(), EVENTS, source="otlp", result="rejected")
    status, answer, _ = post_traces(exporter.url, export_request(spans, RESOURCE).SerializeToString())
    assert status == 200
    partial = response_of(answer).partial_success
    assert partial.rejected_spans == 4
    assert partial.error_message.startswith("4 spans rejected: ")
    assert "span has no gen_ai.request.model or gen_ai.response.model (2)" in partial.error_message
    assert "gen_ai.provider.name" in partial.error_message and "must not be negative" in partial.error_message
    assert total(exporter.scrape(), EVENTS, source="otlp", result="rejected") == before + 4
    assert requests_for(exporter, "otlp-partial") == 1


def test_partial_success_in_json_uses_the_json_field_names(exporter: Exporter) -> None:
    document = json_request([{"attributes": {"gen_ai.operation.name": "chat"}}], RESOURCE)
    status, answer, _ = post_traces(exporter.url, json.dumps(document).encode(), JSON)
    assert status == 200
    partial = json.loads(answer)["partialSuccess"]
    assert partial["rejectedSpans"] == "1"  # int64 as a string
    assert "gen_ai.request.model" in partial["errorMessage"]


def test_a_retried_export_counts_each_span_once(exporter: Exporter) -> None:
    body = export_request([span(chat("otlp-retry"), span_id=424242)], RESOURCE).SerializeToString()
    for _ in range(3):
        assert post_traces(exporter.url, body)[0] == 200
    assert requests_for(exporter, "otlp-retry") == 1
    assert total(exporter.scrape(), EVENTS, source="otlp", result="duplicate") >= 2


@pytest.mark.parametrize("attributes", [
    {"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "otlp-wrapper", "gen_ai.provider.name": "x"},
    {"gen_ai.operation.name": "execute_tool", "gen_ai.request.model": "otlp-wrapper", "gen_ai.provider.name": "x"},
    {"traceloop.span.kind": "workflow", "llm.request.type": "chat", "gen_ai.request.model": "otlp-wrapper",
     "gen_ai.system": "x"},
    {"http.request.method": "POST"},
], ids=["agent", "tool", "openllmetry-workflow", "http"])
def test_spans_that_are_not_model_calls_are_ignored_and_counted_as_such(
    exporter: Exporter, attributes: dict[str, Any]
) -> None:
    before = total(exporter.scrape(), EVENTS, source="otlp", result="ignored")
    status, answer, _ = post_traces(exporter.url, export_request([span(attributes)], RESOURCE).SerializeToString())
    assert status == 200 and not response_of(answer).HasField("partial_success")
    assert total(exporter.scrape(), EVENTS, source="otlp", result="ignored") == before + 1
    assert requests_for(exporter, "otlp-wrapper") == 0


def test_a_producer_the_spec_does_not_count_is_ignored(exporter: Exporter) -> None:
    # ops.yaml: the LiteLLM proxy's own spans are not counted (its records are).
    body = export_request([span(chat("otlp-proxy"))], {"service.name": "litellm-proxy"}).SerializeToString()
    assert post_traces(exporter.url, body)[0] == 200
    assert requests_for(exporter, "otlp-proxy") == 0


def test_a_span_attribute_attributes_before_the_resource(exporter: Exporter) -> None:
    # span.gatewatch.team (baggage copied onto the span) wins over resource service.namespace.
    attributes = chat("otlp-baggage", **{"gatewatch.team": "team-1"})
    body = export_request([span(attributes)], RESOURCE).SerializeToString()
    assert post_traces(exporter.url, body)[0] == 200
    assert requests_for(exporter, "otlp-baggage", team="search", app="zendesk-assist") == 1


def test_a_span_without_team_context_is_unassigned_never_dropped(exporter: Exporter) -> None:
    body = export_request([span(chat("otlp-nobody"))], {"service.name": "unknown-svc"}).SerializeToString()
    assert post_traces(exporter.url, body)[0] == 200
    assert requests_for(exporter, "otlp-nobody", team=catalog.UNASSIGNED, app="unknown-svc") == 1


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    process = start_exporter(tmp_path_factory.mktemp("guarded"), env=clean_env(GATEWATCH_INGEST_TOKEN="s3cret"))
    yield process
    process.stop()


def test_the_ingest_token_guards_otlp_too(guarded: Exporter) -> None:
    body = export_request([span(chat("otlp-token"))], RESOURCE).SerializeToString()
    assert post_traces(guarded.url, body)[0] == 401
    assert post_traces(guarded.url, body, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert post_traces(guarded.url, body, headers={"Authorization": "Bearer s3cret"})[0] == 200
    metrics = guarded.scrape()
    assert total(metrics, REFUSED, signal="traces", reason="unauthorized") == 2
    assert total(metrics, catalog.REQUESTS.name, model="otlp-token") == 1


def test_metrics_answer_is_unchanged_by_a_json_roundtrip_of_the_same_spans(exporter: Exporter) -> None:
    # The same request in both encodings: protobuf's own JSON mapping, with ids turned to hex.
    proto = export_request([span(chat("otlp-same"), span_id=777_001)], RESOURCE)
    document = json_format.MessageToDict(proto)
    for item in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId"):
            item[key] = __import__("base64").b64decode(item[key]).hex()
    assert post_traces(exporter.url, proto.SerializeToString())[0] == 200
    assert post_traces(exporter.url, json.dumps(document).encode(), JSON)[0] == 200
    # Same trace and span id: the JSON copy is a duplicate of the protobuf one.
    assert requests_for(exporter, "otlp-same") == 1


def test_spans_say_nothing_of_guardrails_so_no_bypass_is_charged_but_model_policy_applies(exporter: Exporter) -> None:
    # search requires lakera-prompt-injection (ops.yaml); a span cannot say whether it ran.
    policy = catalog.POLICY_VIOLATIONS.name
    before = exporter.scrape()
    approved = chat("gpt-4o", **{"gatewatch.team": "search"})
    unapproved = chat("claude-haiku-3-5", **{"gatewatch.team": "search"})
    body = export_request([span(approved), span(unapproved)], RESOURCE).SerializeToString()
    assert post_traces(exporter.url, body)[0] == 200
    after = exporter.scrape()
    assert total(after, policy, team="search", policy="guardrail_bypass") == total(
        before, policy, team="search", policy="guardrail_bypass")
    assert total(after, catalog.GUARDRAIL_EVALUATIONS.name, team="search", result="not_run") == total(
        before, catalog.GUARDRAIL_EVALUATIONS.name, team="search", result="not_run")
    assert total(after, policy, team="search", policy="unapproved_model") == total(
        before, policy, team="search", policy="unapproved_model") + 1
