"""The compliance report's headline, handed from ``reports compliance`` to the exporter.

The report writes a small result file into the exporter's state directory; the exporter re-reads
it when it changes and exposes each spec control's status, the count per status and when the
report was made. Only controls the running spec declares are exposed, so the labels stay bounded
whatever the file says. The file holds control ids, frameworks and statuses: never a measured
value, a query or anything taken from a request.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal, Protocol

import msgspec

from exporter import catalog
from exporter.spec import Spec
from exporter.state import StateStore

log = logging.getLogger("gatewatch.compliance")

RESULT_FILE = "compliance.json"
STATUSES = ("pass", "fail", "no_evidence")

Status = Literal["pass", "fail", "no_evidence"]


class ControlStatus(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    framework: str
    status: Status


class ComplianceResult(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    generated_at: float
    period_start: float
    period_end: float
    controls: tuple[ControlStatus, ...]
    version: int = 1


def encode(result: ComplianceResult) -> bytes:
    return msgspec.json.encode(result, order="sorted") + b"\n"


def decode(data: bytes) -> ComplianceResult:
    """The result in ``data``; raises ``msgspec.DecodeError`` (a ValueError) when it is not one."""
    return msgspec.json.decode(data, type=ComplianceResult)


def gauges(result: ComplianceResult | None, spec: Spec) -> dict[catalog.Metric, dict[tuple[str, ...], float]]:
    """The compliance gauges' series for ``result`` (None: no report yet, no series)."""
    empty: dict[catalog.Metric, dict[tuple[str, ...], float]] = {
        catalog.COMPLIANCE_CONTROLS: {}, catalog.COMPLIANCE_CONTROL_STATUS: {},
        catalog.COMPLIANCE_REPORT_TIMESTAMP: {}, catalog.COMPLIANCE_PERIOD_END: {},
    }
    if result is None:
        return empty
    declared = {c.id: c.framework for c in spec.compliance.controls}
    statuses = {c.id: c.status for c in result.controls if c.id in declared}
    counts = dict.fromkeys(STATUSES, 0.0)
    for status in statuses.values():
        counts[status] += 1
    return {
        catalog.COMPLIANCE_CONTROLS: {(s,): n for s, n in counts.items()},
        catalog.COMPLIANCE_CONTROL_STATUS: {
            (control, declared[control]): catalog.COMPLIANCE_STATUS_VALUES[status]
            for control, status in sorted(statuses.items())
        },
        catalog.COMPLIANCE_REPORT_TIMESTAMP: {(): result.generated_at},
        catalog.COMPLIANCE_PERIOD_END: {(): result.period_end},
    }


def write(directory: str | os.PathLike[str], result: ComplianceResult) -> Path:
    """Write ``result`` into the state directory atomically; the exporter picks it up."""
    store = StateStore(directory)
    store.write(encode(result), RESULT_FILE)
    return store.directory / RESULT_FILE


class GaugeSink(Protocol):
    def replace_gauge(self, metric: catalog.Metric, values: dict[tuple[str, ...], float]) -> None: ...


class ComplianceFeed:
    """Re-reads ``directory/compliance.json`` when it (or the spec) changed and republishes it.

    ``publish`` runs before every scrape: one ``stat`` when nothing changed.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / RESULT_FILE
        self._seen: tuple[object, ...] | None = None
        self._result: ComplianceResult | None = None

    def publish(self, recorder: GaugeSink, spec: Spec) -> bool:
        """Publish the file's headline if it or the spec changed; True if it did. Never raises
        for a bad or missing file: the scrape must go on."""
        try:
            info = self.path.stat()
            signature: tuple[object, ...] = (info.st_mtime_ns, info.st_size, info.st_ino, id(spec))
        except FileNotFoundError:
            signature = (None, id(spec))
        except OSError as err:
            log.warning("cannot look at the compliance result %s: %s", self.path, err.strerror)
            return False
        if signature == self._seen:
            return False
        self._seen = signature
        if signature[0] is None:
            self._result = None
        else:
            try:
                self._result = decode(self.path.read_bytes())
            except (OSError, ValueError) as err:
                # Keep the last good report: a half-copied file must not blank the panel.
                log.warning("compliance result %s unreadable (%s); keeping the previous one",
                            self.path, type(err).__name__)
        for metric, series in gauges(self._result, spec).items():
            recorder.replace_gauge(metric, series)
        return True
