"""Cost alerts: budgets, spend anomalies, runaway loops, spend nobody owns, traffic nobody priced.

Budget alerts compare ``team:genai_cost_usd:month_to_date`` (summed in Prometheus from the cost
counter, hour by hour: see alerts/recording.py) with ``max by (team)`` of the budget gauge that
every replica exposes. They go to the team's budget owner; only a runaway loop -- a malfunction
burning money by the minute -- pages on-call, and tells the budget owner too.

Runaway loop: one app far above its own daily baseline *and* near-identical requests. "Near
identical" is read from the prompt-length histogram (labelled by team and model, not app, to
keep it small): at least RUNAWAY_MODAL_SHARE of the team+model's prompts in the last 5m fall in
one length bucket. A loop re-sending one prompt at 10x the app's volume dominates its team's
histogram; a real burst of users spreads over several buckets. The app must also be at least
RUNAWAY_MIN_HISTORY old (its hourly rate was recorded that long ago): a brand-new app's daily
average covers only its own first minutes, a sliver of its 5m rate, so above one request per
second with uniform prompts it would trip at once. The guard asks for the app's existence, not
its activity, so a loop that starts in an app idle for the last hour still pages. Only requests
the gateway forwarded to a provider count: a blocked prompt-injection wave repeats one prompt at
machine rate too, but costs nothing and is security's alert, not a page for on-call.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

from alerts.model import AlertRule, AlertText, RuleGroup
from contract import catalog, signals
from contract.promql import excludes, matches, sentinel
from contract.spec import Spec

# Below this request rate an app's "10x" is a handful of requests, not a loop.
RUNAWAY_MIN_REQUESTS_PER_SECOND = 1.0
RUNAWAY_MODAL_SHARE = 0.9
# Younger than this, an app's daily average is its own start-up ramp: no baseline to be 10x of.
RUNAWAY_MIN_HISTORY = "1h"
# Unowned spend below this is a rounding error; above it, someone must find the owner.
UNATTRIBUTED_MIN_USD_PER_HOUR = 1.0

MTD = signals.TEAM_COST_MONTH_TO_DATE
BUDGET = signals.TEAM_BUDGET
RATE1H = signals.TEAM_COST_RATE1H
RATE6H = signals.TEAM_COST_RATE6H
PERIOD_END = catalog.TEAM_BUDGET_PERIOD_END.name
TEAM_VARS = {"team": "{{ $labels.team }}"}
Setting = TypeVar("Setting", bound=Hashable)


def _num(value: float) -> str:
    return f"{value:g}"


def team_thresholds(spec: Spec) -> dict[str, tuple[float, ...]]:
    """Each team's budget thresholds: its override, else the organisation's."""
    return {t.name: tuple(sorted(set(spec.thresholds.team_budget_percents(t.name)))) for t in spec.teams}


def team_anomaly_factors(spec: Spec) -> dict[str, float]:
    return {t.name: spec.thresholds.team_anomaly_factor(t.name) for t in spec.teams}


def team_classes(by_team: dict[str, Setting]) -> list[tuple[Setting, str]]:
    """Teams grouped by setting, each with a team matcher. The most common setting (the
    organisation's default) matches by exclusion, so teams not in the spec are covered too."""
    settings: dict[Setting, list[str]] = {}
    for team, setting in by_team.items():
        settings.setdefault(setting, []).append(team)
    ordered = sorted(settings.items(), key=lambda kv: -len(kv[1]))
    if len(ordered) == 1:
        return [(ordered[0][0], "")]
    others = sorted(t for _, teams in ordered[1:] for t in teams)
    classes = [(ordered[0][0], f"{{{excludes('team', others)}}}")]
    classes += [(setting, f"{{{matches('team', sorted(teams))}}}") for setting, teams in ordered[1:]]
    return classes


def _percent(selector: str) -> str:
    return f"100 * {MTD}{selector} / {BUDGET}"


# ---- budget -----------------------------------------------------------------------------------

def threshold_text(team: str, value: str, threshold: float) -> AlertText:
    return AlertText(
        f"{team} has spent {_num(threshold)} % of its monthly AI budget",
        f"Month-to-date spend of {team} is {value} % of its budget (threshold {_num(threshold)} %).",
    )


def threshold_rules(spec: Spec) -> tuple[AlertRule, ...]:
    """One rule per threshold below 100 %; a team matches only between its threshold and its
    next one (or 100 %), so only the highest crossed threshold fires."""
    clauses: dict[float, list[str]] = {}
    for setting, selector in team_classes(team_thresholds(spec)):
        levels = [t for t in setting if t < 100]
        for i, level in enumerate(levels):
            upper = levels[i + 1] if i + 1 < len(levels) else 100
            clauses.setdefault(level, []).append(f"({_percent(selector)} >= {_num(level)} < {_num(upper)})")
    value = '{{ printf "%.1f" $value }}'
    texts = {level: threshold_text("{{ $labels.team }}", value, level) for level in clauses}
    return tuple(
        AlertRule(
            name="GenAIBudgetThreshold",
            expr="\nor\n".join(clauses[level]),
            for_="",
            severity="info" if level < 90 else "warning",
            audience="budget_owner",
            summary=texts[level][0],
            description=texts[level][1],
            dashboard="cost",
            panel="month-to-date",
            team=None,
            labels={"threshold_percent": _num(level)},
            dashboard_variables=TEAM_VARS,
        )
        for level in sorted(clauses)
    )


def exhausted_text(team: str, value: str) -> AlertText:
    return AlertText(
        f"{team} has spent its whole monthly AI budget",
        f"Month-to-date spend of {team} is {value} % of its budget.",
    )


def exhausted_rule() -> AlertRule:
    summary, description = exhausted_text("{{ $labels.team }}", '{{ printf "%.1f" $value }}')
    return AlertRule(
        name="GenAIBudgetExhausted", expr=f"{_percent('')} >= 100", for_="", severity="warning",
        audience="budget_owner", summary=summary, description=description, dashboard="cost",
        panel="month-to-date", team=None, dashboard_variables=TEAM_VARS,
    )


def overrun_text(team: str, value: str) -> AlertText:
    return AlertText(
        f"{team} is on course to overrun its monthly AI budget",
        f"At its recent spend rate {team} will have spent {value} USD by the end of the month, over its budget.",
    )


def overrun_rule() -> AlertRule:
    """Projection = month-to-date + the lower of the 1h and 6h spend rates x seconds left. The
    lower rate and ``for: 2h`` keep one spike from firing it: a burst leaves the 1h rate within
    the hour, so it cannot hold the projection up for two."""
    summary, description = overrun_text("{{ $labels.team }}", '{{ printf "%.2f" $value }}')
    expr = (
        f"{MTD}\n+ on (team) ({RATE6H} < {RATE1H} or {RATE1H})\n"
        f'  * on (team) (max by (team) ({PERIOD_END}{{period="month"}}) - time())\n'
        f"> on (team) {BUDGET}"
    )
    return AlertRule(
        name="GenAIBudgetOverrunProjected", expr=expr, for_="2h", severity="warning", audience="budget_owner",
        summary=summary, description=description, dashboard="cost", panel="projected", team=None,
        dashboard_variables=TEAM_VARS,
    )


# ---- spend patterns ---------------------------------------------------------------------------

def anomaly_text(team: str, value: str) -> AlertText:
    return AlertText(
        f"{team} is spending far above its usual rate",
        f"{team} has been spending {value} USD an hour over the last 30 minutes, far above both the same "
        "hour last week and its average over the last day.",
    )


def anomaly_rule(spec: Spec) -> AlertRule:
    """The last 30 minutes' spend rate against two hourly baselines -- the same hour a week ago
    (weekly rhythm) and the trailing day (today's level) -- times the team's factor, held for 5m.

    Why 30 minutes and not the last hour: a jump of J times crosses a factor f after (f - 1) /
    (J - 1) of the window, so a team's 20x jump past 4x shows after 4.7 minutes instead of 9.5,
    and with the 5m hold the budget owner hears within a quarter of an hour. 30 minutes still
    averages over bursts; the alert is a warning to the budget owner, not a page.
    """
    floor = spec.thresholds.cost_anomaly_min_usd_per_hour
    clauses = []
    for factor, selector in team_classes(team_anomaly_factors(spec)):
        now = f"{signals.TEAM_COST_RATE30M}{selector}"
        hourly = f"{RATE1H}{selector}"
        clauses.append(
            f"(\n  {now} > {_num(factor)} * {hourly} offset 1w\n"
            f"  and\n  {now} > {_num(factor)} * avg_over_time({hourly}[1d])\n)"
        )
    summary, description = anomaly_text("{{ $labels.team }}", '{{ printf "%.2f" $value }}')
    return AlertRule(
        name="GenAICostAnomaly", expr="(\n" + "\nor\n".join(clauses) + f"\n) * 3600 > {_num(floor)}",
        for_="5m", severity="warning", audience="budget_owner", summary=summary, description=description,
        dashboard="cost", panel="spend-rate", team=None, dashboard_variables=TEAM_VARS,
    )


def runaway_text(team: str, app: str, value: str) -> AlertText:
    return AlertText(
        f"Runaway loop suspected: app {app} of {team}",
        f"{app} ({team}) sends {value} requests/s, many times its daily average, and its team's prompts "
        "are nearly all the same length: a client retrying or looping. Every minute costs money.",
    )


def runaway_rule(spec: Spec) -> AlertRule:
    factor = spec.thresholds.runaway_loop_factor
    rate = signals.TEAM_APP_FORWARDED_RATE5M
    expr = (
        f"(\n  {rate} > {_num(factor)} * avg_over_time({signals.TEAM_APP_FORWARDED_RATE1H}[1d])\n"
        f"  and\n  {rate} > {_num(RUNAWAY_MIN_REQUESTS_PER_SECOND)}\n)\n"
        f"and on (team, app)\n"
        f"{signals.TEAM_APP_FORWARDED_RATE1H} offset {RUNAWAY_MIN_HISTORY}\n"
        f"and on (team)\n"
        f"(max by (team) ({signals.TEAM_MODEL_PROMPT_MODAL_SHARE}) >= {_num(RUNAWAY_MODAL_SHARE)})"
    )
    summary, description = runaway_text("{{ $labels.team }}", "{{ $labels.app }}", '{{ printf "%.1f" $value }}')
    return AlertRule(
        # Ten times the app's daily rate, one prompt over and over, above a request a second: two
        # minutes of that is a loop, and every further minute is money.
        name="GenAIRunawayLoop", expr=expr, for_="2m", severity="critical", audience="oncall",
        summary=summary, description=description, dashboard="cost", panel="top-apps", team=None,
        labels={"notify_budget_owner": "true"},
        dashboard_variables={"team": "{{ $labels.team }}", "app": "{{ $labels.app }}"},
    )


def unattributed_text(team: str, value: str) -> AlertText:
    return AlertText(
        f"Spend nobody owns: {team}",
        f"Spend attributed to {team} is {value} USD per hour: find the keys or apps behind it and "
        "map them to a team in the spec.",
    )


def unattributed_rule() -> AlertRule:
    summary, description = unattributed_text("{{ $labels.team }}", '{{ printf "%.2f" $value }}')
    return AlertRule(
        name="GenAIUnattributedSpend",
        expr=f"{RATE1H}{{{sentinel('team')}}} * 3600 > {_num(UNATTRIBUTED_MIN_USD_PER_HOUR)}",
        for_="1h", severity="warning", audience="budget_owner", summary=summary, description=description,
        dashboard="cost", panel="unattributed", team=None, dashboard_variables=TEAM_VARS,
    )


def unpriced_text(model: str, value: str) -> AlertText:
    return AlertText(
        f"Requests to {model} cannot be priced",
        f"{value} requests to {model} in the last 15 minutes had tokens but no gateway-reported cost and "
        "no price in the spec: their spend is missing from every cost figure. Add the model to the price table.",
    )


def unpriced_rule() -> AlertRule:
    summary, description = unpriced_text("{{ $labels.model }}", '{{ printf "%.0f" $value }}')
    return AlertRule(
        name="GenAIUnpricedTraffic",
        expr=f"sum by (model) (increase({catalog.EXPORTER_UNPRICED.name}[15m])) > 0",
        for_="30m", severity="warning", audience="oncall", summary=summary, description=description,
        dashboard="cost", panel="unpriced",
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    return (
        RuleGroup("gatewatch-budget", (*threshold_rules(spec), exhausted_rule(), overrun_rule())),
        RuleGroup("gatewatch-cost-patterns", (
            anomaly_rule(spec), runaway_rule(spec), unattributed_rule(), unpriced_rule(),
        )),
    )
