"""Budget periods. Budgets run on UTC calendar months, like provider invoices."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, datetime


def month_bounds(now: float) -> tuple[float, float]:
    """Start and end (exclusive) of the UTC calendar month containing ``now``, as Unix times."""
    day = datetime.fromtimestamp(now, UTC)
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    end = start.timestamp() + monthrange(day.year, day.month)[1] * 86_400
    return start.timestamp(), end
