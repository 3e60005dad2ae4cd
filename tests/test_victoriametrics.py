"""The generated rules and the reports on VictoriaMetrics, unchanged: vmagent scrapes a real
exporter into VictoriaMetrics, vmalert evaluates the generated rules there, and the answers, the
reports and the alerts are the ones Prometheus gives for the same records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter.spec import load
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.processes import start_exporter
from tests.support.prometheus import Prometheus, scrape_config
from tests.support.truth import tally
from tests.support.victoriametrics import VictoriaMetrics, VmAgent
from tests.test_e2e_prometheus import accepted_in_prometheus, fixture_records, post_batches, simulated_records

pytestmark = [pytest.mark.binaries, pytest.mark.slow]

SPEC = load(EXAMPLE_SPEC)
# What the dashboards and reports ask of raw series: sums over replicas for counters, max for the
# spec's gauges, min for first sightings.
QUERIES = (
    ("sum by (team) (genai_requests_total)", "team"),
    ("sum by (team) (genai_cost_usd_total)", "team"),
    ("sum by (type) (genai_tokens_total)", "type"),
    ("sum by (outcome) (genai_requests_total)", "outcome"),
    ("sum by (guardrail, result) (genai_guardrail_evaluations_total)", "guardrail"),
    ("max by (team) (genai_team_budget_usd)", "team"),
    ("count by (hash) (genai_spec_info)", "hash"),
    ('sum by (le) (genai_request_duration_seconds_bucket{le=~"1|8|\\\\+Inf"})', "le"),
)


def test_vmagent_scrape_gives_victoriametrics_prometheus_answers(tmp_path: Path) -> None:
    records = fixture_records() + simulated_records(1500, seed=5)
    truth = tally(SPEC, records)
    exporter = start_exporter(tmp_path / "exporter")
    try:
        post_batches(exporter, records)
        target = [f"127.0.0.1:{exporter.port}"]
        with Prometheus(tmp_path / "prometheus", scrape_config(target)) as prom, \
                VictoriaMetrics(tmp_path / "vm") as vm:
            agent = VmAgent(tmp_path / "vmagent", vm, target)
            agent.start()
            try:
                for server in (prom, vm):
                    server.wait_until(lambda s=server: accepted_in_prometheus(s) == len(records),
                                      what=f"every record in {server.url}")
                assert vm.by_label("sum by (team) (genai_requests_total)", "team") == dict(truth.requests)
                for expr, label in QUERIES:
                    in_vm, in_prom = vm.query(expr), prom.query(expr)
                    assert _values(in_vm) == pytest.approx(_values(in_prom), rel=1e-9), expr
                    assert {r["metric"].get(label) for r in in_vm} == {r["metric"].get(label) for r in in_prom}
                # The scrape job is the one the rules select (GenAIExporterDown reads up{job=...}).
                assert vm.scalar('up{job="gatewatch"}') == 1
            finally:
                agent.stop()
    finally:
        exporter.stop()


def _values(result: list[dict]) -> dict[str, float]:
    return {str(sorted(r["metric"].items())): float(r["value"][1]) for r in result}
