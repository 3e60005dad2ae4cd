"""Burn factors follow from the share of the error budget a tier may spend in its long window
(Google SRE workbook, chapter 5; derived as Sloth's internal/alert/window.go does)."""

from __future__ import annotations

import pytest

from contract.burnrate import BURN_WINDOWS, SLO_PERIOD_DAYS, burn_factor, window_hours

# (budget share %, long window, SLO period days) -> the workbook's factor
WORKBOOK = [
    (2, "1h", 30, 14.4),
    (5, "6h", 30, 6.0),
    (10, "1d", 30, 3.0),
    (10, "3d", 30, 1.0),
    # The same shares over a 28-day period (Sloth's google-28d windows): 13.44, 5.6, 2.8, 0.933...
    (2, "1h", 28, 13.44),
    (5, "6h", 28, 5.6),
    (10, "1d", 28, 2.8),
    (10, "3d", 28, 28 * 24 * 0.1 / 72),
]


@pytest.mark.parametrize(("share", "long", "days", "factor"), WORKBOOK)
def test_factor_is_budget_share_times_period_over_window(share: float, long: str, days: int, factor: float) -> None:
    assert burn_factor(share, long, days) == pytest.approx(factor)


@pytest.mark.parametrize(("window", "hours"), [("5m", 5 / 60), ("30m", 0.5), ("1h", 1), ("6h", 6), ("1d", 24),
                                               ("3d", 72), ("1w", 168)])
def test_window_hours(window: str, hours: float) -> None:
    assert window_hours(window) == pytest.approx(hours)


def test_the_generated_tiers_are_the_workbooks() -> None:
    assert SLO_PERIOD_DAYS == 30
    assert [(w.tier, w.factor, w.long, w.short) for w in BURN_WINDOWS] == [
        ("page", 14.4, "1h", "5m"),
        ("page", 6.0, "6h", "30m"),
        ("ticket", 3.0, "1d", "2h"),
        ("ticket", 1.0, "3d", "6h"),
    ]


def test_factors_print_as_the_rules_state_them() -> None:
    # Rules and runbooks format factors with :g; a derived 14.4 must not print as 14.399999999999999.
    assert [f"{w.factor:g}" for w in BURN_WINDOWS] == ["14.4", "6", "3", "1"]
