"""A 202 survives kill -9: the real exporter killed at random moments under HTTP load.

Clients post batches of records with unique ids and retry every batch until it is acknowledged
(as loggers do: a connection error or a 503 is retried, a 202 never). The exporter is killed
with SIGKILL at random moments and restarted on the same state directory. At the end every
record, acknowledged once and possibly posted several times, is counted exactly once.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from contract.spec import load
from tests.paths import EXAMPLE_SPEC
from tests.support.processes import Exporter, by_label, request, spec_variant, start_exporter, total, wait_for

TEAMS = sorted(t.name for t in load(EXAMPLE_SPEC).teams)
BATCHES = 400
BATCH = 40
CLIENTS = 3
KILLS = 4


def _batches(template: dict[str, Any], seed: int) -> tuple[list[bytes], Counter[str], dict[str, float]]:
    rng = random.Random(seed)
    bodies: list[bytes] = []
    requests: Counter[str] = Counter()
    cost: dict[str, float] = {}
    for b in range(BATCHES):
        records = []
        for i in range(BATCH):
            team = rng.choice(TEAMS)
            record = json.loads(json.dumps(template))
            record["id"] = f"chatcmpl-kill-{seed}-{b}-{i}"
            record["response_cost"] = record["hidden_params"]["response_cost"] = round(rng.uniform(1e-4, 0.05), 6)
            record["metadata"]["user_api_key_team_alias"] = record["metadata"]["user_api_key_team_id"] = team
            record["metadata"]["user_api_key_alias"] = None
            records.append(record)
            requests[team] += 1
            cost[team] = cost.get(team, 0.0) + record["response_cost"]
        bodies.append(json.dumps(records).encode())
    return bodies, requests, cost


class _Client(threading.Thread):
    """Posts its batches in order, each until a 202; counts the attempts that were not."""

    def __init__(self, target: list[Exporter], bodies: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.target, self.bodies = target, bodies
        self.retries = 0
        self.acked = 0
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            for body in self.bodies:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        status, answer = self.target[0].post("litellm", body)
                    except (http.client.HTTPException, OSError):
                        status, answer = 0, None  # killed mid-answer: not acknowledged
                    if status == 202:
                        assert answer["rejected"] == 0, answer
                        self.acked += 1
                        break
                    assert status in (0, 503), (status, answer)
                    assert time.monotonic() < deadline, "a batch was never acknowledged"
                    self.retries += 1
                    time.sleep(0.05)
        except BaseException as err:  # reported by the test thread
            self.failure = err


def test_every_acknowledged_record_is_counted_once_across_kill_9(
    tmp_path: Path, litellm_records: list[dict[str, Any]]
) -> None:
    state = tmp_path / "state"
    bodies, requests, cost = _batches(litellm_records[0], seed=7)
    rng = random.Random(11)
    target = [start_exporter(tmp_path / "run-0", "--state-dir", state, log_level="info")]
    clients = [_Client(target, bodies[n::CLIENTS]) for n in range(CLIENTS)]
    try:
        for client in clients:
            client.start()
        # Kills land at random moments, but while the clients are still posting: each waits for
        # a share of the batches to be acknowledged, then a random few milliseconds more.
        for kill, share in enumerate(sorted(rng.uniform(0.1, 0.8) for _ in range(KILLS)), 1):
            wait_for(lambda share=share: sum(c.acked for c in clients) >= share * BATCHES,
                     timeout=120, interval=0.005, what=f"{share:.0%} of the batches acknowledged")
            time.sleep(rng.uniform(0.0, 0.05))
            target[0].kill()
            target[0] = start_exporter(tmp_path / f"run-{kill}", "--state-dir", state, log_level="info")
        for client in clients:
            client.join(300)
            assert not client.is_alive(), "a client did not finish"
            if client.failure is not None:
                raise client.failure
        # One more crash after the last acknowledgement: nothing acknowledged may depend on a snapshot.
        target[0].kill()
        target[0] = start_exporter(tmp_path / "run-last", "--state-dir", state, log_level="info")
        metrics = target[0].scrape()
    finally:
        target[0].kill()
    assert sum(c.retries for c in clients) > 0, "the kills never interrupted a batch: the test proved nothing"
    counted = by_label(metrics, "genai_requests_total", "team")
    assert {t: n for t, n in counted.items() if n} == dict(requests)
    counted_cost = by_label(metrics, "genai_cost_usd_total", "team")
    for team, expected in cost.items():
        assert abs(counted_cost[team] - expected) <= 1e-9 * max(1.0, expected), team
    accepted = total(metrics, "genai_exporter_events_total", result="accepted")
    assert accepted == BATCHES * BATCH, "each record accepted once; its retries are duplicates"


def test_a_damaged_snapshot_is_said_in_the_log_the_metric_and_readyz(
    tmp_path: Path, litellm_records: list[dict[str, Any]]
) -> None:
    state = tmp_path / "state"
    spec = spec_variant(tmp_path, {"snapshot_interval_seconds: 5": "snapshot_interval_seconds: 0.2"})
    bodies, _, _ = _batches(litellm_records[0], seed=3)
    first = start_exporter(tmp_path / "first", "--state-dir", state, spec=spec, log_level="info")
    try:
        for count, body in enumerate(bodies[:5], 1):
            assert first.post("litellm", body)[0] == 202
            if count <= 2:  # a generation after each of the first two batches
                wait_for(lambda count=count: len(list(state.glob("state-*.snap"))) >= count,
                         what=f"{count} snapshot generations")
    finally:
        first.stop()  # SIGTERM: the final snapshot is the newest generation
    newest = max(state.glob("state-*.snap"))
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0x04
    newest.write_bytes(bytes(data))
    second = start_exporter(tmp_path / "second", "--state-dir", state, spec=spec, log_level="info")
    try:
        status, body, _ = request(second.url, "GET", "/readyz")
        metrics = second.scrape()
    finally:
        second.stop()
    assert status == 200
    assert b"state snapshot damaged" in body and newest.name.encode() in body
    assert total(metrics, "genai_exporter_state_restore_problems_total", part="snapshot") == 1
    assert "failed validation" in second.log()
    assert total(metrics, "genai_requests_total") == 5 * BATCH, "the older generation plus the log"
