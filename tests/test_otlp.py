"""The OTLP push: what an OTLP/HTTP receiver gets from the fixture records, and how the sink
behaves when the receiver fails, refuses or is gone.

Expected values are worked out by hand from tests/fixtures (record numbers as in its README):
LiteLLM L1..L10, Kong K1..K6.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from contract import spec as spec_module
from exporter.otlp import HEADERS_ENV, OtlpSink, metrics_url, parse_headers
from exporter.otlp_encode import encode
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from tests.paths import EXAMPLE_SPEC, KONG_FIXTURE, LITELLM_FIXTURE

SPEC = spec_module.load(EXAMPLE_SPEC)
START = 1_790_000_000.0
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
TOKEN_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
DURATION_BOUNDS = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0]


# --- a small OTLP/HTTP receiver --------------------------------------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    request: ExportMetricsServiceRequest


@dataclass
class Receiver:
    url: str
    got: list[Received] = field(default_factory=list)
    # Answers, in order: a status, or (status, headers, body); 200 once they run out.
    script: list[int | tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, limit: float = 10.0) -> None:
        deadline = time.monotonic() + limit
        while len(self.got) < count:
            assert time.monotonic() < deadline, f"receiver got {len(self.got)} exports, waited for {count}"
            time.sleep(0.01)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            with state.lock:
                reply = state.script.pop(0) if state.script else 200
                state.got.append(
                    Received(self.path, dict(self.headers.items()), ExportMetricsServiceRequest.FromString(body))
                )
            status, headers, answer = reply if isinstance(reply, tuple) else (reply, {}, b"")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


# --- helpers ---------------------------------------------------------------------------------

def fixture_pipeline() -> Pipeline:
    pipeline = Pipeline(SPEC, recorder=Recorder(token_usage_histogram=True, clock=lambda: START))
    litellm = pipeline.ingest(LITELLM_FIXTURE.read_bytes().splitlines(), "litellm", "http")
    kong = pipeline.ingest(KONG_FIXTURE.read_bytes().splitlines(), "kong", "http")
    assert (litellm.accepted, kong.accepted) == (10, 6)
    return pipeline


def sink(receiver: Receiver, pipeline: Pipeline, **options: object) -> OtlpSink:
    settings: dict[str, object] = {
        "headers": {}, "clock": lambda: START + 60, "instance_id": "exporter-1:9464", "retry_initial": 0.01,
    }
    settings.update(options)
    return OtlpSink(receiver.url, pipeline, **settings)  # type: ignore[arg-type]


def metrics(request: ExportMetricsServiceRequest) -> dict[str, Any]:
    (resource_metrics,) = request.resource_metrics
    (scope_metrics,) = resource_metrics.scope_metrics
    return {m.name: m for m in scope_metrics.metrics}


def attrs(point: Any) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in point.attributes}


def points(request: ExportMetricsServiceRequest, name: str) -> list[Any]:
    metric = metrics(request)[name]
    kind = metric.WhichOneof("data")
    return list(getattr(metric, kind).data_points)


@pytest.fixture
def pushed(receiver: Receiver) -> ExportMetricsServiceRequest:
    assert sink(receiver, fixture_pipeline()).push_once() is True
    assert len(receiver.got) == 1
    return receiver.got[0].request


# --- what the receiver gets ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("provider", "model", "token_type", "count", "total", "bucket_counts"),
    [
        # L1 812, K1 14, K2 120; L2, L10 and K6 carry no tokens and are not observed.
        ("openai", "gpt-4o", "input", 3, 946, [0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        # L1 164 in (64, 256]; K1 21 and K2 60 in (16, 64]
        ("openai", "gpt-4o", "output", 3, 245, [0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        # L3 2048, K4 900, K5 410
        ("anthropic", "claude-sonnet-4", "input", 3, 3358, [0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
        # L3 512, K5 150; the K4 stream reported 0 output tokens
        ("anthropic", "claude-sonnet-4", "output", 2, 662, [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        # L5 350, K3 300 (both cache hits)
        ("openai", "gpt-4o-mini", "input", 2, 650, [0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("openai", "o3", "output", 1, 2400, [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("azure", "gpt-4o", "input", 1, 640, [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ],
)
def test_token_usage_histogram_per_model_and_type(
    pushed: ExportMetricsServiceRequest, provider: str, model: str, token_type: str,
    count: int, total: int, bucket_counts: list[int],
) -> None:
    metric = metrics(pushed)["gen_ai.client.token.usage"]
    assert metric.unit == "{token}"
    assert metric.histogram.aggregation_temporality == CUMULATIVE
    (point,) = [
        p for p in points(pushed, "gen_ai.client.token.usage")
        if attrs(p) == {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
            "gen_ai.request.model": model, "gen_ai.token.type": token_type,
        }
    ]
    assert (point.count, point.sum) == (count, total)
    assert list(point.bucket_counts) == bucket_counts
    assert list(point.explicit_bounds) == TOKEN_BOUNDS


def test_token_usage_has_embeddings_input_only(pushed: ExportMetricsServiceRequest) -> None:
    embeddings = [p for p in points(pushed, "gen_ai.client.token.usage")
                  if attrs(p)["gen_ai.operation.name"] == "embeddings"]
    assert [(attrs(p)["gen_ai.token.type"], p.count, p.sum) for p in embeddings] == [("input", 1, 1200)]


@pytest.mark.parametrize(
    ("team", "model", "provider", "outcome", "count", "total"),
    [
        ("search", "gpt-4o", "openai", "success", 3, 2.41 + 2.67 + 1.2),   # L1, K1, K2
        ("search", "gpt-4o", "openai", "rate_limited", 1, 0.21),           # L2
        ("search", "gpt-4o", "openai", "provider_error", 1, 1.2),          # L10
        ("support", "claude-sonnet-4", "anthropic", "success", 3, 6.8 + 4.1 + 3.0),  # L3, K4, K5
        ("support", "claude-sonnet-4", "anthropic", "guardrail_blocked", 1, 0.05),   # L4
        ("analytics", "gemini-2.5-pro", "vertex_ai", "timeout", 1, 30.0),  # L7
        ("research", "gpt-4o", "openai", "guardrail_blocked", 1, 0.04),    # K6
    ],
)
def test_operation_duration(
    pushed: ExportMetricsServiceRequest, team: str, model: str, provider: str, outcome: str,
    count: int, total: float,
) -> None:
    expected = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model,
        "gatewatch.team": team,
    }
    if outcome != "success":
        expected["error.type"] = outcome
    (point,) = [p for p in points(pushed, "gen_ai.client.operation.duration") if attrs(p) == expected]
    assert point.count == count
    assert point.sum == pytest.approx(total, abs=1e-5)


def test_duration_buckets_and_unit(pushed: ExportMetricsServiceRequest) -> None:
    metric = metrics(pushed)["gen_ai.client.operation.duration"]
    assert metric.unit == "s"
    (point,) = [p for p in points(pushed, "gen_ai.client.operation.duration")
                if attrs(p).get("gatewatch.team") == "search" and attrs(p)["gen_ai.request.model"] == "gpt-4o"
                and "error.type" not in attrs(p)]
    assert list(point.explicit_bounds) == DURATION_BOUNDS
    # 1.2 s falls in (1, 2]; 2.41 s and 2.67 s in (2, 4].
    assert list(point.bucket_counts) == [0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0]
    # 16 records, each with a duration.
    assert sum(p.count for p in points(pushed, "gen_ai.client.operation.duration")) == 16


def test_error_type_only_on_failures(pushed: ExportMetricsServiceRequest) -> None:
    error_types = sorted(attrs(p).get("error.type", "-") for p in points(pushed, "gen_ai.client.operation.duration"))
    assert "success" not in error_types
    # Failures: L2 rate_limited, L4 and K6 guardrail_blocked (two teams), L7 timeout, L10 provider_error.
    assert [e for e in error_types if e != "-"] == [
        "guardrail_blocked", "guardrail_blocked", "provider_error", "rate_limited", "timeout",
    ]


def test_time_to_first_chunk(pushed: ExportMetricsServiceRequest) -> None:
    got = {
        (attrs(p)["gatewatch.team"], attrs(p)["gen_ai.request.model"]): (p.count, round(p.sum, 4))
        for p in points(pushed, "gen_ai.client.operation.time_to_first_chunk")
    }
    # L1 0.38 s + K1 0.631 s; L3 0.9 s + K4 0.8 s; L8 14.2 s.
    assert got == {
        ("search", "gpt-4o"): (2, 1.011), ("support", "claude-sonnet-4"): (2, 1.7), ("search", "o3"): (1, 14.2),
    }


def test_cost_per_team(pushed: ExportMetricsServiceRequest) -> None:
    metric = metrics(pushed)["gatewatch.gen_ai.cost"]
    assert metric.unit == "USD"
    assert metric.sum.is_monotonic
    assert metric.sum.aggregation_temporality == CUMULATIVE
    per_team: dict[str, float] = {}
    for p in points(pushed, "gatewatch.gen_ai.cost"):
        per_team[attrs(p)["gatewatch.team"]] = per_team.get(attrs(p)["gatewatch.team"], 0.0) + p.as_double
    assert per_team == pytest.approx({
        "search": 0.00367 + 0.0222 + 0.00037 + 0.0009,      # L1, L8, K1, K2
        "support": 0.013824 + 0.0036 + 0.0027 + 0.00348,    # L3, L9, K4, K5
        "analytics": 0.0,                                   # L5 cache hit, L7 timeout
        "research": 0.0,                                    # K6 blocked
        "__unassigned__": 0.000024,                         # L6
    })


def test_request_counts(pushed: ExportMetricsServiceRequest) -> None:
    requests = points(pushed, "gatewatch.gen_ai.requests")
    assert sum(p.as_int for p in requests) == 16
    (search_ok,) = [p for p in requests if attrs(p) == {
        "gatewatch.team": "search", "gatewatch.app": "search-api", "gen_ai.request.model": "gpt-4o",
        "gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat", "gatewatch.outcome": "success",
        "gatewatch.cache": "miss",
    }]
    assert search_ok.as_int == 3
    hits = sorted(attrs(p)["gatewatch.team"] for p in requests if attrs(p)["gatewatch.cache"] == "hit")
    assert hits == ["analytics", "support"]  # L5, K3


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("gen_ai.client.token.usage",
         {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.token.type"}),
        ("gen_ai.client.operation.duration",
         {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gatewatch.team", "error.type"}),
        ("gen_ai.client.operation.time_to_first_chunk",
         {"gen_ai.provider.name", "gen_ai.request.model", "gatewatch.team"}),
        ("gatewatch.gen_ai.cost",
         {"gatewatch.team", "gatewatch.app", "gen_ai.request.model", "gen_ai.provider.name"}),
        ("gatewatch.gen_ai.requests",
         {"gatewatch.team", "gatewatch.app", "gen_ai.request.model", "gen_ai.provider.name",
          "gen_ai.operation.name", "gatewatch.outcome", "gatewatch.cache"}),
    ],
)
def test_attribute_names(pushed: ExportMetricsServiceRequest, name: str, keys: set[str]) -> None:
    seen = set().union(*(attrs(p) for p in points(pushed, name)))
    assert seen == keys


def test_only_the_documented_instruments(pushed: ExportMetricsServiceRequest) -> None:
    assert sorted(metrics(pushed)) == [
        "gatewatch.gen_ai.cost", "gatewatch.gen_ai.requests", "gen_ai.client.operation.duration",
        "gen_ai.client.operation.time_to_first_chunk", "gen_ai.client.token.usage",
    ]


def test_resource_and_timestamps(pushed: ExportMetricsServiceRequest) -> None:
    resource = {kv.key: kv.value.string_value for kv in pushed.resource_metrics[0].resource.attributes}
    assert resource["service.name"] == "gatewatch-exporter"
    assert resource["service.instance.id"] == "exporter-1:9464"
    assert resource["service.version"]
    assert resource["gatewatch.spec.hash"] == spec_module.spec_hash(SPEC)
    assert len(resource["gatewatch.spec.hash"]) == 16
    for name in metrics(pushed):
        for p in points(pushed, name):
            assert p.start_time_unix_nano == 1_790_000_000 * 10**9
            assert p.time_unix_nano == 1_790_000_060 * 10**9


def test_request_headers(receiver: Receiver) -> None:
    assert sink(receiver, fixture_pipeline(), headers={"x-tenant": "acme"}).push_once()
    got = receiver.got[0]
    assert got.path == "/v1/metrics"
    assert got.headers["Content-Type"] == "application/x-protobuf"
    assert got.headers["Content-Encoding"] == "gzip"
    assert got.headers["x-tenant"] == "acme"


def test_uncompressed(receiver: Receiver) -> None:
    assert sink(receiver, fixture_pipeline(), compress=False).push_once()
    assert "Content-Encoding" not in receiver.got[0].headers
    assert "gen_ai.client.token.usage" in metrics(receiver.got[0].request)


def test_cumulative_across_pushes(receiver: Receiver) -> None:
    pipeline = fixture_pipeline()
    clock = iter([START + 15, START + 30])
    otlp = sink(receiver, pipeline, clock=lambda: next(clock))
    assert otlp.push_once()
    # L1 again under a new id: one more gpt-4o request with 812 input tokens and $0.00367.
    again = json.loads(LITELLM_FIXTURE.read_bytes().splitlines()[0])
    again["id"] = "chatcmpl-100001"
    assert pipeline.ingest([json.dumps(again).encode()], "litellm", "http").accepted == 1
    assert otlp.push_once()

    def gpt4o_input(request: ExportMetricsServiceRequest) -> tuple[int, float, int, int]:
        (p,) = [p for p in points(request, "gen_ai.client.token.usage") if attrs(p) == {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.token.type": "input"}]
        return p.count, p.sum, p.start_time_unix_nano, p.time_unix_nano

    def search_cost(request: ExportMetricsServiceRequest) -> float:
        return sum(p.as_double for p in points(request, "gatewatch.gen_ai.cost")
                   if attrs(p)["gatewatch.team"] == "search")

    first, second = (r.request for r in receiver.got)
    assert gpt4o_input(first) == (3, 946, int(START * 1e9), int((START + 15) * 1e9))
    assert gpt4o_input(second) == (4, 946 + 812, int(START * 1e9), int((START + 30) * 1e9))
    assert search_cost(second) - search_cost(first) == pytest.approx(0.00367)


def test_module_level_encode_round_trips() -> None:
    pipeline = fixture_pipeline()
    body = encode(pipeline.recorder, now=START + 5, resource={"service.name": "x"})
    request = ExportMetricsServiceRequest.FromString(body)
    assert sum(p.as_int for p in points(request, "gatewatch.gen_ai.requests")) == 16


def test_empty_state_sends_a_request_without_metrics(receiver: Receiver) -> None:
    pipeline = Pipeline(SPEC, recorder=Recorder(token_usage_histogram=True))
    assert sink(receiver, pipeline).push_once()
    assert metrics(receiver.got[0].request) == {}


# --- failures, retries, refusals --------------------------------------------------------------

@pytest.mark.parametrize(
    ("script", "result", "attempts"),
    [
        ([503], True, 2),            # retried, then accepted
        ([429], True, 2),
        ([500, 502], True, 3),
        ([400], False, 1),           # refused: dropped, not retried
        ([401], False, 1),
        ([404], False, 1),
        ([413], False, 1),
    ],
)
def test_retry_policy(receiver: Receiver, script: list[int], result: bool, attempts: int) -> None:
    receiver.script = list(script)
    assert sink(receiver, fixture_pipeline(), interval=5.0).push_once() is result
    assert len(receiver.got) == attempts
    # A retry resends the same export.
    assert len({r.request.SerializeToString() for r in receiver.got}) == 1


def test_retries_stop_at_the_next_interval(receiver: Receiver) -> None:
    receiver.script = [503] * 1000
    assert sink(receiver, fixture_pipeline(), interval=0.3, retry_initial=0.05).push_once() is False
    assert 1 < len(receiver.got) < 1000


def test_retry_after_beyond_the_next_export_gives_up(receiver: Receiver) -> None:
    receiver.script = [(503, {"Retry-After": "3600"}, b"")]
    assert sink(receiver, fixture_pipeline(), interval=5.0).push_once() is False
    assert len(receiver.got) == 1


def test_partial_success_warned_once(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="gatewatch")
    partial = ExportMetricsServiceResponse(
        partial_success=ExportMetricsPartialSuccess(rejected_data_points=3, error_message="unit not allowed")
    ).SerializeToString()
    receiver.script = [(200, {}, partial), (200, {}, partial)]
    otlp = sink(receiver, fixture_pipeline())
    assert otlp.push_once() and otlp.push_once()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "rejected 3 data point(s): unit not allowed" in warnings[0]


def test_refusal_logged_once_per_status(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="gatewatch")
    receiver.script = [401, 401, 403]
    otlp = sink(receiver, fixture_pipeline())
    assert [otlp.push_once() for _ in range(3)] == [False, False, False]
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 2
    assert "HTTP 401" in refusals[0] and "HTTP 403" in refusals[1]


def closed_port() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    return int(port)


def test_unreachable_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="gatewatch")
    otlp = OtlpSink(f"http://127.0.0.1:{closed_port()}", fixture_pipeline(), interval=0.2, retry_initial=0.02,
                    headers={})
    assert otlp.push_once() is False
    assert otlp.push_once() is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "failed after" in r.getMessage()]
    assert len(warnings) == 1  # the second failure of the streak is not repeated at warning level


def test_header_values_never_logged(
    receiver: Receiver, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="gatewatch")
    monkeypatch.setenv(HEADERS_ENV, "Authorization=Bearer%20s3cr3t-token,x-scope=s3cr3t-scope,s3cr3t-bare")
    receiver.script = [401, 503]
    otlp = OtlpSink(receiver.url, fixture_pipeline(), interval=1.0, retry_initial=0.01)
    assert otlp.push_once() is False     # 401: refused and logged
    assert otlp.push_once() is True      # 503 then 200
    server_down = OtlpSink(f"http://127.0.0.1:{closed_port()}/otlp?token=s3cr3t-query", fixture_pipeline(),
                           interval=0.1, retry_initial=0.02)
    assert server_down.push_once() is False
    assert receiver.got[0].headers["authorization"] == "Bearer s3cr3t-token"
    assert receiver.got[0].headers["x-scope"] == "s3cr3t-scope"
    assert caplog.records, "the refusal and the failure must be logged"
    assert "s3cr3t" not in caplog.text


def test_endpoint_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match=HEADERS_ENV) as raised:
        OtlpSink("https://user:s3cr3t@collector:4318", fixture_pipeline(), headers={})
    assert "s3cr3t" not in str(raised.value)


# --- the push loop ---------------------------------------------------------------------------

def test_start_pushes_periodically_and_stop_makes_a_final_push(receiver: Receiver) -> None:
    pipeline = fixture_pipeline()
    otlp = OtlpSink(receiver.url, pipeline, interval=0.05, headers={}, instance_id="loop")
    otlp.start()
    receiver.wait_for(2)
    late = json.loads(LITELLM_FIXTURE.read_bytes().splitlines()[7])  # L8: o3, 1500 input tokens
    late["id"] = "chatcmpl-200008"
    assert pipeline.ingest([json.dumps(late).encode()], "litellm", "http").accepted == 1
    otlp.stop()
    assert not otlp._thread.is_alive()
    pushes = len(receiver.got)
    (o3,) = [p for p in points(receiver.got[-1].request, "gen_ai.client.token.usage")
             if attrs(p)["gen_ai.request.model"] == "o3" and attrs(p)["gen_ai.token.type"] == "input"]
    assert (o3.count, o3.sum) == (2, 3000)
    time.sleep(0.2)
    assert len(receiver.got) == pushes  # nothing after stop
    otlp.stop()  # idempotent
    assert len(receiver.got) == pushes


# --- endpoint and header parsing -------------------------------------------------------------

@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/metrics"),
        ("http://collector:4318/", "http://collector:4318/v1/metrics"),
        ("http://collector:4318/v1/metrics", "http://collector:4318/v1/metrics"),
        ("https://otlp.example/otlp", "https://otlp.example/otlp/v1/metrics"),
        ("https://otlp.example/otlp/v1/metrics/", "https://otlp.example/otlp/v1/metrics"),
    ],
)
def test_metrics_url(endpoint: str, url: str) -> None:
    assert metrics_url(endpoint) == url


@pytest.mark.parametrize("endpoint", ["collector:4318", "ftp://collector/", "http://", "grpc://collector:4317"])
def test_metrics_url_rejects(endpoint: str) -> None:
    with pytest.raises(ValueError, match="http"):
        metrics_url(endpoint)


@pytest.mark.parametrize(
    ("text", "headers"),
    [
        ("", {}),
        ("api-key=abc", {"api-key": "abc"}),
        ("Authorization=Basic%20dXNlcjpwYXNz, X-Scope-OrgID = tenant-1",
         {"authorization": "Basic dXNlcjpwYXNz", "x-scope-orgid": "tenant-1"}),
        ("a=1,,b=2,", {"a": "1", "b": "2"}),
        ("k=v=w", {"k": "v=w"}),                     # only the first = separates
        ("novalue,ok=1", {"ok": "1"}),               # a member without = is skipped
        ("bad name=1,ok=2", {"ok": "2"}),            # not a header token
        ("crlf=a%0D%0AX-Injected: 1,ok=3", {"ok": "3"}),
        ("dup=1,DUP=2", {"dup": "2"}),               # names are case-insensitive; last wins
        ("utf8=caf%C3%A9,ok=4", {"utf8": "café", "ok": "4"}),   # decodes to Latin-1: sendable
        ("greek=%CE%BB,bad=%FF%FE,ok=5", {"ok": "5"}),  # not Latin-1, not UTF-8: skipped
    ],
)
def test_parse_headers(text: str, headers: dict[str, str]) -> None:
    assert parse_headers(text) == headers


_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
# What HTTP can carry in a header value: printable Latin-1.
_VALUES = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=40)


@given(st.dictionaries(_NAMES, _VALUES, max_size=6))
def test_parse_headers_round_trips_percent_encoded_values(headers: dict[str, str]) -> None:
    text = ",".join(f"{name}={quote(value, safe='')}" for name, value in headers.items())
    assert parse_headers(text) == headers


@given(st.text(max_size=200))
def test_parse_headers_never_yields_an_unsendable_header(text: str) -> None:
    for name, value in parse_headers(text).items():
        assert name and all(c.isascii() and c.isprintable() and c not in " ,=" for c in name)
        assert value.isprintable() or value == ""
        value.encode("latin-1")
