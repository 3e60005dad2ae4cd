"""ISO weeks as report periods: Monday 00:00 UTC to the next Monday, end exclusive."""

from __future__ import annotations

from datetime import timedelta

from exporter.verdicts import week_of, week_start
from reports.periods import Period, parse_range
from reports.prometheus import ReportError

__all__ = ["iso_week", "period_of", "week_of"]


def iso_week(text: str) -> Period:
    """The ISO week ``YYYY-Www`` (2026-W53 exists, 2027-W53 does not)."""
    try:
        start = week_start(text.strip())
    except ValueError:
        raise ReportError(f"week must be an ISO week that exists, like 2026-W48, got {text!r}") from None
    return Period(start, start + timedelta(days=7), text.strip())


def period_of(week: str | None, start: str | None, end: str | None) -> Period:
    """The period ``--week`` or ``--start``/``--end`` names."""
    if week and (start or end):
        raise ReportError("give either --week or --start/--end, not both")
    if week:
        return iso_week(week)
    if start and end:
        return parse_range(start, end)
    raise ReportError("give --week YYYY-Www or both --start and --end")
