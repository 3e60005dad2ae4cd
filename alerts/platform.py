"""Platform alerts for on-call: the exporter and its telemetry, not the traffic it describes.

An exporter that is down, records that stop arriving while the gateway should be busy, records
rejected as malformed, label values folded into ``__other__``, a spec the exporter runs that is
not the one the rules were generated from, a state directory or a spec reload that fails, and
an audit chain that is broken, shrunk or stalled (these two go to security operations).
"""

from __future__ import annotations

from alerts.model import AlertRule, AlertText, RuleGroup
from alerts.prometheus_config import EXPORTER_JOB
from alerts.security import increased
from contract import catalog
from contract.spec import Spec, spec_hash

SECONDS_PER_HOUR = 3600
# A few malformed records are a client bug worth a ticket; below this share they are noise.
REJECTED_SHARE = 0.05
NO_TARGET = "none"
NO_TARGET_STATE = "the job has no target at all"


def _exporter_down() -> str:
    up = f'up{{job="{EXPORTER_JOB}"}}'
    # absent() carries no instance; name the case so the notification says what happened.
    return f'{up} == 0\nor\nlabel_replace(absent({up}), "instance", "{NO_TARGET}", "", "")'


def _telemetry_stale(spec: Spec) -> str:
    thresholds = spec.thresholds
    accepted = f'{catalog.EXPORTER_EVENTS.name}{{result="accepted"}}'
    # "Busy" reuses the SLOs' quiet-hour threshold: the same hour yesterday must have had at
    # least that many records for silence now to mean broken telemetry rather than a quiet night.
    return (
        f"time() - max({catalog.EXPORTER_LAST_EVENT.name}) > {thresholds.stale_after_seconds:g}\n"
        f"and\n"
        f"sum(rate({accepted}[1h] offset 1d)) * {SECONDS_PER_HOUR} >= {spec.slos.min_requests_per_hour:g}"
    )


def _records_rejected() -> str:
    events = catalog.EXPORTER_EVENTS.name
    return (
        f'sum by (format) (rate({events}{{result="rejected"}}[5m]))\n'
        # Ignored OTLP spans (HTTP, database, agent spans) are not candidates: a service that
        # exports every span must not dilute its model calls' rejections.
        f'/ sum by (format) (rate({events}{{result!="ignored"}}[5m]))\n'
        f"> {REJECTED_SHARE:g}"
    )


# How far back a shrunk audit chain is noticed: the longest the chain's outside record is read.
AUDIT_SHRINK_WINDOW = "7d"
AUDIT_STALL_WINDOW = "10m"


def _audit_chain_shrunk() -> str:
    length = catalog.AUDIT_CHAIN_LENGTH.name
    # The length only grows; lower than its own recent maximum means lines left the chain.
    return (
        f"max by (instance) ({length})\n"
        f"< max by (instance) (max_over_time({length}[{AUDIT_SHRINK_WINDOW}]))"
    )


def _audit_chain_stalled() -> str:
    window = AUDIT_STALL_WINDOW
    findings = (
        f'{catalog.GUARDRAIL_EVALUATIONS.name}{{result!="passed"}}',
        catalog.POLICY_VIOLATIONS.name,
        catalog.SENSITIVE_ENTITIES.name,
    )
    # Each kind of finding on its own: a sum across them would vanish where one kind has no series.
    events = "\nor\n".join(f"sum by (instance) (increase({selector}[{window}])) > 0" for selector in findings)
    return (
        f"(\n{events}\n)\n"
        f"and on (instance)\n"
        f"max by (instance) (changes({catalog.AUDIT_CHAIN_LENGTH.name}[{window}])) == 0"
    )


def up_state(value: str) -> str:
    return f"up = {value}"


def exporter_down_text(instance: str, state: str) -> AlertText:
    """``state``: ``up_state(value)`` for a target that is down, NO_TARGET_STATE for none at all."""
    return AlertText(
        f"gatewatch exporter {instance} is down or not scraped",
        f"Prometheus has not scraped the {EXPORTER_JOB} exporter {instance} for 3 minutes ({state}): every "
        "gatewatch alert is blind meanwhile.",
    )


def stale_text(value: str, stale_after_seconds: float) -> AlertText:
    return AlertText(
        "No gateway records arrive, though this hour was busy yesterday",
        f"The last gateway record was accepted {value} ago (threshold {stale_after_seconds:g}s) while the same "
        "hour yesterday was busy: the gateways' loggers or the path to the exporter are broken, and spend goes "
        "uncounted.",
    )


def rejected_text(format_: str, value: str) -> AlertText:
    return AlertText(
        f"The exporter rejects {format_} records",
        f"{value} of {format_} records over the last 5 minutes were rejected as malformed (threshold "
        f"{REJECTED_SHARE * 100:g}%): their requests and spend are missing.",
    )


def overflow_text(label: str, value: str) -> AlertText:
    return AlertText(
        f"{label} values fold into {catalog.OTHER}",
        f"{value} {label} values beyond the spec's cardinality limit were folded into {catalog.OTHER} in the last "
        "15 minutes: counts and cost are kept, attribution is lost.",
    )


def out_of_step_text(value: str, generated_from: str) -> AlertText:
    return AlertText(
        "An exporter runs another spec than the rules were generated from",
        f"{value} gatewatch exporter(s) run a spec whose hash is not {generated_from}, the spec these rules were "
        "generated from: regenerate and reload one of them.",
    )


