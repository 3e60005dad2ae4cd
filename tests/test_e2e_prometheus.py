"""End to end: real gateway records into the exporter, a real Prometheus scraping it, and the
answers Prometheus gives equal to the ground truth tallied straight from the records."""

from __future__ import annotations

import json
import subprocess
import time
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest

from contract.spec import load
from simulate import generate
from tests.paths import EXAMPLE_SPEC, KONG_FIXTURE, LITELLM_FIXTURE
from tests.support.binaries import require
from tests.support.processes import Exporter, request, start_exporter
from tests.support.prometheus import Prometheus, scrape_config
from tests.support.truth import tally

pytestmark = pytest.mark.binaries

SPEC = load(EXAMPLE_SPEC)
Record = tuple[str, dict[str, Any]]


def fixture_records() -> list[Record]:
    return [("litellm", json.loads(line)) for line in LITELLM_FIXTURE.read_text().splitlines()] + [
        ("kong", json.loads(line)) for line in KONG_FIXTURE.read_text().splitlines()
    ]


def simulated_records(count: int, seed: int = 7) -> list[Record]:
    stream = generate(SPEC, "normal", start=time.time() - 3600, duration=3600, rate=count / 3600 * 1.5, seed=seed)
    return [(r.fmt, r.payload) for _, r in zip(range(count), stream, strict=False)]


def post_batches(exporter: Exporter, records: list[Record], batch: int = 250) -> None:
    """Post in arrival order, a JSON array per batch, as the gateways' HTTP loggers do."""
    for fmt, group in groupby(records, key=lambda r: r[0]):
        payloads = [payload for _, payload in group]
        for start in range(0, len(payloads), batch):
            chunk = payloads[start:start + batch]
            status, answer = exporter.post(fmt, json.dumps(chunk).encode(), {"Content-Type": "application/json"})
            assert status == 202, answer
            assert answer["accepted"] == len(chunk), answer["errors"][:3]


def accepted_in_prometheus(prom: Prometheus) -> float:
    result = prom.query('sum(genai_exporter_events_total{result="accepted"})')
    return float(result[0]["value"][1]) if result else 0.0


def test_prometheus_answers_equal_the_ground_truth(tmp_path: Path) -> None:
    records = fixture_records() + simulated_records(3000)
    truth = tally(SPEC, records)
    exporter = start_exporter(tmp_path / "exporter", "--state-dir", tmp_path / "state")
    try:
        post_batches(exporter, records)
        with Prometheus(tmp_path / "prometheus", scrape_config([f"127.0.0.1:{exporter.port}"])) as prom:
            prom.wait_until(lambda: accepted_in_prometheus(prom) == len(records), what="every record scraped")

            assert prom.by_label("sum by (team) (genai_requests_total)", "team") == dict(truth.requests)
            cost = prom.by_label("sum by (team) (genai_cost_usd_total)", "team")
            assert cost.keys() == truth.cost.keys()
            for team, usd in truth.cost.items():
                assert cost[team] == pytest.approx(usd, rel=1e-9, abs=1e-12), team
            tokens = prom.by_label("sum by (type) (genai_tokens_total)", "type")
            assert tokens == {k: float(v) for k, v in truth.tokens.items()}
            # The fixtures' unassigned embedding call is visible, never dropped.
            assert truth.requests["__unassigned__"] >= 1
    finally:
        exporter.stop()


def test_metrics_output_passes_promtool_check_metrics(tmp_path: Path) -> None:
    promtool = require("promtool")
    exporter = start_exporter(tmp_path / "exporter")
    try:
        post_batches(exporter, fixture_records() + simulated_records(500))
        status, body, headers = request(exporter.url, "GET", "/metrics")
        assert status == 200
        assert headers["content-type"].startswith("text/plain; version=0.0.4")
    finally:
        exporter.stop()
    check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, check=False)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert b"genai_request_duration_seconds_bucket" in body


def test_two_replicas_aggregate_as_the_design_says(tmp_path: Path) -> None:
    records = fixture_records() + simulated_records(1000, seed=11)
    truth = tally(SPEC, records)
    replicas = [start_exporter(tmp_path / f"exporter-{i}") for i in range(2)]
    try:
        # Each replica gets every other batch, as a load balancer would spread them.
        halves: list[list[Record]] = [[], []]
        for i in range(0, len(records), 100):
            halves[(i // 100) % 2].extend(records[i:i + 100])
        for replica, half in zip(replicas, halves, strict=True):
            post_batches(replica, half)
        targets = [f"127.0.0.1:{r.port}" for r in replicas]
        with Prometheus(tmp_path / "prometheus", scrape_config(targets)) as prom:
            prom.wait_until(lambda: accepted_in_prometheus(prom) == len(records), what="both replicas scraped")

            # Counters: sum across replicas gives the whole organisation's traffic and spend.
            assert prom.scalar("sum(genai_requests_total)") == len(records)
            assert prom.scalar("sum(genai_cost_usd_total)") == pytest.approx(truth.total_cost(), rel=1e-9)
            for team in SPEC.teams:
                assert prom.scalar(f'sum(genai_requests_total{{team="{team.name}"}})') == truth.requests[team.name]

            # Spec gauges: every replica exposes them, so max is right and sum would double count.
            budgets = prom.by_label("max by (team) (genai_team_budget_usd)", "team")
            assert budgets == {t.name: t.budget.monthly_usd for t in SPEC.teams}
            doubled = prom.by_label("sum by (team) (genai_team_budget_usd)", "team")
            assert doubled == {t.name: 2 * t.budget.monthly_usd for t in SPEC.teams}
            info = prom.query("max by (team, owner, cost_center, tier) (genai_team_info)")
            assert {(r["metric"]["team"], r["metric"]["owner"], r["metric"]["cost_center"]) for r in info} == {
                (t.name, t.owner, t.cost_center) for t in SPEC.teams
            }
            assert prom.scalar("count(genai_spec_info)") == 2
            assert prom.scalar("count(count by (hash) (genai_spec_info))") == 1

            # Adoption: the earliest replica's first sighting is the team's first sighting.
            first = prom.by_label("min by (team) (genai_team_first_seen_timestamp_seconds)", "team")
            latest = prom.by_label("max by (team) (genai_team_first_seen_timestamp_seconds)", "team")
            assert all(first[t] <= latest[t] for t in first)
            assert "search" in first
    finally:
        for replica in replicas:
            replica.stop()
