"""Reading request lines back: what the review and compliance reports consume.

Lines that are not well-formed request lines (roll lines, damage) are skipped here; finding
damage is ``verify``'s job.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from exporter.audit import lines
from exporter.audit.files import day_files


def read_records(
    audit_dir: Path, start: datetime | None = None, end: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Request lines in chain order with ``start <= time < end`` (naive datetimes are UTC)."""
    low = lines.time_key(start) if start is not None else None
    high = lines.time_key(end) if end is not None else None
    for _day, path in day_files(Path(audit_dir)):
        with path.open("rb") as handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a line still being written
                try:
                    record = lines.parse(raw[:-1])
                except lines.LineError:
                    continue
                if record["kind"] != lines.REQUEST:
                    continue
                time = record["time"]
                if (low is not None and time < low) or (high is not None and time >= high):
                    continue
                yield record
