"""Meta-monitoring: the alerting path watching itself.

Watchdog always fires, so a dead-man's switch outside this stack (alerting.deadman_receiver)
pages when its notifications stop: that is the only way to learn that Prometheus, Alertmanager
or the path between them is down. The others catch Alertmanager failing to deliver, rules
failing to evaluate, and scrapes refused for exceeding ``sample_limit``.
"""

from __future__ import annotations

from alerts.cases import expected_alert
from alerts.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, SeriesInput, UnitTest
from exporter.spec import Spec


def alerts() -> tuple[AlertRule, ...]:
    return (
        AlertRule(
            name="Watchdog",
            expr="vector(1)",
            for_="",
            severity="info",
            audience="oncall",
            summary="The alerting pipeline is alive",
            description=(
                "Always firing (value {{ $value }}) so the dead-man's switch hears from Prometheus and "
                "Alertmanager; when it stops arriving, the alerting path itself is broken."
            ),
            dashboard="overview",
            panel="firing-alerts",
        ),
        AlertRule(
            name="AlertmanagerNotificationsFailing",
            expr="sum by (integration) (increase(alertmanager_notifications_failed_total[5m])) > 0",
            for_="10m",
            severity="critical",
            audience="oncall",
            summary="Alertmanager cannot deliver {{ $labels.integration }} notifications",
            description=(
                "{{ $value | humanize }} {{ $labels.integration }} notifications failed in the last 5 minutes: "
                "alerts routed there reach nobody."
            ),
            dashboard="overview",
            panel="firing-alerts",
        ),
        AlertRule(
            name="PrometheusRuleFailures",
            expr="sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total[5m])) > 0",
            for_="5m",
            severity="critical",
            audience="oncall",
            summary="Rules of {{ $labels.rule_group }} fail to evaluate",
            description=(
                "{{ $value | humanize }} rule evaluations failed in {{ $labels.rule_group }} in the last "
                "5 minutes: the alerts in that group cannot fire."
            ),
            dashboard="overview",
            panel="firing-alerts",
        ),
        AlertRule(
            name="PrometheusSampleLimitHit",
            expr="sum by (job) (increase(prometheus_target_scrapes_exceeded_sample_limit_total[5m])) > 0",
            for_="",
            severity="warning",
            audience="oncall",
            summary="Scrapes exceed their sample_limit",
            description=(
                "{{ $value | humanize }} scrapes seen by {{ $labels.job }} in the last 5 minutes exceeded their "
                "sample_limit and were dropped whole: the target's metrics are missing."
            ),
            dashboard="overview",
            panel="exporter-health",
        ),
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    if spec.alerting is None:
        return ()
    return (RuleGroup("gatewatch-meta-alerts", alerts()),)


def _expected(spec: Spec, rule: AlertRule, labels: dict[str, str], summary: str, description: str) -> ExpectedAlert:
    return expected_alert(spec, rule, labels, summary, description)


def unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    """Failures start at minute 11, one a minute, on counters that were 0: increase over 5m is 1
    at 11m (pending) and 5 from 15m. Notifications fire at 21m (for 10m), rule failures at 16m
    (for 5m), the sample limit at once (11m). Watchdog fires from the first evaluation."""
    if spec.alerting is None:
        return ()
    watchdog, notifications, rules, sample_limit = alerts()
    group = "/etc/prometheus/rules/gatewatch-alerts.yml;gatewatch-provider-alerts"
    return (UnitTest(
        name="meta-monitoring: watchdog, failing notifications, failing rules, sample limit",
        interval="1m",
        series=(
            SeriesInput('alertmanager_notifications_failed_total{integration="email", instance="am:9093"}',
                        "0x10 1+1x20"),
            SeriesInput('alertmanager_notifications_failed_total{integration="pagerduty", instance="am:9093"}',
                        "0x30"),
            SeriesInput(f'prometheus_rule_evaluation_failures_total{{rule_group="{group}"}}', "0x10 1+1x20"),
            SeriesInput('prometheus_target_scrapes_exceeded_sample_limit_total{job="prometheus"}', "0x10 1x20"),
        ),
        alerts=(
            AlertCase("Watchdog", "0m", (_expected(
                spec, watchdog, {}, "The alerting pipeline is alive",
                "Always firing (value 1) so the dead-man's switch hears from Prometheus and Alertmanager; when it "
                "stops arriving, the alerting path itself is broken.",
            ),)),
            AlertCase("AlertmanagerNotificationsFailing", "20m", ()),
            AlertCase("AlertmanagerNotificationsFailing", "21m", (_expected(
                spec, notifications, {"integration": "email"},
                "Alertmanager cannot deliver email notifications",
                "5 email notifications failed in the last 5 minutes: alerts routed there reach nobody.",
            ),)),
            AlertCase("PrometheusRuleFailures", "15m", ()),
            AlertCase("PrometheusRuleFailures", "16m", (_expected(
                spec, rules, {"rule_group": group},
                f"Rules of {group} fail to evaluate",
                f"5 rule evaluations failed in {group} in the last 5 minutes: the alerts in that group cannot fire.",
            ),)),
            AlertCase("PrometheusSampleLimitHit", "10m", ()),
            AlertCase("PrometheusSampleLimitHit", "11m", (_expected(
                spec, sample_limit, {"job": "prometheus"},
                "Scrapes exceed their sample_limit",
                "1 scrapes seen by prometheus in the last 5 minutes exceeded their sample_limit and were dropped "
                "whole: the target's metrics are missing.",
            ),)),
        ),
    ),)
