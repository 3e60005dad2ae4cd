"""Platform alerts for on-call: the exporter and its telemetry, not the traffic it describes.

An exporter that is down, records that stop arriving while the gateway should be busy, records
rejected as malformed, label values folded into ``__other__``, a spec the exporter runs that is
not the one the rules were generated from, a state directory or a spec reload that fails, and
an audit chain that is broken, shrunk or stalled (these two go to security operations).
"""

from __future__ import annotations

from alerts.cases import expected_alert
from alerts.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, SeriesInput, UnitTest
from alerts.prometheus_config import EXPORTER_JOB
from alerts.security import increased
from exporter import catalog
from exporter.spec import Spec, spec_hash

SECONDS_PER_HOUR = 3600
# A few malformed records are a client bug worth a ticket; below this share they are noise.
REJECTED_SHARE = 0.05
NO_TARGET = "none"


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


def alerts(spec: Spec) -> tuple[AlertRule, ...]:
    thresholds = spec.thresholds
    generated_from = spec_hash(spec)
    return (
        AlertRule(
            name="GenAIExporterDown",
            expr=_exporter_down(),
            for_="3m",
            severity="critical",
            audience="oncall",
            summary="gatewatch exporter {{ $labels.instance }} is down or not scraped",
            description=(
                f'Prometheus has not scraped the {EXPORTER_JOB} exporter {{{{ $labels.instance }}}} for 3 minutes '
                f'({{{{ if eq $labels.instance "{NO_TARGET}" }}}}the job has no target at all'
                "{{ else }}up = {{ $value }}{{ end }}): every gatewatch alert is blind meanwhile."
            ),
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAITelemetryStale",
            expr=_telemetry_stale(spec),
            for_="5m",
            severity="critical",
            audience="oncall",
            summary="No gateway records arrive, though this hour was busy yesterday",
            description=(
                "The last gateway record was accepted {{ $value | humanizeDuration }} ago (threshold "
                f"{thresholds.stale_after_seconds:g}s) while the same hour yesterday was busy: the gateways' "
                "loggers or the path to the exporter are broken, and spend goes uncounted."
            ),
            dashboard="overview",
            panel="freshness",
        ),
        AlertRule(
            name="GenAIRecordsRejected",
            expr=_records_rejected(),
            for_="10m",
            severity="warning",
            audience="oncall",
            summary="The exporter rejects {{ $labels.format }} records",
            description=(
                "{{ $value | humanizePercentage }} of {{ $labels.format }} records over the last 5 minutes were "
                f"rejected as malformed (threshold {REJECTED_SHARE * 100:g}%): their requests and spend are missing."
            ),
            dashboard="overview",
            panel="rejected-records",
        ),
        AlertRule(
            name="GenAICardinalityOverflow",
            expr=increased(catalog.EXPORTER_LABEL_OVERFLOW.name, "label", "15m"),
            for_="",
            severity="warning",
            audience="oncall",
            summary="{{ $labels.label }} values fold into __other__",
            description=(
                "{{ $value | humanize }} {{ $labels.label }} values beyond the spec's cardinality limit were folded "
                "into __other__ in the last 15 minutes: counts and cost are kept, attribution is lost."
            ),
            dashboard="overview",
            panel="cardinality",
        ),
        AlertRule(
            name="GenAISpecOutOfStep",
            expr=f'count({catalog.SPEC_INFO.name}{{hash!="{generated_from}"}}) > 0',
            for_="15m",
            severity="warning",
            audience="oncall",
            summary="An exporter runs another spec than the rules were generated from",
            description=(
                "{{ $value }} gatewatch exporter(s) run a spec whose hash is not "
                f"{generated_from}, the spec these rules were generated from: regenerate and reload one of them."
            ),
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
            summary="Exporter {{ $labels.instance }} cannot write its state directory",
            description=(
                "{{ $value | humanize }} state-directory writes failed on {{ $labels.instance }} in the last "
                "10 minutes: a restart now would lose counts since the last good write."
            ),
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAIAuditChainBroken",
            expr=f"min by (instance) ({catalog.AUDIT_CHAIN_VERIFIED.name}) == 0",
            for_="",
            severity="critical",
            audience="security",
            summary="The audit chain of exporter {{ $labels.instance }} is broken",
            description=(
                "The audit log of exporter {{ $labels.instance }} failed verification when it started: a line "
                "was edited, deleted or reordered, or a day file is missing. The log is no longer evidence "
                "until the break is explained."
            ),
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAIAuditChainShrunk",
            expr=_audit_chain_shrunk(),
            for_="",
            severity="critical",
            audience="security",
            summary="The audit chain of exporter {{ $labels.instance }} is shorter than it was",
            description=(
                "The audit chain of exporter {{ $labels.instance }} holds {{ $value }} lines, fewer than Prometheus "
                f"recorded in the last {AUDIT_SHRINK_WINDOW}: lines were cut from its end or day files deleted."
            ),
            dashboard="overview",
            panel="exporter-health",
        ),
        AlertRule(
            name="GenAIAuditChainStalled",
            expr=_audit_chain_stalled(),
            for_="5m",
            severity="warning",
            audience="oncall",
            summary="Exporter {{ $labels.instance }} counts security events but writes no audit lines",
            description=(
                "Exporter {{ $labels.instance }} counted {{ $value | humanize }} guardrail findings, policy "
                f"violations or sensitive entities in the last {AUDIT_STALL_WINDOW} while its audit chain did "
                "not grow: those events are missing from the audit log."
            ),
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
            summary="Exporter {{ $labels.instance }} refused a spec reload",
            description=(
                "{{ $value | humanize }} spec reloads failed on {{ $labels.instance }} in the last 15 minutes: "
                "the exporter keeps running its previous spec."
            ),
            dashboard="overview",
            panel="exporter-health",
        ),
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    if spec.alerting is None:
        return ()
    return (RuleGroup("gatewatch-platform-alerts", alerts(spec)),)


# -- promtool unit tests --------------------------------------------------------------------
# Written against the example spec's thresholds (ops.yaml); for other values the scenarios
# below would prove nothing, so none are generated.
WRITTEN_FOR = {"stale_after_seconds": 600.0, "min_requests_per_hour": 60.0}


def _written_for(spec: Spec) -> bool:
    alerting = spec.alerting
    return alerting is not None and {
        "stale_after_seconds": alerting.stale_after_seconds,
        "min_requests_per_hour": spec.slos.min_requests_per_hour,
    } == WRITTEN_FOR


def _expected(spec: Spec, name: str, labels: dict[str, str], summary: str, description: str) -> ExpectedAlert:
    return expected_alert(spec, next(r for r in alerts(spec) if r.name == name), labels, summary, description)


EXPORTER_0 = "exporter-0:9464"
EXPORTER_1 = "exporter-1:9464"


def _exporter_down_tests(spec: Spec) -> tuple[UnitTest, ...]:
    """exporter-0's scrapes fail from minute 11 (up 0): pending 11m, fires 14m. exporter-1 stays
    up. Without any gatewatch target, absent() is true from minute 0: fires at 3m."""
    down = _expected(
        spec, "GenAIExporterDown", {"job": "gatewatch", "instance": EXPORTER_0},
        f"gatewatch exporter {EXPORTER_0} is down or not scraped",
        f"Prometheus has not scraped the gatewatch exporter {EXPORTER_0} for 3 minutes (up = 0): every "
        "gatewatch alert is blind meanwhile.",
    )
    missing = _expected(
        spec, "GenAIExporterDown", {"job": "gatewatch", "instance": "none"},
        "gatewatch exporter none is down or not scraped",
        "Prometheus has not scraped the gatewatch exporter none for 3 minutes (the job has no target at all): "
        "every gatewatch alert is blind meanwhile.",
    )
    return (
        UnitTest(
            name="exporter down: one replica's scrapes fail for 3 minutes",
            interval="1m",
            series=(
                SeriesInput(f'up{{job="gatewatch", instance="{EXPORTER_0}"}}', "1x10 0x10"),
                SeriesInput(f'up{{job="gatewatch", instance="{EXPORTER_1}"}}', "1x20"),
            ),
            alerts=(
                AlertCase("GenAIExporterDown", "13m", ()),
                AlertCase("GenAIExporterDown", "14m", (down,)),
            ),
        ),
        UnitTest(
            name="exporter down: the gatewatch job has no target at all",
            interval="1m",
            series=(SeriesInput('up{job="prometheus", instance="localhost:9090"}', "1x10"),),
            alerts=(
                AlertCase("GenAIExporterDown", "2m", ()),
                AlertCase("GenAIExporterDown", "3m", (missing,)),
            ),
        ),
    )


def _stale_test(spec: Spec) -> UnitTest:
    """Records arrive at 10 a minute until minute 1500 (25 h), then stop; the last-record gauge
    stops at 1500 x 60 = 90000 s. At minute t it is t x 60 - 90000 s old: 600 at 1510 (not
    above 600), 660 at 1511: pending 1511m. Yesterday's hour then ([11m, 71m]) held 600 records
    an hour (>= 60): busy. Fires at 1516m, 960 s = 16m 0s after the last record."""
    return UnitTest(
        name="telemetry stale: no records for 10 minutes while yesterday's hour was busy",
        interval="1m",
        series=(
            SeriesInput(
                f'{catalog.EXPORTER_EVENTS.name}{{source="litellm", format="litellm", result="accepted"}}',
                "0+10x1500 15000x30",
            ),
            SeriesInput(f'{catalog.EXPORTER_LAST_EVENT.name}{{source="litellm"}}', "0+60x1500 90000x30"),
        ),
        alerts=(
            AlertCase("GenAITelemetryStale", "1515m", ()),
            AlertCase("GenAITelemetryStale", "1516m", (_expected(
                spec, "GenAITelemetryStale", {},
                "No gateway records arrive, though this hour was busy yesterday",
                "The last gateway record was accepted 16m 0s ago (threshold 600s) while the same hour yesterday "
                "was busy: the gateways' loggers or the path to the exporter are broken, and spend goes uncounted.",
            ),)),
        ),
    )


def _exporter_test(spec: Spec) -> UnitTest:
    """Rejections, overflow, a foreign spec, state writes and reloads, each by hand:

    - kong: 90 accepted a minute, rejected from minute 20 at 10 a minute. Share over 5m at
      20 + k: 10k / (450 + 10k): 0.043 at k=2, 0.0625 at k=3 (> 0.05): pending 23m, fires 33m at
      50 / 500 = 10 %. litellm rejects none.
    - the app label's overflow counter is born at minute 21 with 3: fires at 21m with 3.
    - exporter-0 runs a spec with another hash from minute 0: fires at 15m with 1 exporter.
    - exporter-1's state writes fail from minute 21, one a minute: increase over 10m is 1 at 21m
      (pending), 10 at 31m (fires).
    - exporter-1's reload fails once at minute 21: increase over 15m = 1, fires at 21m.
    """
    events = catalog.EXPORTER_EVENTS.name
    good = spec_hash(spec)
    return UnitTest(
        name="exporter faults: rejected records, overflow, foreign spec, state writes, reloads",
        interval="1m",
        series=(
            SeriesInput(f'{events}{{source="http", format="kong", result="accepted"}}', "0+90x40"),
            SeriesInput(f'{events}{{source="http", format="kong", result="rejected"}}', "0x20 10+10x20"),
            SeriesInput(f'{events}{{source="http", format="litellm", result="accepted"}}', "0+60x40"),
            SeriesInput(f'{catalog.EXPORTER_LABEL_OVERFLOW.name}{{label="app"}}', "_x21 3+1x19"),
            SeriesInput(f'{catalog.SPEC_INFO.name}{{hash="0123456789abcdef", instance="{EXPORTER_0}"}}', "1x40"),
            SeriesInput(f'{catalog.SPEC_INFO.name}{{hash="{good}", instance="{EXPORTER_1}"}}', "1x40"),
            SeriesInput(f'{catalog.EXPORTER_STATE_WRITE_FAILURES.name}{{instance="{EXPORTER_1}"}}', "0x20 1+1x19"),
            SeriesInput(f'{catalog.EXPORTER_STATE_WRITE_FAILURES.name}{{instance="{EXPORTER_0}"}}', "0x40"),
            SeriesInput(
                f'{catalog.EXPORTER_SPEC_RELOADS.name}{{result="failure", instance="{EXPORTER_1}"}}', "0x20 1x19"
            ),
            SeriesInput(
                f'{catalog.EXPORTER_SPEC_RELOADS.name}{{result="success", instance="{EXPORTER_1}"}}', "0x10 1x29"
            ),
        ),
        alerts=(
            AlertCase("GenAIRecordsRejected", "32m", ()),
            AlertCase("GenAIRecordsRejected", "33m", (_expected(
                spec, "GenAIRecordsRejected", {"format": "kong"},
                "The exporter rejects kong records",
                "10% of kong records over the last 5 minutes were rejected as malformed (threshold 5%): their "
                "requests and spend are missing.",
            ),)),
            AlertCase("GenAICardinalityOverflow", "20m", ()),
            AlertCase("GenAICardinalityOverflow", "21m", (_expected(
                spec, "GenAICardinalityOverflow", {"label": "app"},
                "app values fold into __other__",
                "3 app values beyond the spec's cardinality limit were folded into __other__ in the last 15 minutes: "
                "counts and cost are kept, attribution is lost.",
            ),)),
            AlertCase("GenAISpecOutOfStep", "14m", ()),
            AlertCase("GenAISpecOutOfStep", "15m", (_expected(
                spec, "GenAISpecOutOfStep", {},
                "An exporter runs another spec than the rules were generated from",
                f"1 gatewatch exporter(s) run a spec whose hash is not {good}, the spec these rules were generated "
                "from: regenerate and reload one of them.",
            ),)),
            AlertCase("GenAIStateWriteFailing", "30m", ()),
            AlertCase("GenAIStateWriteFailing", "31m", (_expected(
                spec, "GenAIStateWriteFailing", {"instance": EXPORTER_1},
                f"Exporter {EXPORTER_1} cannot write its state directory",
                f"10 state-directory writes failed on {EXPORTER_1} in the last 10 minutes: a restart now would "
                "lose counts since the last good write.",
            ),)),
            AlertCase("GenAISpecReloadFailed", "20m", ()),
            AlertCase("GenAISpecReloadFailed", "21m", (_expected(
                spec, "GenAISpecReloadFailed", {"instance": EXPORTER_1},
                f"Exporter {EXPORTER_1} refused a spec reload",
                f"1 spec reloads failed on {EXPORTER_1} in the last 15 minutes: the exporter keeps running its "
                "previous spec.",
            ),)),
        ),
    )


def _audit_test(spec: Spec) -> UnitTest:
    """The audit chain, each by hand:

    - exporter-0 restarts at minute 11 and finds its chain broken (verified 1 -> 0): fires at 11m.
    - exporter-0's chain grows 10, 11, ... 30 until minute 20; at minute 21 it holds 5 lines (its
      newest file cut): 5 < 30, the maximum of the last 7 days: fires at 21m with 5.
    - exporter-1 counts 2 blocks a minute throughout; its chain grows to 41 at minute 20 and then
      stays: from minute 30 no change within 10 minutes (at 25m the window still holds changes):
      pending 30m, fires 35m (checked at 36m) with 20 blocks in 10 minutes. exporter-0's chain keeps
      growing with its 1 block a minute, so it never stalls.
    """
    length = catalog.AUDIT_CHAIN_LENGTH.name
    blocked = catalog.GUARDRAIL_EVALUATIONS.name
    guard = 'team="search", app="search-api", guardrail="lakera-prompt-injection", stage="input", result="blocked"'
    return UnitTest(
        name="audit chain: broken at start, shrunk, stalled",
        interval="1m",
        series=(
            SeriesInput(f'{catalog.AUDIT_CHAIN_VERIFIED.name}{{instance="{EXPORTER_0}"}}', "1x10 0x30"),
            SeriesInput(f'{catalog.AUDIT_CHAIN_VERIFIED.name}{{instance="{EXPORTER_1}"}}', "1x40"),
            SeriesInput(f'{length}{{instance="{EXPORTER_0}"}}', "10+1x20 5+1x19"),
            SeriesInput(f'{length}{{instance="{EXPORTER_1}"}}', "1+2x20 41x20"),
            SeriesInput(f'{blocked}{{{guard}, instance="{EXPORTER_0}"}}', "0+1x40"),
            SeriesInput(f'{blocked}{{{guard}, instance="{EXPORTER_1}"}}', "0+2x40"),
        ),
        alerts=(
            AlertCase("GenAIAuditChainBroken", "10m", ()),
            AlertCase("GenAIAuditChainBroken", "11m", (_expected(
                spec, "GenAIAuditChainBroken", {"instance": EXPORTER_0},
                f"The audit chain of exporter {EXPORTER_0} is broken",
                f"The audit log of exporter {EXPORTER_0} failed verification when it started: a line was edited, "
                "deleted or reordered, or a day file is missing. The log is no longer evidence until the break "
                "is explained.",
            ),)),
            AlertCase("GenAIAuditChainShrunk", "20m", ()),
            AlertCase("GenAIAuditChainShrunk", "21m", (_expected(
                spec, "GenAIAuditChainShrunk", {"instance": EXPORTER_0},
                f"The audit chain of exporter {EXPORTER_0} is shorter than it was",
                f"The audit chain of exporter {EXPORTER_0} holds 5 lines, fewer than Prometheus recorded in the "
                "last 7d: lines were cut from its end or day files deleted.",
            ),)),
            AlertCase("GenAIAuditChainStalled", "25m", ()),
            AlertCase("GenAIAuditChainStalled", "36m", (_expected(
                spec, "GenAIAuditChainStalled", {"instance": EXPORTER_1},
                f"Exporter {EXPORTER_1} counts security events but writes no audit lines",
                f"Exporter {EXPORTER_1} counted 20 guardrail findings, policy violations or sensitive entities in "
                "the last 10m while its audit chain did not grow: those events are missing from the audit log.",
            ),)),
        ),
    )


def unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    if not _written_for(spec):
        return ()
    return (*_exporter_down_tests(spec), _stale_test(spec), _exporter_test(spec), _audit_test(spec))
