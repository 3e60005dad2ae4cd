"""Rules as data -> Prometheus rule files and promtool unit-test files (plain dicts, no YAML).

``with_links`` is where every alert gets its runbook and dashboard links and its routing
labels, so no rule module can forget them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alerts.model import AlertRule, RecordingRule, RuleGroup, UnitTest
from contract.dashboards import dashboard_url
from contract.spec import Spec


def runbook_url(spec: Spec, alertname: str) -> str:
    """Runbook pages live at a path equal to the alert's name, under the spec's base URL."""
    return f"{spec.organization.runbook_base_url.rstrip('/')}/{alertname}.md"


# Marks gatewatch's alerts, so the route fragment merged into an organisation's Alertmanager
# picks out only these (other rule sets have a Watchdog of their own).
SOURCE_LABEL = ("source", "gatewatch")


def alert_labels(rule: AlertRule) -> dict[str, str]:
    labels = {"severity": rule.severity, "audience": rule.audience, SOURCE_LABEL[0]: SOURCE_LABEL[1], **rule.labels}
    if rule.team is not None:
        labels["team"] = rule.team
    return labels


def alert_annotations(spec: Spec, rule: AlertRule) -> dict[str, str]:
    return {
        "summary": rule.summary,
        "description": rule.description,
        "runbook_url": runbook_url(spec, rule.name),
        "dashboard_url": dashboard_url(
            spec.organization.grafana_base_url, rule.dashboard, rule.panel, rule.dashboard_variables
        ),
    }


def with_links(spec: Spec, rule: AlertRule) -> dict[str, Any]:
    """The rule file entry of one alert: labels and annotations complete."""
    entry: dict[str, Any] = {"alert": rule.name, "expr": rule.expr}
    if rule.for_:
        entry["for"] = rule.for_
    entry["labels"] = alert_labels(rule)
    entry["annotations"] = alert_annotations(spec, rule)
    return entry


def _rule_entry(spec: Spec, rule: RecordingRule | AlertRule) -> dict[str, Any]:
    if isinstance(rule, AlertRule):
        return with_links(spec, rule)
    entry: dict[str, Any] = {"record": rule.record, "expr": rule.expr}
    if rule.labels:
        entry["labels"] = dict(rule.labels)
    return entry


def rule_file(spec: Spec, groups: Iterable[RuleGroup]) -> dict[str, Any]:
    rendered = []
    for group in groups:
        entry: dict[str, Any] = {"name": group.name}
        if group.interval:
            entry["interval"] = group.interval
        entry["rules"] = [_rule_entry(spec, rule) for rule in group.rules]
        rendered.append(entry)
    return {"groups": rendered}


def unit_test_file(
    rule_files: list[str], tests: Iterable[UnitTest], evaluation_interval: str = "1m",
    group_eval_order: list[str] | None = None,
) -> dict[str, Any]:
    """A promtool test file over ``rule_files`` (paths relative to the test file).

    ``group_eval_order`` pins the order groups are evaluated in (recording groups first):
    without it promtool 2.42 picks one at random, and an alert reading a recording rule sees
    it current in some runs and a minute old in others.
    """
    return {
        "rule_files": rule_files,
        "evaluation_interval": evaluation_interval,
        **({"group_eval_order": group_eval_order} if group_eval_order else {}),
        "tests": [
            {
                "name": test.name,
                "interval": test.interval,
                "input_series": [{"series": s.series, "values": s.values} for s in test.series],
                "alert_rule_test": [
                    {
                        "eval_time": case.eval_time,
                        "alertname": case.alertname,
                        "exp_alerts": [
                            {"exp_labels": dict(e.labels), "exp_annotations": dict(e.annotations)}
                            for e in case.expected
                        ],
                    }
                    for case in test.alerts
                ],
            }
            for test in tests
        ],
    }
