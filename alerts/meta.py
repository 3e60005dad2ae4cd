"""Meta-monitoring: the alerting path watching itself.

Watchdog always fires, so a dead-man's switch outside this stack (alerting.deadman_receiver)
pages when its notifications stop: that is the only way to learn that Prometheus, Alertmanager
or the path between them is down. The others catch Alertmanager failing to deliver, rules
failing to evaluate, and scrapes refused for exceeding ``sample_limit``.
"""

from __future__ import annotations

from alerts.model import AlertRule, AlertText, RuleGroup
from contract.spec import Spec


def watchdog_text(value: str) -> AlertText:
    return AlertText(
        "The alerting pipeline is alive",
        f"Always firing (value {value}) so the dead-man's switch hears from Prometheus and Alertmanager; when it "
        "stops arriving, the alerting path itself is broken.",
    )


def notifications_text(integration: str, value: str) -> AlertText:
    return AlertText(
        f"Alertmanager cannot deliver {integration} notifications",
        f"{value} {integration} notifications failed in the last 5 minutes: alerts routed there reach nobody.",
    )


def rule_failures_text(rule_group: str, value: str) -> AlertText:
    return AlertText(
        f"Rules of {rule_group} fail to evaluate",
        f"{value} rule evaluations failed in {rule_group} in the last 5 minutes: the alerts in that group cannot "
        "fire.",
    )


def sample_limit_text(job: str, value: str) -> AlertText:
    return AlertText(
        "Scrapes exceed their sample_limit",
        f"{value} scrapes seen by {job} in the last 5 minutes exceeded their sample_limit and were dropped whole: "
        "the target's metrics are missing.",
    )


def alerts() -> tuple[AlertRule, ...]:
    value = "{{ $value | humanize }}"
    watchdog = watchdog_text("{{ $value }}")
    notifications = notifications_text("{{ $labels.integration }}", value)
    rule_failures = rule_failures_text("{{ $labels.rule_group }}", value)
    sample_limit = sample_limit_text("{{ $labels.job }}", value)
    return (
        AlertRule(
            name="Watchdog",
            expr="vector(1)",
            for_="",
            severity="info",
            audience="oncall",
            summary=watchdog.summary,
            description=watchdog.description,
            dashboard="overview",
            panel="firing-alerts",
        ),
        AlertRule(
            name="AlertmanagerNotificationsFailing",
            expr="sum by (integration) (increase(alertmanager_notifications_failed_total[5m])) > 0",
            for_="10m",
            severity="critical",
            audience="oncall",
            summary=notifications.summary,
            description=notifications.description,
            dashboard="overview",
            panel="firing-alerts",
        ),
        AlertRule(
            name="PrometheusRuleFailures",
            expr="sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total[5m])) > 0",
            for_="5m",
            severity="critical",
            audience="oncall",
            summary=rule_failures.summary,
            description=rule_failures.description,
            dashboard="overview",
            panel="firing-alerts",
        ),
        AlertRule(
            name="PrometheusSampleLimitHit",
            expr="sum by (job) (increase(prometheus_target_scrapes_exceeded_sample_limit_total[5m])) > 0",
            for_="",
            severity="warning",
            audience="oncall",
            summary=sample_limit.summary,
            description=sample_limit.description,
            dashboard="overview",
            panel="exporter-health",
        ),
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    if spec.alerting is None:
        return ()
    return (RuleGroup("gatewatch-meta-alerts", alerts()),)
