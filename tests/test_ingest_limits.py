"""Bounded work per request: records per body, decompression ratio, connections and ingests in
flight, and error logs that cannot flood.

The amplification cases run against a real exporter: a 10 KB gzip body expanding to five million
one-character records is refused before one record is counted, and /metrics answers while such
a request is in flight. The saturation caps run against the server in-process with a pipeline
that holds its ingests until released, so "N in flight" is a fact of the test, not a timing.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import catalog
from contract.spec import load
from exporter.batch import TooManyRecords, split_body
from exporter.logs import ThrottledLog
from exporter.server import App, ExporterServer, parse_listen
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.processes import Exporter, request, start_exporter, total, wait_for

DEFAULTS = load(EXAMPLE_SPEC).ingest
BOMB = gzip.compress(b"1\n" * 5_000_000, 9)


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    running = start_exporter(tmp_path_factory.mktemp("limits"))
    yield running
    running.kill()


def counted(exporter: Exporter) -> float:
    return total(exporter.scrape(), "genai_exporter_events_total")


def refused(exporter: Exporter, reason: str) -> float:
    return total(exporter.scrape(), "genai_exporter_ingest_refused_total", reason=reason)


def test_a_gzip_bomb_of_tiny_records_is_refused_before_any_record_is_counted(exporter: Exporter) -> None:
    assert len(BOMB) < 16_000  # the 10 KB body
    before, bombs = counted(exporter), refused(exporter, "decompression_ratio")
    status, answer = exporter.post("events", BOMB, {"Content-Encoding": "gzip"})
    assert status == 413
    assert "max_decompression_ratio" in answer["error"]
    assert counted(exporter) == before
    assert refused(exporter, "decompression_ratio") == bombs + 1


@pytest.mark.parametrize("shape", ["ndjson", "array"])
def test_more_records_than_the_limit_are_refused_whole(exporter: Exporter, shape: str) -> None:
    count = DEFAULTS.max_records_per_body + 1
    body = b"1\n" * count if shape == "ndjson" else b"[" + b",".join([b"1"] * count) + b"]"
    before = counted(exporter)
    status, answer = exporter.post("events", body)
    assert status == 413
    assert "max_records_per_body" in answer["error"]
    assert counted(exporter) == before


def test_a_body_at_the_record_limit_is_counted_record_by_record(exporter: Exporter) -> None:
    before = counted(exporter)
    status, answer = exporter.post("events", b"1\n" * DEFAULTS.max_records_per_body)
    assert status == 202
    assert (answer["accepted"], answer["rejected"]) == (0, DEFAULTS.max_records_per_body)
    assert counted(exporter) == before + DEFAULTS.max_records_per_body


def test_metrics_answer_while_an_abusive_body_is_in_flight(exporter: Exporter) -> None:
    before = counted(exporter)
    with socket.create_connection((exporter.host, exporter.port), timeout=30) as sock:
        sock.sendall(b"POST /ingest/events HTTP/1.1\r\nHost: test\r\nContent-Encoding: gzip\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(BOMB) + BOMB[: len(BOMB) // 2])
        status, text, _ = request(exporter.url, "GET", "/metrics")  # the bomb is still arriving
        assert status == 200
        assert b"genai_exporter_events_total" in text
        sock.sendall(BOMB[len(BOMB) // 2:] + b"\r\n0\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert counted(exporter) == before


# -- saturation, in-process ----------------------------------------------------------------


class _HeldPipeline:
    """Holds every ingest until released, so a test knows exactly how many are in flight."""

    def __init__(self, **limits: int) -> None:
        spec = load(EXAMPLE_SPEC)
        self.spec = msgspec.structs.replace(spec, ingest=msgspec.structs.replace(spec.ingest, **limits))
        self.before_scrape: list[Any] = []
        self.release = threading.Event()
        self.in_flight = 0
        self._lock = threading.Lock()

    def ingest(self, records: list[bytes], fmt: str, source: str, position: Any = None) -> Any:
        with self._lock:
            self.in_flight += 1
        self.release.wait(30)
        return _Result(accepted=len(records))

    def scrape(self) -> bytes:
        return b"# scraped\n"


class _Result(msgspec.Struct):
    accepted: int
    rejected: int = 0
    duplicates: int = 0
    errors: list[Any] = msgspec.field(default_factory=list)


class _Recorder:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, tuple[str, ...]], float] = {}

    def inc(self, metric: catalog.Metric, labels: tuple[str, ...], value: float = 1.0) -> None:
        key = (metric.name, labels)
        self.counts[key] = self.counts.get(key, 0.0) + value


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[_HeldPipeline, App, str, ExporterServer]]:
    monkeypatch.delenv("GATEWATCH_INGEST_TOKEN", raising=False)
    pipeline = _HeldPipeline(max_concurrent_ingests=2, max_connections=4)
    app = App(pipeline)
    server = ExporterServer(parse_listen("127.0.0.1:0"), app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield pipeline, app, f"http://127.0.0.1:{server.server_address[1]}", server
    pipeline.release.set()
    server.shutdown()
    server.server_close()


def test_ingests_past_the_cap_get_429_with_retry_after_and_scrapes_still_answer(
    held: tuple[_HeldPipeline, App, str, ExporterServer],
) -> None:
    pipeline, app, url, _ = held
    answers: list[int] = []
    posts = [threading.Thread(target=lambda: answers.append(request(url, "POST", "/ingest/events", b"{}")[0]))
             for _ in range(2)]
    for thread in posts:
        thread.start()
    wait_for(lambda: pipeline.in_flight == 2, what="two ingests in flight")
    status, body, headers = request(url, "POST", "/ingest/events", b"{}")
    assert status == 429
    assert headers["retry-after"] == "1"
    assert b"retry later" in body
    assert request(url, "GET", "/metrics")[0] == 200
    pipeline.release.set()
    for thread in posts:
        thread.join(30)
    assert answers == [202, 202]
    assert request(url, "POST", "/ingest/events", b"{}")[0] == 202  # a slot is free again
    recorder = _Recorder()
    app.publish_refusals(recorder, pipeline.spec)  # type: ignore[arg-type]
    assert recorder.counts[(catalog.EXPORTER_INGEST_REFUSED.name, ("saturated_ingests",))] == 1.0


def test_connections_past_the_cap_get_503_with_retry_after(
    held: tuple[_HeldPipeline, App, str, ExporterServer],
) -> None:
    _, _, url, server = held
    host, port = server.server_address[:2]
    idle = [socket.create_connection((host, port), timeout=10) for _ in range(4)]
    try:
        wait_for(lambda: server._connections == 4, what="four connections admitted")
        with socket.create_connection((host, port), timeout=10) as extra:
            extra.sendall(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            answer = b""
            while piece := extra.recv(65536):
                answer += piece
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"Retry-After: 1\r\n" in answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"error": "too many open connections"}
    finally:
        for sock in idle:
            sock.close()
    wait_for(lambda: request(url, "GET", "/metrics")[0] == 200, what="a freed connection slot")


def test_a_repeated_error_is_logged_once_per_interval_with_the_count_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    throttled = ThrottledLog(logging.getLogger("gatewatch.test"), interval=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="gatewatch.test"):
        for _ in range(5):
            throttled.warning("k", "refused %d", 7)
        now[0] = 10.0
        throttled.warning("k", "refused %d", 7)
        throttled.warning("other", "another kind")
    assert [r.getMessage() for r in caplog.records] == [
        "refused 7",
        "refused 7 (4 more like this in the previous 10 s were not logged)",
        "another kind",
    ]


# -- the record limit on splitting, as a property ------------------------------------------

_ELEMENT = st.one_of(
    st.integers(-5, 5).map(lambda n: str(n).encode()),
    st.dictionaries(st.sampled_from(["a", "b,c", "d]"]), st.integers(0, 9), max_size=3).map(
        lambda d: json.dumps(d).encode()),
    st.text(alphabet=",[]{}\"x", max_size=4).map(lambda t: json.dumps(t).encode()),
)


@settings(max_examples=300, deadline=None)
@given(elements=st.lists(_ELEMENT, max_size=12), limit=st.integers(1, 8),
       shape=st.sampled_from(["array", "ndjson", "ndjson-blank-lines"]))
def test_the_record_limit_refuses_exactly_the_bodies_over_it_and_changes_no_split(
    elements: list[bytes], limit: int, shape: str,
) -> None:
    if shape == "array":
        body = b"[" + b",".join(elements) + b"]"
    else:
        separator = b"\n\n \n" if shape == "ndjson-blank-lines" else b"\n"
        body = separator.join(elements) + b"\n"
    unlimited = split_body(body)
    count = len(unlimited or [])
    if count > limit:
        with pytest.raises(TooManyRecords):
            split_body(body, limit)
    else:
        assert split_body(body, limit) == unlimited


@pytest.mark.slow
def test_the_request_path_benchmark_runs_and_prints_every_figure() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "request_path.py"), "--quick"],
                            capture_output=True, text=True, check=True, cwd=ROOT, timeout=600)
    for figure in ("F: read + orjson.loads", "strict framing checks", "split NDJSON batch", "split array batch",
                   "LiteLLM adapter, tolerant", "HTTP ingest, NDJSON", "HTTP ingest, gzip NDJSON"):
        assert figure in result.stdout, figure
