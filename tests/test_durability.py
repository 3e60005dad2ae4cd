"""A 202 survives kill -9: the real exporter killed at random moments under HTTP load.

Clients post batches of records with unique ids and retry every batch until it is acknowledged
(as loggers do: a connection error or a 503 is retried, a 202 never). The exporter is killed
with SIGKILL at random moments and restarted on the same state directory. At the end every
record, acknowledged once and possibly posted several times, is counted exactly once.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from exporter.spec import load
from tests.paths import EXAMPLE_SPEC
from tests.support.processes import Exporter, by_label, start_exporter, total

TEAMS = sorted(t.name for t in load(EXAMPLE_SPEC).teams)
BATCHES = 300
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
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            for body in self.bodies:
                deadline = time.monotonic() + 120
                while True:
                    status, answer = self.target[0].post("litellm", body)
                    if status == 202:
                        assert answer["rejected"] == 0, answer
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
        kills = 0
        while kills < KILLS and any(c.is_alive() for c in clients):
            time.sleep(rng.uniform(0.05, 0.5))
            target[0].kill()
            kills += 1
            target[0] = start_exporter(tmp_path / f"run-{kills}", "--state-dir", state, log_level="info")
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
