"""Multi-window, multi-burn-rate SLO alerting, as pure data (Google SRE workbook, chapter 5).

An alert fires when the error ratio over both a long and a short window exceeds
``factor x (1 - target)``: the long window proves the burn is real, the short one that it is
still happening (so the alert resolves soon after the fault does).

Each tier is stated as the share of the SLO period's error budget it may spend within its long
window before it fires; the factor follows (as Sloth derives it, ``internal/alert/window.go``):
spending ``share`` of the budget in ``long`` is burning ``share x period / long`` times faster than
the rate that spends exactly the whole budget over the whole period. Over 30 days:

| tier   | budget spent | long | short | factor            |
|--------|--------------|------|-------|-------------------|
| page   | 2 %          | 1h   | 5m    | 0.02 x 720 / 1  = 14.4 |
| page   | 5 %          | 6h   | 30m   | 0.05 x 720 / 6  = 6    |
| ticket | 10 %         | 1d   | 2h    | 0.10 x 720 / 24 = 3    |
| ticket | 10 %         | 3d   | 6h    | 0.10 x 720 / 72 = 1    |

Shared by the spec model (which refuses targets a factor can never reach) and the rule
generator, so neither can drift from the other.
"""

from __future__ import annotations

from dataclasses import dataclass

SLO_PERIOD_DAYS = 30

_HOURS_PER_UNIT = {"m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}


def window_hours(window: str) -> float:
    """A Prometheus duration with one unit (``5m``, ``6h``, ``3d``) in hours."""
    return int(window[:-1]) * _HOURS_PER_UNIT[window[-1]]


def burn_factor(budget_percent: float, long: str, period_days: float = SLO_PERIOD_DAYS) -> float:
    """How many times faster than "the whole budget over the whole period" the error budget burns
    when ``budget_percent`` of it is spent within ``long``."""
    return budget_percent * period_days * 24 / (100 * window_hours(long))


@dataclass(frozen=True, slots=True)
class BurnWindow:
    tier: str  # "page" or "ticket"
    budget_percent: float  # share of the period's error budget spent within `long` when it fires
    long: str
    short: str

    @property
    def factor(self) -> float:
        return burn_factor(self.budget_percent, self.long)


BURN_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow("page", 2, "1h", "5m"),
    BurnWindow("page", 5, "6h", "30m"),
    BurnWindow("ticket", 10, "1d", "2h"),
    BurnWindow("ticket", 10, "3d", "6h"),
)

# Every window a ratio is recorded over, shortest first.
RATIO_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def budget_fraction(target_percent: float) -> float:
    """The error budget of a target: the share of requests allowed to fail (99.5 % -> 0.005)."""
    return round(1.0 - target_percent / 100.0, 12)


def lowest_reachable_target(factor: float) -> float:
    """The target (a fraction) below which ``factor`` x budget exceeds a 100 % error ratio."""
    return 1.0 - 1.0 / factor


def unreachable_factors(target_percent: float) -> tuple[float, ...]:
    """Burn factors that could never fire for this target: factor x (1 - target) >= 1."""
    budget = 1.0 - target_percent / 100.0
    return tuple(w.factor for w in BURN_WINDOWS if w.factor * budget >= 1.0)
