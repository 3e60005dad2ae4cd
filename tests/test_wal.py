"""The write-ahead log: replay after a snapshot's seq, group commit, and a disk that refuses."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from contract import catalog
from contract.fields import OTEL
from contract.spec import load
from exporter import wal as wal_module
from exporter.pipeline import NotDurable, Pipeline, Totals
from exporter.recorder import Recorder
from exporter.server import App, ExporterServer, parse_listen
from exporter.state import StateStore
from exporter.wal import WriteAheadLog
from tests.paths import EXAMPLE_SPEC
from tests.support.processes import request

SPEC = load(EXAMPLE_SPEC)
NOW = 1_790_000_100.0


def _append(log: WriteAheadLog, n: int) -> int:
    return log.append("litellm", "http", None, rejected=n, duplicates=0, events=[], digests=[])


def test_replay_returns_exactly_the_entries_after_the_snapshot_seq(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path)
    list(log.replay(0))
    for n in range(1, 6):
        log.sync(_append(log, n))
        if n == 3:
            log.rotate()
    log.close()
    again = WriteAheadLog(tmp_path)
    assert [e.rejected for e in again.replay(2)] == [3, 4, 5]
    assert again.last_seq == 5
    again.truncate(3)  # the first segment held seqs 1-3: gone; the second stays
    assert [e.seq for e in WriteAheadLog(tmp_path).replay(0)] == [4, 5]


def test_group_commit_shares_one_sync_among_writers_waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = WriteAheadLog(tmp_path)
    list(log.replay(0))
    release = threading.Event()
    calls: list[int] = []
    real = os.fdatasync

    def slow_sync(fd: int) -> None:
        calls.append(fd)
        release.wait(10)
        real(fd)

    monkeypatch.setattr(wal_module.os, "fdatasync", slow_sync)
    first = threading.Thread(target=log.sync, args=(_append(log, 1),))
    first.start()
    while not calls:
        pass
    # Written while the first sync runs: one more sync covers all three.
    marks = [_append(log, 2), _append(log, 3)]
    waiters = [threading.Thread(target=log.sync, args=(m,)) for m in marks]
    for w in waiters:
        w.start()
    release.set()
    for t in (first, *waiters):
        t.join(10)
    assert len(calls) == 2


def _records(template: dict[str, Any], start: int, n: int) -> list[bytes]:
    out = []
    for i in range(start, start + n):
        record = json.loads(json.dumps(template))
        record["id"] = f"chatcmpl-wal-{i}"
        out.append(json.dumps(record).encode())
    return out


def test_a_refused_sync_is_not_acknowledged_until_a_snapshot_holds_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, litellm_records: list[dict[str, Any]]
) -> None:
    state = tmp_path / "state"
    pipeline = Pipeline(SPEC, recorder=Recorder(clock=lambda: NOW), state=StateStore(state), clock=lambda: NOW)
    real = os.fdatasync

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wal_module.os, "fdatasync", full_disk)
    with pytest.raises(NotDurable):
        pipeline.ingest(_records(litellm_records[0], 0, 10), "litellm", "http")
    with pytest.raises(NotDurable):  # a later sync must not vouch for pages the kernel may have dropped
        pipeline.ingest(_records(litellm_records[0], 10, 10), "litellm", "http")
    monkeypatch.setattr(wal_module.os, "fdatasync", real)
    pipeline.save()
    retried = pipeline.ingest(_records(litellm_records[0], 0, 20), "litellm", "http")
    assert (retried.accepted, retried.duplicates) == (10, 10), "the first batch was kept; its retry dedupes"
    pipeline.close()
    restarted = Pipeline(SPEC, recorder=Recorder(clock=lambda: NOW), state=StateStore(state), clock=lambda: NOW)
    requests = sum(v for _, v in restarted.recorder.series(catalog.REQUESTS))
    assert requests == 20


def test_over_http_a_refused_write_is_503_with_retry_after_and_the_retry_is_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, litellm_records: list[dict[str, Any]]
) -> None:
    monkeypatch.delenv("GATEWATCH_INGEST_TOKEN", raising=False)
    pipeline = Pipeline(SPEC, recorder=Recorder(), state=StateStore(tmp_path / "state"))
    server = ExporterServer(parse_listen("127.0.0.1:0"), App(pipeline))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    body = b"\n".join(_records(litellm_records[0], 0, 5))
    real = os.fdatasync
    try:
        def full_disk(fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(wal_module.os, "fdatasync", full_disk)
        status, answer, headers = request(url, "POST", "/ingest/litellm", body)
        assert status == 503
        assert "retry-after" in headers
        assert b"state directory refused a write" in answer
        monkeypatch.setattr(wal_module.os, "fdatasync", real)
        pipeline.save()  # the snapshot makes what was counted durable; appending resumes
        status, answer, _ = request(url, "POST", "/ingest/litellm", body)
        assert status == 202
        assert json.loads(answer)["duplicates"] == 5, "the first attempt's records were kept"
    finally:
        server.shutdown()
        server.server_close()


def test_sums_from_a_producer_are_logged_resolved_and_counted_again_after_a_crash(tmp_path: Path) -> None:
    state = tmp_path / "state"
    team_alias = next(t for t in SPEC.teams if t.aliases)
    sums = [
        Totals({"team.raw-canary": "x", "resource.team": team_alias.aliases[0]}, "gpt-4o", "openai", "chat",
               "success", requests=7, input_tokens=700, output_tokens=70, priced_requests=7),
        Totals({}, "model-unlisted-17", "openai", "chat", "success", requests=3, input_tokens=30, priced_requests=3),
    ]
    first = Pipeline(SPEC, recorder=Recorder(clock=lambda: NOW), state=StateStore(state), clock=lambda: NOW)
    first.ingest_totals(sums, OTEL)
    expected = {k: v for k, v in first.recorder.series(catalog.REQUESTS)}
    first.close()  # no snapshot: only the log holds the sums, as after kill -9
    log_bytes = b"".join(p.read_bytes() for p in (state / "wal").glob("*.log"))
    # Raw attribute values never reach the disk; the bounded labels they resolved to do.
    assert b"raw-canary" not in log_bytes and team_alias.aliases[0].encode() not in log_bytes
    second = Pipeline(SPEC, recorder=Recorder(clock=lambda: NOW), state=StateStore(state), clock=lambda: NOW)
    assert {k: v for k, v in second.recorder.series(catalog.REQUESTS)} == expected
    assert sum(expected.values()) == 10
