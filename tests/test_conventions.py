"""Conventions every generated alert and rule keeps, checked over the whole rendered build."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts.model import NAME
from alerts.prometheus_rules import alert_rules, all_groups
from contract import catalog
from contract.spec import load
from generate import render_all
from tests.paths import EXAMPLE_SPEC
from tests.support.promql import is_own_series, selected_names

SPEC = load(EXAMPLE_SPEC)
FILES = render_all(SPEC)
RULE_FILES = {path: yaml.safe_load(text) for path, text in FILES.items() if path.startswith("prometheus/rules/")}
ALERTS = [rule for doc in RULE_FILES.values() for group in doc["groups"] for rule in group["rules"] if "alert" in rule]
RECORDED = {rule["record"] for doc in RULE_FILES.values() for group in doc["groups"] for rule in group["rules"]
            if "record" in rule}
SECTIONS = ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation", "## Escalation")
# Every expected firing alert in the generated promtool tests: (alertname, its full label set).
FIRING = [
    (case["alertname"], expected["exp_labels"])
    for path, text in FILES.items() if path.startswith("prometheus/tests/")
    for test in yaml.safe_load(text)["tests"]
    for case in test["alert_rule_test"]
    for expected in case["exp_alerts"]
]


def test_there_are_alerts_for_every_concern() -> None:
    names = {a["alert"] for a in ALERTS}
    for expected in ("GenAIAvailabilitySLOPage", "GenAIBudgetExhausted", "GenAICostAnomaly", "GenAIProviderErrorsHigh",
                     "GenAIGuardrailFailOpen", "GenAIExporterDown", "Watchdog", "GenAIRunawayLoop"):
        assert expected in names


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_alert_names_labels_and_annotations(alert: dict) -> None:
    assert NAME.match(alert["alert"]) and len(alert["alert"]) <= 40
    labels, annotations = alert["labels"], alert["annotations"]
    assert labels["severity"] in ("critical", "warning", "info")
    assert labels["audience"] in ("oncall", "budget_owner", "security")
    # a fixed team label, or one the expression keeps (as every promtool case shows it firing)
    shown = [labels_ for name, labels_ in FIRING if name == alert["alert"]]
    assert "team" in labels or (shown and all("team" in labels_ for labels_ in shown))
    assert set(annotations) >= {"summary", "description", "runbook_url", "dashboard_url"}
    assert "{{" in annotations["description"], "the description carries the live value"
    assert annotations["runbook_url"] == f"{SPEC.organization.runbook_base_url}/{alert['alert']}.md"
    assert annotations["dashboard_url"].startswith(f"{SPEC.organization.grafana_base_url}/d/gatewatch-")


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_every_runbook_url_resolves_to_a_page_with_all_five_sections(alert: dict) -> None:
    page = FILES.get(f"runbooks/{alert['alert']}.md")
    assert page is not None, f"no runbook for {alert['alert']}"
    positions = [page.find(section) for section in SECTIONS]
    missing = [section for section, at in zip(SECTIONS, positions, strict=True) if at < 0]
    assert not missing, f"{alert['alert']}: missing {missing}"
    assert positions == sorted(positions), "sections in the conventional order"


def test_groups_hold_at_most_twenty_rules() -> None:
    for doc in RULE_FILES.values():
        for group in doc["groups"]:
            assert len(group["rules"]) <= 20, group["name"]


def test_every_selector_names_a_catalog_metric_a_recording_rule_or_a_known_own_series() -> None:
    known = catalog.series_names() | RECORDED
    for doc in RULE_FILES.values():
        for group in doc["groups"]:
            for rule in group["rules"]:
                for name in selected_names(rule["expr"]):
                    assert name in known or is_own_series(name), f"{rule.get('alert') or rule['record']}: {name}"


def test_recording_rule_names_follow_level_metric_operation() -> None:
    for record in RECORDED:
        level, metric, operation = record.split(":")
        assert level and metric and operation, record


def test_every_alert_is_proven_by_a_promtool_case_that_fires_and_one_that_is_silent() -> None:
    fired: set[str] = set()
    silent: set[str] = set()
    for path, text in FILES.items():
        if path.startswith("prometheus/tests/"):
            for test in yaml.safe_load(text)["tests"]:
                for case in test["alert_rule_test"]:
                    (fired if case["exp_alerts"] else silent).add(case["alertname"])
    names = {rule.name for rule in alert_rules(SPEC)}
    assert names - fired == set(), "alerts never shown firing"
    assert names - {"Watchdog"} - silent == set(), "alerts never shown silent"


def test_rule_groups_come_from_one_composition() -> None:
    rendered = sum(len(group["rules"]) for doc in RULE_FILES.values() for group in doc["groups"])
    assert sum(len(g.rules) for g in all_groups(SPEC)) == rendered


def test_generated_output_is_deterministic() -> None:
    assert render_all(SPEC) == FILES


def test_committed_build_is_what_the_example_spec_renders() -> None:
    build = Path(__file__).resolve().parent.parent / "build"
    stale = [p for p, text in FILES.items() if not (build / p).exists() or (build / p).read_text() != text]
    assert stale == [], "run `python generate.py` and commit build/"


def test_selected_names_reads_a_name_matcher() -> None:
    assert selected_names('sum(rate({__name__="genai_requests_total", team="a"}[5m])) / up') == {
        "genai_requests_total", "up",
    }
    with pytest.raises(ValueError, match="without a metric name"):
        selected_names('{__name__=~"genai_.*"}')
