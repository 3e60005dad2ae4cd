"""Restarts and reloads of a real exporter process.

The restart test is the one from the issue: a gateway log being appended continuously, the
exporter killed with SIGKILL mid-stream, restarted on the same state directory, and at the end
every team's request count and cost in /metrics equal the ground truth computed from the
records written, while no counter Prometheus saw ever went backwards.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contract.spec import load
from tests.paths import EXAMPLE_SPEC
from tests.support.processes import Exporter, Metrics, by_label, spec_variant, total, wait_for

TEAMS_APPS: dict[str, list[str]] = {}
for _app in load(EXAMPLE_SPEC).apps:
    TEAMS_APPS.setdefault(_app.team, []).append(_app.name)

RECORDS = 3000
GATE = 1500           # the writer waits here until the restarted exporter is up
MALFORMED_EVERY = 97  # every 97th line is not JSON: rejected, and counted exactly once too
BURST = 20


def build_lines(template: dict[str, Any], seed: int) -> tuple[list[bytes], Counter[str], dict[str, float], int]:
    """The lines to write, and the ground truth: requests and cost per team, malformed count."""
    rng = random.Random(seed)
    lines: list[bytes] = []
    requests: Counter[str] = Counter()
    cost: dict[str, float] = {}
    malformed = 0
    for i in range(RECORDS):
        if i % MALFORMED_EVERY == MALFORMED_EVERY - 1:
            lines.append(b'{"id": "broken-%d", "model": ' % i)
            malformed += 1
            continue
        team = rng.choice(sorted(TEAMS_APPS))
        record = json.loads(json.dumps(template))
        record["id"] = f"chatcmpl-restart-{seed}-{i}"
        record["response_cost"] = record["hidden_params"]["response_cost"] = round(rng.uniform(1e-4, 0.05), 6)
        record["metadata"]["user_api_key_team_alias"] = team
        record["metadata"]["user_api_key_team_id"] = team
        record["metadata"]["user_api_key_alias"] = rng.choice(TEAMS_APPS[team])
        lines.append(json.dumps(record).encode())
        requests[team] += 1
        cost[team] = cost.get(team, 0.0) + record["response_cost"]
    return lines, requests, cost, malformed


class Writer(threading.Thread):
    """Appends the lines in bursts, each burst split mid-line across two writes, reopening the
    path every burst like a logger that follows rotation. Stops at GATE until released."""

    def __init__(self, path: Path, lines: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.lines = lines
        self.written = 0
        self.at_gate = threading.Event()
        self.release = threading.Event()
        self._rng = random.Random(7)

    def run(self) -> None:
        while self.written < len(self.lines):
            if self.written == GATE:
                self.at_gate.set()
                self.release.wait(120)
            end = min(self.written + BURST, len(self.lines), GATE if self.written < GATE else len(self.lines))
            data = b"".join(line + b"\n" for line in self.lines[self.written : end])
            cut = self._rng.randrange(1, len(data))
            with self.path.open("ab") as handle:
                handle.write(data[:cut])
                handle.flush()
                handle.write(data[cut:])
            self.written = end
            time.sleep(0.02)  # pacing, so the exporter reads while lines arrive


def counters(metrics: Metrics) -> Metrics:
    return {k: v for k, v in metrics.items() if k[0].endswith(("_total", "_bucket", "_count", "_sum"))}


@pytest.mark.slow
@pytest.mark.parametrize("rotate_while_down", [False, True], ids=["same-file", "rotated-while-down"])
def test_sigkill_mid_stream_then_restart_counts_every_record_exactly_once(
    tmp_path: Path, exporter_factory: Callable[..., Exporter], litellm_records: list[dict[str, Any]],
    rotate_while_down: bool,
) -> None:
    spec = spec_variant(tmp_path, {"snapshot_interval_seconds: 5": "snapshot_interval_seconds: 0.5"})
    state, log_file = tmp_path / "state", tmp_path / "gateway.jsonl"
    log_file.write_bytes(b"")
    lines, requests, cost, malformed = build_lines(litellm_records[0], seed=11)
    args = ("--state-dir", state, "--tail", log_file, "--format", "litellm")

    writer = Writer(log_file, lines)
    first = exporter_factory(*args, spec=spec)
    writer.start()
    wait_for(lambda: total(first.scrape(), "genai_requests_total") >= 300, what="300 records read")
    before = counters(first.scrape())  # this scrape is also a snapshot
    seen = writer.written
    wait_for(lambda: writer.written >= min(seen + 200, GATE), what="the writer to append more")
    first.kill()

    writer.at_gate.wait(120)
    if rotate_while_down:
        log_file.rename(log_file.with_name("gateway.jsonl.1"))
        log_file.write_bytes(b"")
    second = exporter_factory(*args, spec=spec)
    after = counters(second.scrape())
    went_back = {k: (v, after.get(k)) for k, v in before.items() if not after.get(k, -1.0) >= v}
    assert not went_back, f"counters lower after the restart than before it: {went_back}"

    writer.release.set()
    writer.join(120)
    assert writer.written == RECORDS

    def all_read() -> bool:
        return total(second.scrape(), "genai_exporter_events_total", source="file") >= RECORDS

    wait_for(all_read, what="the restarted exporter to read every line")
    metrics = second.scrape()
    events = by_label(metrics, "genai_exporter_events_total", "result", source="file")
    # No duplicates: exactness comes from the offsets, not from the duplicate window hiding re-reads.
    assert events == {"accepted": RECORDS - malformed, "rejected": malformed}
    assert by_label(metrics, "genai_requests_total", "team") == dict(requests)
    cost_seen = by_label(metrics, "genai_cost_usd_total", "team")
    assert set(cost_seen) == set(cost)
    for team, expected in cost.items():
        assert cost_seen[team] == pytest.approx(expected, rel=1e-9), team
    assert second.stop() == 0


def test_sighup_refuses_a_broken_spec_and_applies_a_fixed_one(
    tmp_path: Path, exporter_factory: Callable[..., Exporter], litellm_records: list[dict[str, Any]]
) -> None:
    spec = spec_variant(tmp_path)
    good = spec.read_text()
    running = exporter_factory(spec=spec)

    def budget() -> float:
        return total(running.scrape(), "genai_team_budget_usd", team="search", period="month")

    def reloads(result: str) -> float:
        return total(running.scrape(), "genai_exporter_spec_reloads_total", result=result)

    assert (budget(), reloads("success"), reloads("failure")) == (18000, 0, 0)

    spec.write_text(good.replace("budget: {monthly_usd: 18000}", "budget: {monthly_usd: -1}"))
    running.signal(signal.SIGHUP)
    wait_for(lambda: reloads("failure") == 1, what="the failed reload to be counted")
    assert "teams[0].budget.monthly_usd" in running.log()
    assert (budget(), reloads("success")) == (18000, 0)
    status, answer = running.post("litellm", json.dumps(litellm_records[0]).encode())
    assert (status, answer["accepted"]) == (202, 1)

    spec.write_text(good.replace("budget: {monthly_usd: 18000}", "budget: {monthly_usd: 19500}"))
    running.signal(signal.SIGHUP)
    wait_for(lambda: reloads("success") == 1, what="the reload to be counted")
    assert (budget(), reloads("failure")) == (19500, 1)
    # The counters carried over the reload.
    assert total(running.scrape(), "genai_requests_total", team="search") == 1
    assert running.stop() == 0
