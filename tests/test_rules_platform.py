"""Platform and meta-monitoring alerts: what they watch, read like the spec, and proven by the
real promtool."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from alerts import meta, platform
from alerts.cases import meta as meta_cases
from alerts.cases import platform as platform_cases
from contract.spec import spec_hash
from tests.test_rules_provider import SPEC, assert_every_selector_is_known, assert_promtool_proves, rules_of

# Tampering with the audit trail is a security matter; everything else here pages on-call.
AUDIT_SECURITY_ALERTS = ("GenAIAuditChainBroken", "GenAIAuditChainShrunk")


# The platform and meta alert catalogue, audit chain alerts included: every one is
# team platform, on-call unless it is about tampering with the audit trail.
@pytest.mark.parametrize(("module", "name", "severity", "for_", "panel"), [
    (platform, "GenAIExporterDown", "critical", "3m", "exporter-health"),
    (platform, "GenAITelemetryStale", "critical", "5m", "freshness"),
    (platform, "GenAIRecordsRejected", "warning", "10m", "rejected-records"),
    (platform, "GenAICardinalityOverflow", "warning", "", "cardinality"),
    (platform, "GenAISpecOutOfStep", "warning", "15m", "exporter-health"),
    (platform, "GenAIStateWriteFailing", "warning", "10m", "exporter-health"),
    (platform, "GenAISpecReloadFailed", "warning", "", "exporter-health"),
    (platform, "GenAIAuditChainStalled", "warning", "5m", "exporter-health"),
    (platform, "GenAIAuditChainBroken", "critical", "", "exporter-health"),
    (platform, "GenAIAuditChainShrunk", "critical", "", "exporter-health"),
    (meta, "Watchdog", "info", "", "firing-alerts"),
    (meta, "AlertmanagerNotificationsFailing", "critical", "10m", "firing-alerts"),
    (meta, "PrometheusRuleFailures", "critical", "5m", "firing-alerts"),
    (meta, "PrometheusSampleLimitHit", "warning", "", "exporter-health"),
])
def test_platform_and_meta_alerts_are_the_catalogued_ones(
    module: ModuleType, name: str, severity: str, for_: str, panel: str
) -> None:
    rule = rules_of(module)[name]
    audience = "security" if name in AUDIT_SECURITY_ALERTS else "oncall"
    assert (rule.severity, rule.audience, rule.team, rule.for_) == (severity, audience, "platform", for_)
    assert (rule.dashboard, rule.panel) == ("overview", panel)


@pytest.mark.parametrize(("module", "name", "fragment"), [
    # the lead's prometheus.yml scrapes the exporter as job "gatewatch"
    (platform, "GenAIExporterDown", 'up{job="gatewatch"} == 0\nor\n'),
    (platform, "GenAIExporterDown", 'label_replace(absent(up{job="gatewatch"}), "instance", "none", "", "")'),
    # alerting.stale_after_seconds 600; yesterday's hour busy at slos.min_requests_per_hour 60
    (platform, "GenAITelemetryStale", "time() - max(genai_exporter_last_event_timestamp_seconds) > 600\n"),
    (platform, "GenAITelemetryStale",
     'sum(rate(genai_exporter_events_total{result="accepted"}[1h] offset 1d)) * 3600 >= 60'),
    (platform, "GenAIRecordsRejected", "> 0.05"),
    (platform, "GenAIRecordsRejected", 'sum by (format) (rate(genai_exporter_events_total{result="rejected"}[5m]))'),
    (platform, "GenAICardinalityOverflow", "sum by (label) (increase(genai_exporter_label_overflow_total[15m])) > 0"),
    (platform, "GenAIStateWriteFailing",
     "sum by (instance) (increase(genai_exporter_state_write_failures_total[10m])) > 0"),
    (platform, "GenAISpecReloadFailed",
     'sum by (instance) (increase(genai_exporter_spec_reloads_total{result="failure"}[15m])) > 0'),
    (platform, "GenAIAuditChainBroken", "min by (instance) (genai_audit_chain_verified) == 0"),
    (platform, "GenAIAuditChainShrunk",
     "max by (instance) (genai_audit_chain_length)\n< max by (instance) (max_over_time(genai_audit_chain_length[7d]))"),
    (platform, "GenAIAuditChainStalled",
     'sum by (instance) (increase(genai_guardrail_evaluations_total{result!="passed"}[10m])) > 0\nor\n'),
    (platform, "GenAIAuditChainStalled", "sum by (instance) (increase(genai_sensitive_entities_total[10m])) > 0\n"),
    (platform, "GenAIAuditChainStalled",
     "and on (instance)\nmax by (instance) (changes(genai_audit_chain_length[10m])) == 0"),
    (meta, "Watchdog", "vector(1)"),
    (meta, "AlertmanagerNotificationsFailing",
     "sum by (integration) (increase(alertmanager_notifications_failed_total"),
    (meta, "PrometheusRuleFailures", "sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total"),
    (meta, "PrometheusSampleLimitHit",
     "sum by (job) (increase(prometheus_target_scrapes_exceeded_sample_limit_total"),
])
def test_expressions_watch_what_the_spec_says(module: ModuleType, name: str, fragment: str) -> None:
    assert fragment in rules_of(module)[name].expr


def test_spec_out_of_step_embeds_the_hash_the_rules_were_generated_from() -> None:
    expr = rules_of(platform)["GenAISpecOutOfStep"].expr
    assert expr == f'count(genai_spec_info{{hash!="{spec_hash(SPEC)}"}}) > 0'
    assert len(spec_hash(SPEC)) == 16


def test_watchdog_is_the_only_info_alert_and_never_waits() -> None:
    infos = [r for m in (platform, meta) for r in rules_of(m).values() if r.severity == "info"]
    assert [r.name for r in infos] == ["Watchdog"]


@pytest.mark.parametrize("module", [platform, meta])
def test_every_selector_names_a_catalog_series_or_an_own_series(module: ModuleType) -> None:
    assert_every_selector_is_known(module)


@pytest.mark.binaries
@pytest.mark.parametrize(("module", "cases"), [(platform, platform_cases), (meta, meta_cases)])
def test_promtool_proves_the_platform_and_meta_alerts(module: ModuleType, cases: ModuleType, tmp_path: Path) -> None:
    assert_promtool_proves(module, cases, tmp_path)