def state_write_text(instance: str, value: str) -> AlertText:
    return AlertText(
        f"Exporter {instance} cannot write its state directory",
        f"{value} state-directory writes failed on {instance} in the last 10 minutes: a restart now would lose "
        "counts since the last good write.",
    )


def chain_broken_text(instance: str) -> AlertText:
    return AlertText(
        f"The audit chain of exporter {instance} is broken",
        f"The audit log of exporter {instance} failed verification when it started: a line was edited, deleted "
        "or reordered, or a day file is missing. The log is no longer evidence until the break is explained.",
    )


def chain_shrunk_text(instance: str, value: str) -> AlertText:
    return AlertText(
        f"The audit chain of exporter {instance} is shorter than it was",
        f"The audit chain of exporter {instance} holds {value} lines, fewer than Prometheus recorded in the last "
        f"{AUDIT_SHRINK_WINDOW}: lines were cut from its end or day files deleted.",
    )


def chain_stalled_text(instance: str, value: str) -> AlertText:
    return AlertText(
        f"Exporter {instance} counts security events but writes no audit lines",
        f"Exporter {instance} counted {value} guardrail findings, policy violations or sensitive entities in the "
        f"last {AUDIT_STALL_WINDOW} while its audit chain did not grow: those events are missing from the audit "
        "log.",
    )


def reload_failed_text(instance: str, value: str) -> AlertText:
    return AlertText(
        f"Exporter {instance} refused a spec reload",
        f"{value} spec reloads failed on {instance} in the last 15 minutes: the exporter keeps running its "
        "previous spec.",
    )


def alerts(spec: Spec) -> tuple[AlertRule, ...]:
    thresholds = spec.thresholds
    generated_from = spec_hash(spec)
    instance, value = "{{ $labels.instance }}", "{{ $value | humanize }}"
    down_state = (
        f'{{{{ if eq $labels.instance "{NO_TARGET}" }}}}{NO_TARGET_STATE}'
        f'{{{{ else }}}}{up_state("{{ $value }}")}{{{{ end }}}}'
    )
    down = exporter_down_text(instance, down_state)
    stale = stale_text("{{ $value | humanizeDuration }}", thresholds.stale_after_seconds)
    rejected = rejected_text("{{ $labels.format }}", "{{ $value | humanizePercentage }}")
    overflow = overflow_text("{{ $labels.label }}", value)
    out_of_step = out_of_step_text("{{ $value }}", generated_from)
    state_write = state_write_text(instance, value)
    broken = chain_broken_text(instance)
    shrunk = chain_shrunk_text(instance, "{{ $value }}")
    stalled = chain_stalled_text(instance, value)
    reload_failed = reload_failed_text(instance, value)
    return (
        AlertRule(
            name="GenAIExporterDown",
            expr=_exporter_down(),
            for_="3m",
            severity="critical",
            audience="oncall",
            summary=down.summary,
            description=down.description,
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAITelemetryStale",
            expr=_telemetry_stale(spec),
            for_="5m",
            severity="critical",
            audience="oncall",
            summary=stale.summary,
            description=stale.description,
            dashboard="overview",
            panel="freshness",
        ),
        AlertRule(
            name="GenAIRecordsRejected",
            expr=_records_rejected(),
            for_="10m",
            severity="warning",
            audience="oncall",
            summary=rejected.summary,
            description=rejected.description,
            dashboard="overview",
            panel="rejected-records",
        ),
        AlertRule(
            name="GenAICardinalityOverflow",
            expr=increased(catalog.EXPORTER_LABEL_OVERFLOW.name, "label", "15m"),
            for_="",
            severity="warning",
            audience="oncall",
            summary=overflow.summary,
            description=overflow.description,
            dashboard="overview",
            panel="cardinality",
        ),
        AlertRule(
            name="GenAISpecOutOfStep",
            expr=f'count({catalog.SPEC_INFO.name}{{hash!="{generated_from}"}}) > 0',
            for_="15m",
            severity="warning",
            audience="oncall",
            summary=out_of_step.summary,
            description=out_of_step.description,
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAIStateWriteFailing",
            expr=(
                f"sum by (instance) (increase({catalog.EXPORTER_STATE_WRITE_FAILURES.name}[10m])) > 0"
            ),
            for_="10m",
            severity="warning",
            audience="oncall",
            summary=state_write.summary,
            description=state_write.description,
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAIAuditChainBroken",
            expr=f"min by (instance) ({catalog.AUDIT_CHAIN_VERIFIED.name}) == 0",
            for_="",
            severity="critical",
            audience="security",
            summary=broken.summary,
            description=broken.description,
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAIAuditChainShrunk",
            expr=_audit_chain_shrunk(),
            for_="",
            severity="critical",
            audience="security",
            summary=shrunk.summary,
            description=shrunk.description,
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAIAuditChainStalled",
            expr=_audit_chain_stalled(),
            for_="5m",
            severity="warning",
            audience="oncall",
            summary=stalled.summary,
            description=stalled.description,
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAISpecReloadFailed",
            expr=(
                f'sum by (instance) (increase({catalog.EXPORTER_SPEC_RELOADS.name}{{result="failure"}}[15m])) > 0'
            ),
            for_="",
            severity="warning",
            audience="oncall",
            summary=reload_failed.summary,
            description=reload_failed.description,
            dashboard="overview",
            panel="exporter-health",
        ),
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    if spec.alerting is None:
        return ()
    return (RuleGroup("gatewatch-platform-alerts", alerts(spec)),)
