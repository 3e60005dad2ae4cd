"""promtool cases for the meta-monitoring alerts (alerts/meta.py)."""

from __future__ import annotations

from alerts.cases.expected import expected_alert
from alerts.meta import alerts, notifications_text, rule_failures_text, sample_limit_text, watchdog_text
from alerts.model import AlertCase, SeriesInput, UnitTest
from contract.spec import Spec


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
            AlertCase("Watchdog", "0m", (expected_alert(spec, watchdog, {}, watchdog_text("1")),)),
            AlertCase("AlertmanagerNotificationsFailing", "20m", ()),
            AlertCase("AlertmanagerNotificationsFailing", "21m", (expected_alert(
                spec, notifications, {"integration": "email"}, notifications_text("email", "5"),
            ),)),
            AlertCase("PrometheusRuleFailures", "15m", ()),
            AlertCase("PrometheusRuleFailures", "16m", (expected_alert(
                spec, rules, {"rule_group": group}, rule_failures_text(group, "5"),
            ),)),
            AlertCase("PrometheusSampleLimitHit", "10m", ()),
            AlertCase("PrometheusSampleLimitHit", "11m", (expected_alert(
                spec, sample_limit, {"job": "prometheus"}, sample_limit_text("prometheus", "1"),
            ),)),
        ),
    ),)
