"""The compliance report's headline, handed from ``reports compliance`` to the exporter.

The report writes a small result file into the exporter's state directory; the exporter re-reads
it when it changes and exposes each spec control's status, the count per status and when the
report was made. Only controls the running spec declares are exposed, so the labels stay bounded
whatever the file says. The file holds control ids, frameworks and statuses: never a measured
value, a query or anything taken from a request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

from contract import catalog
from contract.spec import Spec
from exporter.state import StateStore
from exporter.state_feed import StateFileFeed

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


class ComplianceFeed(StateFileFeed[ComplianceResult]):
    """Keeps the compliance gauges in step with ``directory/compliance.json``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__(Path(directory) / RESULT_FILE, lambda path: decode(path.read_bytes()), gauges,
                         "compliance result")
