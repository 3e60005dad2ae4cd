"""promtool cases for the platform alerts (alerts/platform.py).

Written against the example spec's thresholds (ops.yaml); for other values the scenarios below
would prove nothing, so none are generated.
"""

from __future__ import annotations

from alerts.cases.expected import expected_alert, rule_named
from alerts.model import AlertCase, AlertText, ExpectedAlert, SeriesInput, UnitTest
from alerts.platform import (
    NO_TARGET,
    NO_TARGET_STATE,
    alerts,
    chain_broken_text,
    chain_shrunk_text,
    chain_stalled_text,
    exporter_down_text,
    out_of_step_text,
    overflow_text,
    rejected_text,
    reload_failed_text,
    stale_text,
    state_write_text,
    up_state,
)
from contract import catalog
from contract.spec import Spec, spec_hash

WRITTEN_FOR = {"stale_after_seconds": 600.0, "min_requests_per_hour": 60.0}


def _written_for(spec: Spec) -> bool:
    alerting = spec.alerting
    return alerting is not None and {
        "stale_after_seconds": alerting.stale_after_seconds,
        "min_requests_per_hour": spec.slos.min_requests_per_hour,
    } == WRITTEN_FOR


def _expected(spec: Spec, name: str, labels: dict[str, str], text: AlertText) -> ExpectedAlert:
    return expected_alert(spec, rule_named(alerts(spec), name), labels, text)


EXPORTER_0 = "exporter-0:9464"
EXPORTER_1 = "exporter-1:9464"


def _exporter_down_tests(spec: Spec) -> tuple[UnitTest, ...]:
    """exporter-0's scrapes fail from minute 11 (up 0): pending 11m, fires 14m. exporter-1 stays
    up. Without any gatewatch target, absent() is true from minute 0: fires at 3m."""
    down = _expected(spec, "GenAIExporterDown", {"job": "gatewatch", "instance": EXPORTER_0},
                     exporter_down_text(EXPORTER_0, up_state("0")))
    missing = _expected(spec, "GenAIExporterDown", {"job": "gatewatch", "instance": "none"},
                        exporter_down_text(NO_TARGET, NO_TARGET_STATE))
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
            AlertCase("GenAITelemetryStale", "1516m", (
                _expected(spec, "GenAITelemetryStale", {}, stale_text("16m 0s", WRITTEN_FOR["stale_after_seconds"])),
            )),
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
            AlertCase("GenAIRecordsRejected", "33m", (
                _expected(spec, "GenAIRecordsRejected", {"format": "kong"}, rejected_text("kong", "10%")),
            )),
            AlertCase("GenAICardinalityOverflow", "20m", ()),
            AlertCase("GenAICardinalityOverflow", "21m", (
                _expected(spec, "GenAICardinalityOverflow", {"label": "app"}, overflow_text("app", "3")),
            )),
            AlertCase("GenAISpecOutOfStep", "14m", ()),
            AlertCase("GenAISpecOutOfStep", "15m", (
                _expected(spec, "GenAISpecOutOfStep", {}, out_of_step_text("1", good)),
            )),
            AlertCase("GenAIStateWriteFailing", "30m", ()),
            AlertCase("GenAIStateWriteFailing", "31m", (
                _expected(spec, "GenAIStateWriteFailing", {"instance": EXPORTER_1}, state_write_text(EXPORTER_1, "10")),
            )),
            AlertCase("GenAISpecReloadFailed", "20m", ()),
            AlertCase("GenAISpecReloadFailed", "21m", (
                _expected(spec, "GenAISpecReloadFailed", {"instance": EXPORTER_1}, reload_failed_text(EXPORTER_1, "1")),
            )),
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
            AlertCase("GenAIAuditChainBroken", "11m", (
                _expected(spec, "GenAIAuditChainBroken", {"instance": EXPORTER_0}, chain_broken_text(EXPORTER_0)),
            )),
            AlertCase("GenAIAuditChainShrunk", "20m", ()),
            AlertCase("GenAIAuditChainShrunk", "21m", (
                _expected(spec, "GenAIAuditChainShrunk", {"instance": EXPORTER_0}, chain_shrunk_text(EXPORTER_0, "5")),
            )),
            AlertCase("GenAIAuditChainStalled", "25m", ()),
            AlertCase("GenAIAuditChainStalled", "36m", (
                _expected(spec, "GenAIAuditChainStalled", {"instance": EXPORTER_1},
                          chain_stalled_text(EXPORTER_1, "20")),
            )),
        ),
    )


def unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    if not _written_for(spec):
        return ()
    return (*_exporter_down_tests(spec), _stale_test(spec), _exporter_test(spec), _audit_test(spec))
