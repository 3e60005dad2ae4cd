"""SLO alerts: multi-window, multi-burn-rate, one page and one ticket alert per objective.

The windows and factors are contract/burnrate.py's BURN_WINDOWS (its docstring explains them):
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

from alerts.model import AlertRule, AlertText, RuleGroup
from contract import signals
from contract.burnrate import BURN_WINDOWS, BurnWindow, budget_fraction
from contract.promql import number
from contract.spec import Objective, Spec

FOR = {"page": "2m", "ticket": "15m"}
SEVERITY = {"page": "critical", "ticket": "warning"}
PANEL = {("availability", "page"): "slo-status", ("availability", "ticket"): "error-budget",
         ("ttft", "page"): "ttft", ("ttft", "ticket"): "ttft"}
KIND_NAME = {"availability": "Availability", "ttft": "TTFT"}


def shown(value: float) -> str:
    """A number in prose: 3, not 3.0."""
    return f"{round(value, 12):g}"


def error_budget(objective: Objective) -> float:
    return budget_fraction(objective.target_percent)


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
            f"(\n  {signals.ratio_record(window.long)}{selector} > {threshold}\n"
            f"  and\n  {signals.ratio_record(window.short)}{selector} > {threshold}\n)"
        )
    guard = f"{signals.SLI_REQUESTS_RATE1H}{selector} * 3600 >= {number(spec.slos.min_requests_per_hour)}"
    return "(\n" + "\nor\n".join(pairs) + f"\n)\nand on (slo)\n{guard}"


def _what(objective: Objective) -> str:
    covers = f"model {objective.model}" if objective.model else f"provider {objective.provider}"
    if objective.kind == "availability":
        return f"requests to {covers} failing"
    return f"requests to {covers} slower than {objective.threshold_seconds:g} s to the first token"


def describe(objective: Objective, tier: str, value: str) -> AlertText:
    """Summary and description with ``value`` (a template, or its rendering in the promtool cases)."""
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
    return AlertText(summary, description)


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
