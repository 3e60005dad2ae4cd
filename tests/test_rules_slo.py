"""SLO burn-rate alerts: the expected rules spelled out, and the generated promtool cases run."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import slo
from alerts.cases import slo as slo_cases
from alerts.model import AlertRule
from contract.spec import load
from tests.paths import EXAMPLE_SPEC
from tests.test_rules_recording import run_promtool_tests

SPEC = load(EXAMPLE_SPEC)
OPENAI = next(o for o in SPEC.slos.objectives if o.name == "openai-availability")  # 99.5 %: budget 0.005
SONNET = next(o for o in SPEC.slos.objectives if o.name == "claude-sonnet-ttft")  # 95 %: budget 0.05


def rule(name: str, slo_name: str) -> AlertRule:
    return next(r for g in slo.groups(SPEC) for r in g.rules
                if isinstance(r, AlertRule) and r.name == name and r.labels["slo"] == slo_name)


def test_page_for_openai_availability_reads_like_the_workbook() -> None:
    # 14.4 x 0.005 = 0.072 over 1h and 5m; 6 x 0.005 = 0.03 over 6h and 30m; 60 requests an hour.
    assert rule("GenAIAvailabilitySLOPage", "openai-availability").expr == (
        "(\n"
        '(\n  slo:sli_error:ratio_rate1h{slo="openai-availability"} > 0.072\n'
        '  and\n  slo:sli_error:ratio_rate5m{slo="openai-availability"} > 0.072\n)\n'
        "or\n"
        '(\n  slo:sli_error:ratio_rate6h{slo="openai-availability"} > 0.03\n'
        '  and\n  slo:sli_error:ratio_rate30m{slo="openai-availability"} > 0.03\n)\n'
        ")\n"
        "and on (slo)\n"
        'slo:sli_requests:rate1h{slo="openai-availability"} * 3600 >= 60.0'
    )


def test_ticket_for_openai_availability_reads_like_the_workbook() -> None:
    # 3 x 0.005 = 0.015 over 1d and 2h; 1 x 0.005 = 0.005 over 3d and 6h.
    expr = rule("GenAIAvailabilitySLOTicket", "openai-availability").expr
    assert 'slo:sli_error:ratio_rate1d{slo="openai-availability"} > 0.015' in expr
    assert 'slo:sli_error:ratio_rate2h{slo="openai-availability"} > 0.015' in expr
    assert 'slo:sli_error:ratio_rate3d{slo="openai-availability"} > 0.005' in expr
    assert 'slo:sli_error:ratio_rate6h{slo="openai-availability"} > 0.005' in expr


@pytest.mark.parametrize(("name", "slo_name", "thresholds"), [
    ("GenAITTFTSLOPage", "claude-sonnet-ttft", ("> 0.72", "> 0.3")),  # 14.4 x 0.05, 6 x 0.05
    ("GenAITTFTSLOTicket", "claude-sonnet-ttft", ("> 0.15", "> 0.05")),  # 3 x 0.05, 1 x 0.05
    ("GenAIAvailabilitySLOPage", "vertex-availability", ("> 0.144", "> 0.06")),  # 99 %: budget 0.01
])
def test_thresholds_are_factor_times_budget(name: str, slo_name: str, thresholds: tuple[str, str]) -> None:
    expr = rule(name, slo_name).expr
    for threshold in thresholds:
        assert expr.count(threshold) == 2, (threshold, expr)


@pytest.mark.parametrize(("name", "severity", "for_", "labels"), [
    ("GenAIAvailabilitySLOPage", "critical", "2m", {"slo": "openai-availability"}),
    ("GenAIAvailabilitySLOTicket", "warning", "15m", {"slo": "openai-availability"}),
])
def test_labels_severity_and_for(name: str, severity: str, for_: str, labels: dict[str, str]) -> None:
    alert = rule(name, "openai-availability")
    assert (alert.severity, alert.audience, alert.team, alert.for_, alert.labels) == (
        severity, "oncall", "platform", for_, labels)


def test_description_carries_the_live_ratio_and_the_thresholds() -> None:
    assert rule("GenAIAvailabilitySLOPage", "openai-availability").description == (
        "{{ $value | humanizePercentage }} of requests to provider openai failing over the long window; "
        "the target is 99.5 % (error budget 0.5 %) and this alert fires above 7.2 % over 1h and 5m (14.4x), "
        "3 % over 6h and 30m (6x)."
    )


def test_every_objective_has_fast_slow_healthy_and_low_traffic_cases() -> None:
    names = [t.name for t in slo_cases.unit_tests(SPEC)]
    for objective in SPEC.slos.objectives:
        for scenario in ("fast burn", "slow burn", "healthy", "too little traffic to page"):
            assert f"{objective.name}: {scenario}" in names


def test_fast_burn_case_for_openai_is_what_a_reader_expects() -> None:
    test = next(t for t in slo_cases.unit_tests(SPEC) if t.name == "openai-availability: fast burn")
    # (0.072 + 1) / 2 = 0.536: 536 of every 1000 counted requests fail; 1000 neutral ones do not count.
    assert [s.values for s in test.series] == ["0+464x17", "0+536x17", "0+1000x17"]
    page = [c for c in test.alerts if c.alertname == "GenAIAvailabilitySLOPage"]
    assert [(c.eval_time, len(c.expected)) for c in page] == [("2m", 0), ("3m", 1)]
    fired = page[1].expected[0]
    assert fired.labels == {"severity": "critical", "audience": "oncall", "slo": "openai-availability",
                            "team": "platform", "provider": "openai", **_source(fired.labels)}
    assert fired.annotations["description"].startswith("53.6% of requests to provider openai failing")
    assert fired.annotations["dashboard_url"] == (
        "https://grafana.northwind.example/d/gatewatch-overview/genai-platform-overview?viewPanel=5"
        "&var-slo=openai-availability")
    assert fired.annotations["runbook_url"] == "https://runbooks.northwind.example/gatewatch/GenAIAvailabilitySLOPage.md"


def _source(labels: dict[str, str]) -> dict[str, str]:
    """A label render.py may add to every alert (not this module's business)."""
    return {k: v for k, v in labels.items() if k == "source"}


@pytest.mark.binaries
def test_generated_slo_cases_pass_promtool(tmp_path: Path) -> None:
    run_promtool_tests(tmp_path, SPEC, slo_cases.unit_tests(SPEC))
