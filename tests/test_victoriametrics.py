"""The generated rules and the reports on VictoriaMetrics, unchanged: vmagent scrapes a real
exporter into VictoriaMetrics, vmalert evaluates the generated rules there, and the answers, the
reports and the alerts are the ones Prometheus gives for the same records."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract.spec import load
from drills.run import Traffic
from drills.scenarios import by_name
from drills.stack import rule_files
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.history import History, Segment
from tests.support.processes import start_exporter
from tests.support.prometheus import Prometheus, scrape_config
from tests.support.truth import tally
from tests.support.victoriametrics import AlertSink, VictoriaMetrics, VmAgent, VmAlert
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


# -- reports ---------------------------------------------------------------------------------------

OCT = 1_790_812_800.0  # 2026-10-01T00:00:00Z
DAY = 86_400.0
# Scrapes a minute before each 6-hour mark, as real scrapes never land on a period's first
# millisecond. (On one, VictoriaMetrics 1.79 and Prometheus disagree: Prometheus's windows include
# a sample at the evaluation instant, VictoriaMetrics' leave it to the next.)
SKEW = 60.0
# Two exporter lifetimes: the restart on the 3rd puts counters back to 0 mid-period, the case where
# a report that trusted increase() alone would lose spend.
HISTORY = History(SPEC, (Segment(OCT - SKEW, OCT + 2 * DAY - SKEW, 3), Segment(OCT + 2 * DAY - SKEW, OCT + 4 * DAY, 4)),
                  rate=0.01, step=21_600.0)


def prometheus_text(openmetrics: str) -> str:
    """OpenMetrics (timestamps in seconds) as the text format VictoriaMetrics imports
    (timestamps in milliseconds); the samples themselves unchanged."""
    lines = []
    for line in openmetrics.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value, stamp = line.rsplit(" ", 2)
        lines.append(f"{series} {value} {round(float(stamp) * 1000)}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def history_servers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Prometheus, VictoriaMetrics]:
    workdir = tmp_path_factory.mktemp("history")
    with HISTORY.serve(workdir / "prometheus") as prom, VictoriaMetrics(workdir / "vm") as vm:
        vm.import_prometheus_text(prometheus_text(HISTORY.openmetrics()))
        yield prom, vm


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reports", *args], capture_output=True, text=True, cwd=ROOT,
                          check=False, timeout=300)


def test_history_holds_the_same_samples_in_both(history_servers: tuple[Prometheus, VictoriaMetrics]) -> None:
    prom, vm = history_servers
    at, window = OCT + 4 * DAY, "[5d]"
    for expr in ("genai_cost_usd_total", "genai_requests_total", "genai_team_budget_usd"):
        in_vm, in_prom = _samples(vm.query(expr + window, at=at)), _samples(prom.query(expr + window, at=at))
        assert in_vm.keys() == in_prom.keys(), expr
        for series, samples in in_prom.items():
            assert [t for t, _ in in_vm[series]] == [t for t, _ in samples], series
            # VictoriaMetrics keeps about 12 significant digits of a float.
            assert [v for _, v in in_vm[series]] == pytest.approx([v for _, v in samples], rel=1e-11), series


def _samples(result: list[dict]) -> dict[str, list[tuple[float, float]]]:
    return {str(sorted(r["metric"].items())): [(t, float(v)) for t, v in r["values"]] for r in result}


@pytest.mark.parametrize("fmt", ["csv", "focus", "md"])
def test_chargeback_from_victoriametrics_equals_chargeback_from_prometheus(
        history_servers: tuple[Prometheus, VictoriaMetrics], tmp_path: Path, fmt: str) -> None:
    outputs = []
    for server in history_servers:
        out = tmp_path / f"{type(server).__name__}.{fmt}"
        done = report("chargeback", "--prometheus", server.url, "--spec", str(EXAMPLE_SPEC),
                      "--start", "2026-10-01", "--end", "2026-10-05", "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_text())
    from_prometheus, from_vm = (_without_provenance(text, server.url) for text, server in zip(outputs, history_servers,
                                                                                             strict=True))
    assert _cells(from_vm, approximate=True) == _cells(from_prometheus)


def _cells(text: str, *, approximate: bool = False) -> list[list[object]]:
    """The report's cells; with ``approximate``, numbers to their printed precision: VictoriaMetrics
    keeps about 12 significant digits, so a sum can round the other way in the 6th decimal."""
    rows = []
    for line in text.splitlines():
        row: list[object] = []
        for cell in line.split(","):
            try:
                number = float(cell)
            except ValueError:
                row.append(cell)
                continue
            row.append(pytest.approx(number, abs=1.5e-6, rel=1e-9) if approximate else number)
        rows.append(row)
    return rows


def test_report_comparison_sees_a_difference() -> None:
    assert _cells("a,0.007571\n", approximate=True) == _cells("a,0.007570\n")
    assert _cells("a,0.007574\n", approximate=True) != _cells("a,0.007570\n")
    assert _cells("b,0.007570\n", approximate=True) != _cells("a,0.007570\n")


def _without_provenance(text: str, url: str) -> str:
    """The report without the server's address and the time it was made."""
    return re.sub(r"generated \S+", "generated <time>", text.replace(url, "<server>"))


