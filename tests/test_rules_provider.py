"""Provider-health alerts: what they watch, read like the spec, and proven by the real promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from alerts import provider, recording, routing
from alerts.cases import provider as provider_cases
from alerts.model import AlertRule
from alerts.prometheus_rules import alert_rules
from alerts.render import rule_file, unit_test_file
from alerts.yamlout import dump
from contract import catalog
from contract.spec import Spec, load
from tests.paths import EXAMPLE_SPEC
from tests.support.binaries import require
from tests.support.promql import is_own_series, selected_names

SPEC = load(EXAMPLE_SPEC)


def rules_of(module: ModuleType, spec: Spec = SPEC) -> dict[str, AlertRule]:
    return {r.name: r for g in module.groups(spec) for r in g.rules if isinstance(r, AlertRule)}


def assert_promtool_proves(module: ModuleType, cases: ModuleType, tmp_path: Path, spec: Spec = SPEC) -> None:
    """Write the recording rules and ``module``'s rules as Prometheus rule files, check them
    with promtool (lint fatal), then run ``cases.unit_tests(spec)`` with ``promtool test rules``."""
    promtool = require("promtool")
    rules_dir, tests_dir = tmp_path / "rules", tmp_path / "tests"
    rules_dir.mkdir()
    tests_dir.mkdir()
    (rules_dir / "recording.yml").write_text(dump(rule_file(spec, recording.groups(spec))))
    (rules_dir / "module.yml").write_text(dump(rule_file(spec, module.groups(spec))))
    check = subprocess.run([promtool, "check", "rules", "--lint=all", "--lint-fatal",
                            str(rules_dir / "recording.yml"), str(rules_dir / "module.yml")],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = cases.unit_tests(spec)
    assert tests, "no promtool cases for the example spec"
    test_file = tests_dir / "module.test.yml"
    document = unit_test_file(["../rules/recording.yml", "../rules/module.yml"], tests)
    # Without an order promtool evaluates the groups in Go's random map order, so an alert reads a
    # recording rule either fresh or one evaluation old and the firing minute wobbles between runs.
    document["group_eval_order"] = [g.name for g in (*recording.groups(spec), *module.groups(spec))]
    test_file.write_text(dump(document))
    run = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def assert_every_selector_is_known(module: ModuleType, spec: Spec = SPEC) -> None:
    recorded = {r.record for g in (*recording.groups(spec), *module.groups(spec)) for r in g.rules
                if not isinstance(r, AlertRule)}
    known = catalog.series_names() | recorded
    for group in module.groups(spec):
        for rule in group.rules:
            names = selected_names(rule.expr)  # raises when the expression does not parse
            unknown = {n for n in names if n not in known and not is_own_series(n)}
            assert unknown == set(), f"{rule}: {unknown}"


# The provider alert catalogue, and the example spec's thresholds written out.
@pytest.mark.parametrize(("name", "severity", "team", "labels_kept", "for_", "panel"), [
    ("GenAIProviderErrorsHigh", "critical", "platform", {"provider"}, "1m", "provider-errors"),
    ("GenAIProviderLatencyHigh", "warning", "platform", {"provider"}, "10m", "latency"),
    ("GenAITeamErrorsHigh", "warning", None, {"team", "provider"}, "10m", "error-ratio"),
    ("GenAIModelErrorsHigh", "warning", "platform", {"model", "provider"}, "10m", "error-ratio"),
])
def test_provider_alerts_are_the_catalogued_ones(
    name: str, severity: str, team: str | None, labels_kept: set[str], for_: str, panel: str
) -> None:
    rule = rules_of(provider)[name]
    assert (rule.severity, rule.audience, rule.team, rule.for_) == (severity, "oncall", team, for_)
    assert (rule.dashboard, rule.panel) == ("overview", panel)
    by = "by (" + ", ".join(sorted(labels_kept, key=["team", "model", "provider"].index)) + ")"
    assert by in rule.expr


def test_only_the_provider_alert_may_page() -> None:
    assert {n for n, r in rules_of(provider).items() if r.severity == "critical"} == {"GenAIProviderErrorsHigh"}


@pytest.mark.parametrize("name", ["GenAIProviderErrorsHigh", "GenAITeamErrorsHigh", "GenAIModelErrorsHigh"])
def test_error_ratio_threshold_and_traffic_guard_come_from_the_spec(name: str) -> None:
    expr = rules_of(provider)[name].expr
    assert ") > 0.25\n" in expr  # alerting.provider_error_ratio
    assert "* 3600 >= 60" in expr  # slos.min_requests_per_hour
    assert 'outcome=~"provider_error|gateway_error|timeout|rate_limited"' in expr
    assert 'outcome!~"client_error|quota_exceeded|guardrail_blocked"' in expr


def test_latency_threshold_comes_from_the_spec() -> None:
    expr = rules_of(provider)["GenAIProviderLatencyHigh"].expr
    assert "histogram_quantile(0.95, sum by (provider, le)" in expr
    assert "> 20\n" in expr  # alerting.provider_latency_p95_seconds


def test_views_wait_longer_than_the_provider_alert_that_inhibits_them() -> None:
    rules = rules_of(provider)
    minutes = {n: int(r.for_.removesuffix("m")) for n, r in rules.items()}
    assert minutes["GenAITeamErrorsHigh"] > minutes["GenAIProviderErrorsHigh"]
    assert minutes["GenAIModelErrorsHigh"] > minutes["GenAIProviderErrorsHigh"]


def test_the_provider_alert_fires_before_everything_it_inhibits() -> None:
    # Inhibition silences only what is sent after the source fires: the provider alert's for (1m)
    # must be shorter than the SLO page's 2m, the ticket's 15m and the views' 10m.
    (source, targets, _) = next(i for i in routing.INHIBITIONS if i[0] == "GenAIProviderErrorsHigh")
    by_name: dict[str, set[str]] = {}
    for rule in alert_rules(SPEC):
        by_name.setdefault(rule.name, set()).add(rule.for_)
    assert by_name[source] == {"1m"}
    assert {name: by_name[name] for name in targets} == {
        "GenAITeamErrorsHigh": {"10m"},
        "GenAIModelErrorsHigh": {"10m"},
        "GenAIAvailabilitySLOPage": {"2m"},
        "GenAIAvailabilitySLOTicket": {"15m"},
        "GenAIProviderLatencyHigh": {"10m"},
    }


def test_outage_case_fires_the_provider_alert_first() -> None:
    # openai's 5m ratio passes 0.25 at 34m (4/14): firing at 35m, the team view at 42m, the model at 44m.
    (outage, _) = provider_cases.unit_tests(SPEC)
    firing = {(c.alertname, c.eval_time) for c in outage.alerts if c.expected}
    assert firing == {("GenAIProviderErrorsHigh", "35m"), ("GenAITeamErrorsHigh", "42m"),
                      ("GenAIModelErrorsHigh", "44m")}


def test_thresholds_follow_a_changed_spec() -> None:
    assert SPEC.alerting is not None
    alerting = SPEC.alerting.__class__(**{
        **{f: getattr(SPEC.alerting, f) for f in SPEC.alerting.__struct_fields__},
        "provider_error_ratio": 0.1, "provider_latency_p95_seconds": 45.0,
    })
    spec = SPEC.__class__(**{**{f: getattr(SPEC, f) for f in SPEC.__struct_fields__}, "alerting": alerting})
    rules = rules_of(provider, spec)
    assert ") > 0.1\n" in rules["GenAIProviderErrorsHigh"].expr
    assert "> 45\n" in rules["GenAIProviderLatencyHigh"].expr
    assert "(threshold 10%)" in rules["GenAIProviderErrorsHigh"].description
    # the promtool scenarios are written for ops.yaml's thresholds; they are not reused blindly
    assert provider_cases.unit_tests(spec) == ()


def test_no_alerting_section_means_no_provider_alerts() -> None:
    spec = SPEC.__class__(**{**{f: getattr(SPEC, f) for f in SPEC.__struct_fields__}, "alerting": None})
    assert provider.groups(spec) == ()


def test_every_selector_names_a_catalog_series_or_a_recording_rule() -> None:
    assert_every_selector_is_known(provider)


@pytest.mark.binaries
def test_promtool_proves_the_provider_alerts(tmp_path: Path) -> None:
    assert_promtool_proves(provider, provider_cases, tmp_path)
