"""Security alerts: what they watch, read like the spec, and proven by the real promtool."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import security
from alerts.cases import security as security_cases
from tests.support.promql import selected_names
from tests.test_rules_provider import SPEC, assert_every_selector_is_known, assert_promtool_proves, rules_of

GUARDRAILS = 'genai_guardrail_evaluations_total{result="failed_open"}'


# The security alert catalogue: every security alert goes to security operations, per team.
@pytest.mark.parametrize(("name", "severity", "labels_kept", "for_", "panel"), [
    ("GenAIGuardrailBlockSurge", "warning", "team, app, guardrail", "10m", "block-rate"),
    ("GenAIGuardrailFailOpen", "critical", "team, guardrail", "", "fail-open"),
    ("GenAIGuardrailBypass", "critical", "team, app", "", "guardrail-bypass"),
    ("GenAISensitiveDataRepeated", "warning", "team, app, entity", "5m", "sensitive-entities"),
    ("GenAIUnapprovedModelUse", "warning", "team, app", "", "unapproved-models"),
    ("GenAIClassificationBreach", "critical", "team, app", "", "policy-violations"),
    ("GenAIAppVolumeAnomaly", "critical", "team, app", "5m", "app-volume"),
])
def test_security_alerts_are_the_catalogued_ones(
    name: str, severity: str, labels_kept: str, for_: str, panel: str
) -> None:
    rule = rules_of(security)[name]
    assert (rule.severity, rule.audience, rule.team, rule.for_) == (severity, "security", None, for_)
    assert (rule.dashboard, rule.panel) == ("security", panel)
    assert rule.dashboard_variables == {"team": "{{ $labels.team }}"}
    # the two rate alerts read recorded series that carry exactly these labels already
    level = {"GenAIAppVolumeAnomaly": "team_app:", "GenAIGuardrailBlockSurge": "team_app_guardrail:"}.get(name)
    if level:
        assert all(n.startswith(level) for n in selected_names(rule.expr)), selected_names(rule.expr)
    else:
        assert f"by ({labels_kept})" in rule.expr


@pytest.mark.parametrize(("name", "policy"), [
    ("GenAIGuardrailBypass", "guardrail_bypass"),
    ("GenAIUnapprovedModelUse", "unapproved_model"),
    ("GenAIClassificationBreach", "classification_breach"),
])
def test_each_policy_has_its_alert(name: str, policy: str) -> None:
    assert f'genai_policy_violations_total{{policy="{policy}"}}' in rules_of(security)[name].expr


def test_first_violation_of_a_new_label_set_is_seen() -> None:
    assert security.increased(GUARDRAILS, "team, guardrail") == (
        f"sum by (team, guardrail) (increase({GUARDRAILS}[5m])) > 0\n"
        "or\n"
        "(\n"
        f"  sum by (team, guardrail) ({GUARDRAILS}) > 0\n"
        "  unless\n"
        f"  sum by (team, guardrail) ({GUARDRAILS} offset 5m)\n"
        ")"
    )


# ops.yaml: guardrail_block_factor 5, sensitive_entities_per_hour 20, app_volume_factor 8.
@pytest.mark.parametrize(("name", "fragment"), [
    ("GenAIGuardrailBlockSurge",
     "> 5 * 60 * avg_over_time(team_app_guardrail:genai_guardrail_blocks:rate5m[1d] offset 1h)"),
    ("GenAIGuardrailBlockSurge", "and\n  team_app_guardrail:genai_guardrail_blocks:rate5m * 60 > 1\n"),
    ("GenAISensitiveDataRepeated", "sum by (team, app, entity) (increase(genai_sensitive_entities_total[1h]))\n> 20"),
    ("GenAIAppVolumeAnomaly", "> 8 * 60 * (\n"),
    ("GenAIAppVolumeAnomaly",
     "(team_app:genai_requests:rate1h offset 1w > avg_over_time(team_app:genai_requests:rate5m[1d] offset 1h))\n"
     "    or avg_over_time(team_app:genai_requests:rate5m[1d] offset 1h)"),
    ("GenAIAppVolumeAnomaly", "team_app:genai_requests:rate5m * 60 > 10"),
])
def test_thresholds_come_from_the_spec(name: str, fragment: str) -> None:
    assert fragment in rules_of(security)[name].expr


def test_block_surge_also_fires_for_a_first_wave_with_no_baseline() -> None:
    # A block counter is born with its first block: with no sample in the baseline window the
    # ratio branch is empty, so a second branch asks only for 5 blocks a minute (5 x the floor of 1).
    rate = "team_app_guardrail:genai_guardrail_blocks:rate5m"
    baseline = f"avg_over_time({rate}[1d] offset 1h)"
    assert rules_of(security)["GenAIGuardrailBlockSurge"].expr == (
        "(\n"
        f"  {rate} * 60\n"
        f"  > 5 * 60 * {baseline}\n"
        "  and\n"
        f"  {rate} * 60 > 1\n"
        ")\n"
        "or\n"
        "(\n"
        f"  {rate} * 60 > 5\n"
        "  unless on (team, app, guardrail)\n"
        f"  {baseline}\n"
        ")"
    )


def test_block_rate_is_recorded_per_team_app_and_guardrail() -> None:
    (signals, _) = security.groups(SPEC)
    assert [(r.record, r.expr) for r in signals.rules] == [(  # type: ignore[union-attr]
        "team_app_guardrail:genai_guardrail_blocks:rate5m",
        'sum by (team, app, guardrail) (rate(genai_guardrail_evaluations_total{result="blocked"}[5m]))',
    )]


def test_no_label_or_annotation_names_a_person_or_a_payload() -> None:
    for rule in rules_of(security).values():
        text = " ".join((rule.summary, rule.description, *rule.labels.values()))
        assert "@" not in text and "prompt" not in text.lower() and "user" not in text.lower()


def test_every_selector_names_a_catalog_series_or_a_recording_rule() -> None:
    assert_every_selector_is_known(security)


@pytest.mark.binaries
def test_promtool_proves_the_security_alerts(tmp_path: Path) -> None:
    assert_promtool_proves(security, security_cases, tmp_path)
