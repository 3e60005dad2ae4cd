"""POST /v1/metrics: real producers' GenAI metrics, cumulative and delta, into a real exporter,
equal to what the fake upstream served; cumulative streams differenced; bad points counted."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from contract import catalog
from contract.spec import Spec, load
from exporter.otlp_metrics import Point, Streams
from tests.paths import EXAMPLE_SPEC
from tests.support import fake_openai
from tests.support.otlp import key_values
from tests.support.processes import Exporter, request, spec_variant, start_exporter, total
from tests.support.producers import PRODUCERS, run_app

SERVICE = "support-bot"  # an alias of the app zendesk-assist, team support
OUTCOME_OF_STATUS = {200: "success", 429: "rate_limited", 500: "provider_error", 400: "client_error"}
RUNS = [(PRODUCERS[0], "cumulative"), (PRODUCERS[0], "delta"), (PRODUCERS[1], "cumulative"),
        (PRODUCERS[2], "delta")]
ROUNDS = 2  # the app flushes its metrics after each round: cumulative points must be differenced


def metrics_spec(directory: Path) -> Path:
    return spec_variant(directory, {
        "    - {service: litellm-proxy, signal: none}":
            f"    - {{service: litellm-proxy, signal: none}}\n    - {{service: {SERVICE}, signal: metrics}}",
    })


def _canonical(spec: Spec, model: str) -> str:
    for listed in spec.models:
        if model in (listed.name, *listed.aliases):
            return listed.name
    return model


@pytest.mark.slow
@pytest.mark.parametrize(("producer", "temporality"), RUNS, ids=[f"{p.name}-{t}" for p, t in RUNS])
def test_a_real_producer_s_metrics_give_the_requests_and_tokens_the_upstream_served(
    tmp_path: Path, producer: object, temporality: str
) -> None:
    spec = load(EXAMPLE_SPEC)
    upstream = fake_openai.start()
    exporter = start_exporter(tmp_path, spec=metrics_spec(tmp_path))
    try:
        # Spans are exported too: the spec counts this service's metrics, so its spans must not
        # count a second time.
        run_app(producer, upstream=upstream.url, endpoint=exporter.url, spans_out=tmp_path / "spans.json",
                service_name=SERVICE, metrics=temporality, rounds=ROUNDS)
        metrics = exporter.scrape()
    finally:
        exporter.stop()
        upstream.close()
    served = upstream.served
    assert len(served) == 8 * ROUNDS
    failed = [s for s in served if s.status != 200]
    events = catalog.EXPORTER_EVENTS.name
    if not producer.failures_name_the_model:
        # This producer's failure points carry error.type only: rejected with that reason and
        # counted (once per exported point: a cumulative point is exported again at every flush).
        assert total(metrics, events, source="otlp", format="otel_metrics", result="rejected") >= len(failed) / ROUNDS
        served = [s for s in served if s.status == 200]
    got: Counter[tuple[str, str, str]] = Counter()
    for (name, labels), value in metrics.items():
        if name == catalog.REQUESTS.name and value:
            got[(dict(labels)["model"], dict(labels)["operation"], dict(labels)["outcome"])] += int(value)
    assert got == Counter(
        (_canonical(spec, s.model), "embeddings" if s.path.endswith("/embeddings") else "chat",
         OUTCOME_OF_STATUS[s.status]) for s in served)
    assert total(metrics, catalog.REQUESTS.name, team="support", app="zendesk-assist") == len(served)
    ok = [s for s in served if s.status == 200]
    if producer.failures_name_the_model:
        assert total(metrics, events, source="otlp", format="otel_metrics", result="rejected") == 0
    assert total(metrics, catalog.TOKENS.name, type="input") == sum(s.prompt_tokens for s in ok)
    assert total(metrics, catalog.TOKENS.name, type="output") == sum(s.completion_tokens for s in ok)
    # Metrics carry no cached tokens: input is priced at the input rate.
    expected_cost = 0.0
    for s in ok:
        listed = spec.model(_canonical(spec, s.model))
        if listed is not None:
            expected_cost += (s.prompt_tokens * listed.price.input_per_mtok
                              + s.completion_tokens * listed.price.output_per_mtok) / 1e6
    assert total(metrics, catalog.COST.name) == pytest.approx(expected_cost, rel=1e-9)
    assert total(metrics, catalog.EXPORTER_UNPRICED.name, model="slow-gpt-4o-mini") == ROUNDS
    assert total(metrics, events, source="otlp", format="otel", result="accepted") == 0
    assert total(metrics, events, source="otlp", format="otel", result="ignored") == 9 * ROUNDS


@pytest.mark.parametrize(("steps", "expected"), [
    # (start_ns, count, sum) points of one stream; the process started at 100.
    ([(150, 3, 30.0)], [(3, 30.0)]),  # started after the process: all of it is new
    ([(50, 3, 30.0)], [(0, 0.0)]),  # started before: a baseline, of unknown history
    ([(50, 3, 30.0), (50, 5, 70.0)], [(0, 0.0), (2, 40.0)]),
    ([(150, 3, 30.0), (150, 3, 30.0)], [(3, 30.0), (0, 0.0)]),
    ([(150, 3, 30.0), (200, 1, 5.0)], [(3, 30.0), (1, 5.0)]),  # new start time: restarted
    ([(150, 3, 30.0), (150, 1, 5.0)], [(3, 30.0), (1, 5.0)]),  # count went down: restarted
])
def test_cumulative_points_become_increments(steps: list[tuple[int, int, float]],
                                             expected: list[tuple[int, float]]) -> None:
    streams = Streams(process_start_ns=100)
    assert [tuple(streams.increment(("k",), start, Point(count, value))) for start, count, value in steps] == expected


def _metrics_request(points: list[dict[str, object]], service: str = SERVICE) -> ExportMetricsServiceRequest:
    out = ExportMetricsServiceRequest()
    resource_metrics = out.resource_metrics.add()
    resource_metrics.resource.attributes.extend(key_values({"service.name": service}))
    metric = resource_metrics.scope_metrics.add().metrics.add()
    metric.name = "gen_ai.client.token.usage"
    metric.histogram.aggregation_temporality = 1  # delta
    for attributes in points:
        point = metric.histogram.data_points.add(start_time_unix_nano=1, time_unix_nano=2, count=1, sum=50.0)
        point.attributes.extend(key_values(attributes))  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Exporter:
    directory = tmp_path_factory.mktemp("metrics")
    process = start_exporter(directory, spec=metrics_spec(directory))
    yield process  # type: ignore[misc]
    process.stop()


def post(exporter: Exporter, body: bytes, content_type: str = "application/x-protobuf") -> tuple[int, bytes]:
    status, answer, _ = request(exporter.url, "POST", "/v1/metrics", body, {"Content-Type": content_type})
    return status, answer


def test_points_missing_model_or_token_type_are_rejected_in_a_partial_success(exporter: Exporter) -> None:
    good = {"gen_ai.request.model": "m-metrics", "gen_ai.provider.name": "openai", "gen_ai.token.type": "input"}
    no_model = {k: v for k, v in good.items() if k != "gen_ai.request.model"}
    no_type = {k: v for k, v in good.items() if k != "gen_ai.token.type"}
    status, answer = post(exporter, _metrics_request([good, no_model, no_type]).SerializeToString())
    assert status == 200
    partial = ExportMetricsServiceResponse.FromString(answer).partial_success
    assert partial.rejected_data_points == 2
    assert "gen_ai.request.model" in partial.error_message and "gen_ai.token.type" in partial.error_message
    metrics = exporter.scrape()
    assert total(metrics, catalog.TOKENS.name, model="m-metrics", type="input") == 50
    assert total(metrics, catalog.EXPORTER_EVENTS.name, format="otel_metrics", result="rejected") == 2


def test_metrics_from_a_producer_the_spec_counts_by_spans_are_ignored(exporter: Exporter) -> None:
    point = {"gen_ai.request.model": "m-spans-only", "gen_ai.provider.name": "openai", "gen_ai.token.type": "input"}
    status, _ = post(exporter, _metrics_request([point], service="checkout").SerializeToString())
    assert status == 200
    assert total(exporter.scrape(), catalog.TOKENS.name, model="m-spans-only") == 0


def test_otlp_json_metrics_are_read_and_bad_bodies_refused(exporter: Exporter) -> None:
    document = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": SERVICE}}]},
        "scopeMetrics": [{"metrics": [{"name": "gen_ai.client.operation.duration", "histogram": {
            "aggregationTemporality": 1, "dataPoints": [{
                "startTimeUnixNano": "1", "timeUnixNano": "2", "count": "4", "sum": 2.5,
                "bucketCounts": ["4"], "explicitBounds": [],
                "exemplars": [{"spanId": "0102030405060708", "traceId": "0102030405060708090a0b0c0d0e0f10"}],
                "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "m-json"}},
                               {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                               {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                               {"key": "error.type", "value": {"stringValue": "RateLimitError"}}],
            }]}}]}],
    }]}
    assert post(exporter, json.dumps(document).encode(), "application/json")[0] == 200
    assert total(exporter.scrape(), catalog.REQUESTS.name, model="m-json", outcome="rate_limited") == 4
    assert post(exporter, b"\xff\xff", "application/x-protobuf")[0] == 400
    assert post(exporter, b"{}", "text/plain")[0] == 415
    assert total(exporter.scrape(), catalog.EXPORTER_OTLP_REFUSED.name, signal="metrics") == 2
