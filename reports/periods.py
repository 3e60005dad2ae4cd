"""Report periods: half-open UTC intervals [start, end), named by a label for report titles."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from reports.prometheus import ReportError


@dataclass(frozen=True)
class Period:
    """A report period; ``end`` is exclusive. Both ends are timezone-aware UTC datetimes."""

    start: datetime
    end: datetime
    label: str

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()

    def days(self) -> list[date]:
        """The UTC calendar days the period touches, in order."""
        first = self.start.date()
        last = (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month(text: str) -> Period:
    """The UTC calendar month ``YYYY-MM``."""
    found = _MONTH.match(text.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise ReportError(f"month must look like YYYY-MM, got {text!r}")
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end, start.strftime("%Y-%m"))


def parse_instant(text: str) -> datetime:
    """A date (``YYYY-MM-DD``, midnight UTC) or ISO 8601 time; a time without offset is UTC."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(f"not a date or ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_range(start: str, end: str) -> Period:
    """The period [start, end); ``end`` given as a date means midnight at its start (exclusive)."""
    first, last = parse_instant(start), parse_instant(end)
    if last <= first:
        raise ReportError(f"the end ({end}) must be after the start ({start})")
    return Period(first, last, f"{_show(first)} to {_show(last)}")


def _show(moment: datetime) -> str:
    if moment.time() == datetime.min.time():
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def from_args(month_text: str | None, start: str | None, end: str | None) -> Period:
    """The period a command's ``--month`` or ``--start``/``--end`` options name."""
    if month_text and (start or end):
        raise ReportError("give either --month or --start/--end, not both")
    if month_text:
        return month(month_text)
    if start and end:
        return parse_range(start, end)
    raise ReportError("give --month YYYY-MM or both --start and --end")