def test_compliance_from_victoriametrics_equals_compliance_from_prometheus(
        history_servers: tuple[Prometheus, VictoriaMetrics], tmp_path: Path) -> None:
    outputs, codes = [], []
    for server in history_servers:
        out = tmp_path / type(server).__name__
        done = report("compliance", "--prometheus", server.url, "--spec", str(EXAMPLE_SPEC), "--month", "2026-10",
                      "--build-dir", str(ROOT / "build"), "--format", "json", "--out", str(out))
        assert done.returncode in (0, 1), done.stderr
        codes.append(done.returncode)
        outputs.append(json.loads(Path(f"{out}.json").read_text()))
    from_prometheus, from_vm = outputs
    for found in outputs:
        found["report"].pop("generated_at")
        found["report"].pop("source")
    assert from_vm == from_prometheus
    assert codes[0] == codes[1]
    assert any(c.get("status") == "pass" for c in from_vm["controls"])


# -- alerts ----------------------------------------------------------------------------------------

# The drills' time compression (drills/stack.py): every window, offset and `for` divided by 60.
FACTOR = 60.0
INTERVAL = "250ms"
# Rules about the Prometheus and Alertmanager processes themselves: VictoriaMetrics has no such series.
PROMETHEUS_SELF = ("PrometheusRuleFailures", "PrometheusSampleLimitHit", "AlertmanagerNotificationsFailing")
# Alerts that carry these labels are told apart by them.
IDENTITY = ("alertname", "team", "app", "provider", "model", "slo", "severity")


def _identity(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, labels[k]) for k in IDENTITY if k in labels)


def _firing(alerts: list[dict]) -> set[tuple[tuple[str, str], ...]]:
    return {_identity(a["labels"]) for a in alerts
            if a["state"] == "firing" and a["labels"]["alertname"] not in PROMETHEUS_SELF}


def test_vmalert_fires_what_prometheus_fires_for_the_same_traffic(tmp_path: Path) -> None:
    scenario = by_name(SPEC)["pii_leak"]
    (expect,) = scenario.expect
    rules = tmp_path / "rules"
    for path, text in rule_files(SPEC, FACTOR).items():
        (rules / Path(path).name).parent.mkdir(parents=True, exist_ok=True)
        (rules / Path(path).name).write_text(text)
    rule_paths = sorted(rules.glob("*.yml"))
    assert len(rule_paths) == 2
    exporter = start_exporter(tmp_path / "exporter")
    target = [f"127.0.0.1:{exporter.port}"]
    prometheus_yml = scrape_config(target, interval=INTERVAL) + "rule_files:\n" + "".join(
        f"  - {p}\n" for p in rule_paths)
    traffic = Traffic(SPEC, scenario, exporter.url, start=time.time(), incident_after=BASELINE,
                      duration=BASELINE + 240.0)
    try:
        with Prometheus(tmp_path / "prometheus", prometheus_yml) as prom, VictoriaMetrics(tmp_path / "vm") as vm, \
                AlertSink() as sink:
            agent = VmAgent(tmp_path / "vmagent", vm, target, interval=INTERVAL)
            vmalert = VmAlert(tmp_path / "vmalert", vm, rule_paths, sink.url, interval=INTERVAL)
            agent.start()
            vmalert.start()
            traffic.start()
            try:
                def expected_in(firing: set[tuple[tuple[str, str], ...]]) -> bool:
                    return any(dict(f).get("alertname") == expect.alert
                               and expect.labels.items() <= dict(f).items() for f in firing)

                prom.wait_until(lambda: expected_in(_firing(prom.api("alerts")["alerts"]))
                                and expected_in(_firing(vmalert.alerts())), timeout=240.0,
                                what=f"{expect.alert} firing in Prometheus and vmalert")
                # The two evaluate at their own instants: wait for them to agree, then compare.
                with contextlib.suppress(AssertionError):
                    prom.wait_until(lambda: _firing(prom.api("alerts")["alerts"]) == _firing(vmalert.alerts()),
                                    timeout=60.0, what="the same alerts firing in both")
                in_prometheus, in_vmalert = _firing(prom.api("alerts")["alerts"]), _firing(vmalert.alerts())
                assert in_vmalert == in_prometheus
                notified = [a for a in sink.firing() if a["labels"].get("alertname") == expect.alert]
                assert notified, "vmalert did not notify the alert"
                assert all(a["annotations"].get("runbook_url", "").endswith(f"/{expect.alert}.md") for a in notified)
                assert all(a["labels"].get("source") == "gatewatch" for a in notified)
            finally:
                traffic.stop()
                vmalert.stop()
                agent.stop()
    finally:
        exporter.stop()


BASELINE = 30.0  # seconds of ordinary traffic before the incident (half an hour of compressed time)
