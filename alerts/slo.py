"""SLO alerts: multi-window, multi-burn-rate, one page and one ticket alert per objective.

The windows and factors are exporter/burnrate.py's BURN_WINDOWS (its docstring explains them):
an alert fires when the error ratio over a long window *and* a short one both exceed
``factor x budget``, with ``budget = 1 - target``. The long window proves the burn is real, the
short one that it is still going on, so the alert resolves minutes after the fault does. Pages
are the 14.4x (1h & 5m) and 6x (6h & 30m) pairs, tickets the 3x (1d & 2h) and 1x (3d & 6h)
pairs. The ratios are recorded by alerts/recording.py (long windows as summed errors over summed
requests). A minimum-traffic guard keeps three failures at 3 a.m. from paging: the objective must
have seen ``slos.min_requests_per_hour`` requests in the last hour.

The page waits ``for: 2m``, the ticket 15m: both longer than GenAIProviderErrorsHigh's 1m
(alerts/provider.py explains the race), so in a provider outage that alert is already firing
to inhibit the availability alerts when they would be sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts import recording
from alerts.cases import expected_alert
from alerts.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, SeriesInput, UnitTest
from exporter import catalog
from exporter.burnrate import BURN_WINDOWS, BurnWindow
from exporter.exposition import format_le
from exporter.spec import Objective, Spec

FOR = {"page": "2m", "ticket": "15m"}
SEVERITY = {"page": "critical", "ticket": "warning"}
PANEL = {("availability", "page"): "slo-status", ("availability", "ticket"): "error-budget",
         ("ttft", "page"): "ttft", ("ttft", "ticket"): "ttft"}
KIND_NAME = {"availability": "Availability", "ttft": "TTFT"}


def number(value: float) -> str:
    """A float as PromQL and people read it: 14.4 * 0.005 is 0.072, not 0.07200000000000001."""
    return repr(round(value, 12))


def shown(value: float) -> str:
    """A number in prose: 3, not 3.0."""
    return f"{round(value, 12):g}"


def error_budget(objective: Objective) -> float:
    return round(1.0 - objective.target_percent / 100.0, 12)


def alert_name(objective: Objective, tier: str) -> str:
    return f"GenAI{KIND_NAME[objective.kind]}SLO{tier.capitalize()}"


def _windows(tier: str) -> tuple[BurnWindow, ...]:
    return tuple(w for w in BURN_WINDOWS if w.tier == tier)


def burn_expr(spec: Spec, objective: Objective, tier: str) -> str:
    budget = error_budget(objective)
    selector = f'{{slo="{objective.name}"}}'
    pairs = []
    for window in _windows(tier):
        threshold = number(window.factor * budget)
        pairs.append(
            f"(\n  {recording.ratio_record(window.long)}{selector} > {threshold}\n"
            f"  and\n  {recording.ratio_record(window.short)}{selector} > {threshold}\n)"
        )
    guard = f"{recording.SLI_REQUESTS_RATE1H}{selector} * 3600 >= {number(spec.slos.min_requests_per_hour)}"
    return "(\n" + "\nor\n".join(pairs) + f"\n)\nand on (slo)\n{guard}"


def _what(objective: Objective) -> str:
    covers = f"model {objective.model}" if objective.model else f"provider {objective.provider}"
    if objective.kind == "availability":
        return f"requests to {covers} failing"
    return f"requests to {covers} slower than {objective.threshold_seconds:g} s to the first token"


def describe(objective: Objective, tier: str, value: str) -> tuple[str, str]:
    """(summary, description) with ``value`` (a template, or its rendering in tests)."""
    budget = error_budget(objective)
    thresholds = ", ".join(
        f"{shown(w.factor * budget * 100)} % over {w.long} and {w.short} ({w.factor:g}x)" for w in _windows(tier)
    )
    urgency = "burning its error budget fast" if tier == "page" else "burning its error budget"
    summary = f"SLO {objective.name} is {urgency}"
    description = (
        f"{value} of {_what(objective)} over the long window; the target is {objective.target_percent:g} % "
        f"(error budget {shown(budget * 100)} %) and this alert fires above {thresholds}."
    )
    return summary, description


def rule(spec: Spec, objective: Objective, tier: str) -> AlertRule:
    summary, description = describe(objective, tier, "{{ $value | humanizePercentage }}")
    return AlertRule(
        name=alert_name(objective, tier),
        expr=burn_expr(spec, objective, tier),
        for_=FOR[tier],
        severity="critical" if tier == "page" else "warning",
        audience="oncall",
        summary=summary,
        description=description,
        dashboard="overview",
        panel=PANEL[(objective.kind, tier)],
        # The expression keeps slo too; as a fixed label it also tells the rules apart.
        labels={"slo": objective.name},
        dashboard_variables={"slo": "{{ $labels.slo }}"},
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    rules = tuple(rule(spec, o, tier) for o in spec.slos.objectives for tier in ("page", "ticket"))
    return tuple(
        RuleGroup(f"gatewatch-slo{'' if i == 0 else f'-{i // 20 + 1}'}", rules[i:i + 20])
        for i in range(0, len(rules), 20)
    )


# ---- promtool unit tests -------------------------------------------------------------------

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
                    summary, description = describe(objective, tier, humanize_percentage(scenario.error_ratio))
                    expected = (expected_alert(spec, rule_, labels, summary, description),)
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


def humanize_percentage(ratio: float) -> str:
    """What Prometheus's ``humanizePercentage`` prints (Go's %.4g of ratio x 100)."""
    return f"{ratio * 100:.4g}%"
