"""promtool cases for the SLO alerts (alerts/slo.py): per objective, a fast burn pages, a slow
burn tickets, a healthy ratio and too little traffic stay silent."""

from __future__ import annotations

from dataclasses import dataclass

from alerts import recording
from alerts.cases.expected import expected_alert, humanize_percentage
from alerts.model import AlertCase, ExpectedAlert, SeriesInput, UnitTest
from alerts.slo import FOR, describe, error_budget, rule
from contract import catalog
from contract.burnrate import BURN_WINDOWS
from contract.promql import format_le
from contract.spec import Objective, Spec

REQUESTS_PER_MINUTE = 1000


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    error_ratio: float
    requests_per_minute: float
    fires: tuple[str, ...]  # the tiers expected to fire


def scenarios(spec: Spec, objective: Objective) -> tuple[Scenario, ...]:
    """A constant error ratio from the start: every window then sees the same ratio, so which
    tier fires depends only on where the ratio sits between the factors."""
    budget = error_budget(objective)
    fast = (max(w.factor for w in BURN_WINDOWS) * budget + 1.0) / 2.0  # above the highest factor, at most 100 %
    slow = 4.5 * budget  # between 3x and 6x: a ticket, no page
    healthy = 0.5 * budget
    low = spec.slos.min_requests_per_hour / 120.0  # half the guard's floor, all failing
    return (
        # A fast burn is a slow one too: both tiers fire (Alertmanager's grouping makes it one page).
        Scenario("fast burn", _representable(fast), REQUESTS_PER_MINUTE, ("page", "ticket")),
        Scenario("slow burn", _representable(slow), REQUESTS_PER_MINUTE, ("ticket",)),
        Scenario("healthy", _representable(healthy), REQUESTS_PER_MINUTE, ()),
        Scenario("too little traffic to page", 1.0, low, ()),
    )


def _representable(ratio: float) -> float:
    """A ratio with a whole number of failing requests per minute."""
    return round(ratio * REQUESTS_PER_MINUTE) / REQUESTS_PER_MINUTE


def _inputs(spec: Spec, objective: Objective, scenario: Scenario, minutes: int) -> tuple[SeriesInput, ...]:
    per_minute = scenario.requests_per_minute
    bad = round(per_minute * scenario.error_ratio, 6)
    good = round(per_minute - bad, 6)
    model = objective.model or next((m.name for m in spec.models if m.provider == objective.provider), "some-model")
    provider = recording.objective_labels(spec, objective).get("provider", "some-provider")
    team = spec.teams[0].name
    if objective.kind == "availability":
        base = f'team="{team}", app="test-app", model="{model}", provider="{provider}", operation="chat", cache="miss"'
        name = catalog.REQUESTS.name
        return (
            SeriesInput(f'{name}{{{base}, outcome="success"}}', f"0+{good:g}x{minutes}"),
            SeriesInput(f'{name}{{{base}, outcome="{catalog.BAD_OUTCOMES[0]}"}}', f"0+{bad:g}x{minutes}"),
            # Neutral outcomes count neither way: as many again must not change the ratio.
            SeriesInput(f'{name}{{{base}, outcome="{catalog.NEUTRAL_OUTCOMES[0]}"}}', f"0+{per_minute:g}x{minutes}"),
        )
    name = catalog.TIME_TO_FIRST_TOKEN.name
    base = f'team="{team}", model="{model}", provider="{provider}"'
    le = format_le(objective.threshold_seconds or 0.0)
    return (
        SeriesInput(f'{name}_bucket{{{base}, le="{le}"}}', f"0+{good:g}x{minutes}"),
        SeriesInput(f'{name}_count{{{base}}}', f"0+{per_minute:g}x{minutes}"),
    )


def _minutes(duration: str) -> int:
    units = {"m": 1, "h": 60}
    return int(duration[:-1]) * units[duration[-1]]


def unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    """Per objective: fast burn pages, slow burn tickets, healthy and low traffic stay silent.

    The ratio holds from minute 1 (the first 5m rate), so an alert is pending from 1m and
    fires at 1m + for; one evaluation earlier it is silent."""
    tests = []
    for objective in spec.slos.objectives:
        labels = recording.objective_labels(spec, objective)
        for scenario in scenarios(spec, objective):
            cases = []
            for tier in ("page", "ticket"):
                rule_ = rule(spec, objective, tier)
                fire_at = 1 + _minutes(FOR[tier])
                firing = tier in scenario.fires
                expected: tuple[ExpectedAlert, ...] = ()
                if firing:
                    text = describe(objective, tier, humanize_percentage(scenario.error_ratio))
                    expected = (expected_alert(spec, rule_, labels, text),)
                cases.append(AlertCase(rule_.name, f"{fire_at - 1}m", ()))
                cases.append(AlertCase(rule_.name, f"{fire_at}m", expected))
            minutes = 1 + max(_minutes(v) for v in FOR.values()) + 1
            tests.append(UnitTest(
                name=f"{objective.name}: {scenario.name}",
                interval="1m",
                series=_inputs(spec, objective, scenario, minutes),
                alerts=tuple(cases),
            ))
    return tuple(tests)

