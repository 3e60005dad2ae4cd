"""Multi-window, multi-burn-rate SLO alerting, as pure data (Google SRE workbook, chapter 5).

An alert fires when the error ratio over both a long and a short window exceeds
``factor x (1 - target)``: the long window proves the burn is real, the short one that it is
still happening (so the alert resolves soon after the fault does). The factors are chosen so
each tier spends a fixed share of a 30-day error budget before it fires:

| tier   | factor | long | short | budget spent when it fires |
|--------|--------|------|-------|----------------------------|
| page   | 14.4   | 1h   | 5m    | 2 % in 1 hour              |
| page   | 6      | 6h   | 30m   | 5 % in 6 hours             |
| ticket | 3      | 1d   | 2h    | 10 % in 1 day              |
| ticket | 1      | 3d   | 6h    | 10 % in 3 days             |

Shared by the spec model (which refuses targets a factor can never reach) and the rule
generator, so neither can drift from the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BurnWindow:
    tier: str  # "page" or "ticket"
    factor: float
    long: str
    short: str


BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow("page", 14.4, "1h", "5m"),
    BurnWindow("page", 6.0, "6h", "30m"),
    BurnWindow("ticket", 3.0, "1d", "2h"),
    BurnWindow("ticket", 1.0, "3d", "6h"),
)

# Every window a ratio is recorded over, shortest first.
RATIO_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")

SLO_PERIOD_DAYS = 30


def lowest_reachable_target(factor: float) -> float:
    """The target (a fraction) below which ``factor`` x budget exceeds a 100 % error ratio."""
    return 1.0 - 1.0 / factor


def unreachable_factors(target_percent: float) -> tuple[float, ...]:
    """Burn factors that could never fire for this target: factor x (1 - target) >= 1."""
    budget = 1.0 - target_percent / 100.0
    return tuple(w.factor for w in BURN_WINDOWS if w.factor * budget >= 1.0)
