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

import math
from collections.abc import Hashable
from typing import TypeVar

from alerts import recording
from alerts.cases import expected_alert
from alerts.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, SeriesInput, UnitTest
from exporter import catalog
from exporter.exposition import format_le
from exporter.spec import Spec

# Below this request rate an app's "10x" is a handful of requests, not a loop.
RUNAWAY_MIN_REQUESTS_PER_SECOND = 1.0
RUNAWAY_MODAL_SHARE = 0.9
# Younger than this, an app's daily average is its own start-up ramp: no baseline to be 10x of.
RUNAWAY_MIN_HISTORY = "1h"
# Unowned spend below this is a rounding error; above it, someone must find the owner.
UNATTRIBUTED_MIN_USD_PER_HOUR = 1.0
SENTINELS = (catalog.UNASSIGNED, catalog.OTHER)
HOURLY_TEST_EVALUATION_INTERVAL = "1h"

MTD = recording.TEAM_COST_MONTH_TO_DATE
BUDGET = recording.TEAM_BUDGET
RATE1H = recording.TEAM_COST_RATE1H
RATE6H = recording.TEAM_COST_RATE6H
PERIOD_END = catalog.TEAM_BUDGET_PERIOD_END.name
TEAM_VARS = {"team": "{{ $labels.team }}"}
Setting = TypeVar("Setting", bound=Hashable)


def _num(value: float) -> str:
    return f"{value:g}"


def team_thresholds(spec: Spec) -> dict[str, tuple[float, ...]]:
    """Each team's budget thresholds: its override, else the organisation's."""
    alerting = spec.alerting
    default = alerting.budget_thresholds_percent if alerting else (50.0, 75.0, 90.0, 100.0)
    overrides = alerting.team_overrides if alerting else {}
    return {
        t.name: tuple(sorted(set(o.budget_thresholds_percent)))
        if (o := overrides.get(t.name)) and o.budget_thresholds_percent else tuple(sorted(set(default)))
        for t in spec.teams
    }


def team_anomaly_factors(spec: Spec) -> dict[str, float]:
    alerting = spec.alerting
    default = alerting.cost_anomaly_factor if alerting else 4.0
    overrides = alerting.team_overrides if alerting else {}
    return {
        t.name: o.cost_anomaly_factor if (o := overrides.get(t.name)) and o.cost_anomaly_factor else default
        for t in spec.teams
    }


def _classes(by_team: dict[str, Setting]) -> list[tuple[Setting, str]]:
    """Teams grouped by setting, each with a team matcher. The most common setting (the
    organisation's default) matches by exclusion, so teams not in the spec are covered too."""
    settings: dict[Setting, list[str]] = {}
    for team, setting in by_team.items():
        settings.setdefault(setting, []).append(team)
    ordered = sorted(settings.items(), key=lambda kv: -len(kv[1]))
    if len(ordered) == 1:
        return [(ordered[0][0], "")]
    others = sorted(t for _, teams in ordered[1:] for t in teams)
    classes = [(ordered[0][0], f'{{team!~"{"|".join(others)}"}}')]
    classes += [(setting, f'{{team=~"{"|".join(sorted(teams))}"}}') for setting, teams in ordered[1:]]
    return classes


def _percent(selector: str) -> str:
    return f"100 * {MTD}{selector} / {BUDGET}"


# ---- budget -----------------------------------------------------------------------------------

def threshold_text(team: str, value: str, threshold: str) -> tuple[str, str]:
    return (
        f"{team} has spent {threshold} % of its monthly AI budget",
        f"Month-to-date spend of {team} is {value} % of its budget (threshold {threshold} %).",
    )


def threshold_rules(spec: Spec) -> tuple[AlertRule, ...]:
    """One rule per threshold below 100 %; a team matches only between its threshold and its
    next one (or 100 %), so only the highest crossed threshold fires."""
    clauses: dict[float, list[str]] = {}
    for setting, selector in _classes(team_thresholds(spec)):
        levels = [t for t in setting if t < 100]
        for i, level in enumerate(levels):
            upper = levels[i + 1] if i + 1 < len(levels) else 100
            clauses.setdefault(level, []).append(f"({_percent(selector)} >= {_num(level)} < {_num(upper)})")
    value = '{{ printf "%.1f" $value }}'
    texts = {level: threshold_text("{{ $labels.team }}", value, _num(level)) for level in clauses}
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


def exhausted_text(team: str, value: str) -> tuple[str, str]:
    return (
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


def overrun_text(team: str, value: str) -> tuple[str, str]:
    return (
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

def anomaly_text(team: str, value: str) -> tuple[str, str]:
    return (
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
    floor = spec.alerting.cost_anomaly_min_usd_per_hour if spec.alerting else 2.0
    clauses = []
    for factor, selector in _classes(team_anomaly_factors(spec)):
        now = f"{recording.TEAM_COST_RATE30M}{selector}"
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


def runaway_text(team: str, app: str, value: str) -> tuple[str, str]:
    return (
        f"Runaway loop suspected: app {app} of {team}",
        f"{app} ({team}) sends {value} requests/s, many times its daily average, and its team's prompts "
        "are nearly all the same length: a client retrying or looping. Every minute costs money.",
    )


def runaway_rule(spec: Spec) -> AlertRule:
    factor = spec.alerting.runaway_loop_factor if spec.alerting else 10.0
    rate = recording.TEAM_APP_FORWARDED_RATE5M
    expr = (
        f"(\n  {rate} > {_num(factor)} * avg_over_time({recording.TEAM_APP_FORWARDED_RATE1H}[1d])\n"
        f"  and\n  {rate} > {_num(RUNAWAY_MIN_REQUESTS_PER_SECOND)}\n)\n"
        f"and on (team, app)\n"
        f"{recording.TEAM_APP_FORWARDED_RATE1H} offset {RUNAWAY_MIN_HISTORY}\n"
        f"and on (team)\n"
        f"(max by (team) ({recording.TEAM_MODEL_PROMPT_MODAL_SHARE}) >= {_num(RUNAWAY_MODAL_SHARE)})"
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


def unattributed_text(team: str, value: str) -> tuple[str, str]:
    return (
        f"Spend nobody owns: {team}",
        f"Spend attributed to {team} is {value} USD per hour: find the keys or apps behind it and "
        "map them to a team in the spec.",
    )


def unattributed_rule() -> AlertRule:
    summary, description = unattributed_text("{{ $labels.team }}", '{{ printf "%.2f" $value }}')
    return AlertRule(
        name="GenAIUnattributedSpend",
        expr=f'{RATE1H}{{team=~"{"|".join(SENTINELS)}"}} * 3600 > {_num(UNATTRIBUTED_MIN_USD_PER_HOUR)}',
        for_="1h", severity="warning", audience="budget_owner", summary=summary, description=description,
        dashboard="cost", panel="unattributed", team=None, dashboard_variables=TEAM_VARS,
    )


def unpriced_text(model: str, value: str) -> tuple[str, str]:
    return (
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


# ---- promtool unit tests -------------------------------------------------------------------
# Budget tests read month-to-date, built from an hourly rule, and the anomaly test needs a week of
# history: promtool evaluates every group at the file's evaluation_interval (ignoring a group's
# own interval), so they go in a file evaluated hourly (HOURLY_TEST_EVALUATION_INTERVAL).

TEST_BUDGET_USD = 4000.0  # 100 USD/h is then 2.5 % an hour: every threshold on a whole hour
TEST_SPEND_PER_HOUR = 100.0
REPLICAS = ("exporter-a:9464", "exporter-b:9464")
MONTH_HOURS = 744  # January 1970, where promtool's clock starts


def _cost_series(team: str, per_hour: float, hours: int, reset_at_hour: int | None = None) -> tuple[SeriesInput, ...]:
    """Spend split over two replicas, sampled every 15m; the second replica restarts (its
    counter starts again) at ``reset_at_hour``."""
    step = per_hour / len(REPLICAS) / 4
    labels = f'team="{team}", app="test-app", model="gpt-4o", provider="openai"'
    series = []
    for i, instance in enumerate(REPLICAS):
        quarters = hours * 4
        if i == 1 and reset_at_hour is not None:
            before = reset_at_hour * 4
            values = f"0+{step:g}x{before} {step:g}+{step:g}x{quarters - before - 1}"
        else:
            values = f"0+{step:g}x{quarters}"
        series.append(SeriesInput(f'{catalog.COST.name}{{{labels}, instance="{instance}"}}', values))
    return tuple(series)


def _budget_gauges(team: str, budget: float, end_hours: int, hours: int) -> tuple[SeriesInput, ...]:
    series = []
    for instance in REPLICAS:
        labels = f'team="{team}", period="month", instance="{instance}"'
        for metric, value in ((catalog.TEAM_BUDGET, budget), (catalog.TEAM_BUDGET_PERIOD_START, 0.0),
                              (PERIOD_END, float(end_hours * 3600))):
            name = metric if isinstance(metric, str) else metric.name
            series.append(SeriesInput(f"{name}{{{labels}}}", f"{value:g}x{hours * 4}"))
    return tuple(series)


def _threshold_expected(spec: Spec, team: str, levels: tuple[float, ...], percent: float) -> tuple[ExpectedAlert, ...]:
    crossed = [t for t in levels if t < 100 and t <= percent]
    if not crossed or percent >= 100:
        return ()
    level = crossed[-1]
    rule = next(r for r in threshold_rules(spec) if r.labels["threshold_percent"] == _num(level))
    summary, description = threshold_text(team, f"{percent:.1f}", _num(level))
    return (expected_alert(spec, rule, {"team": team}, summary, description),)


def hourly_unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    """Tests of alerts over long history, in a file evaluated hourly: budgets and anomalies."""
    factors = team_anomaly_factors(spec)
    anomalies = tuple(
        _anomaly_test(spec, next(t for t, f in factors.items() if f == factor), factor)
        for factor, _ in _classes(factors)
    )
    return (*budget_unit_tests(spec), *anomalies)


def budget_unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    """Per distinct threshold list: each threshold silent one hour before its percentage and
    firing at it (the lower one still showing before); exhausted at 100 %; a projected overrun."""
    per_hour_percent = 100 * TEST_SPEND_PER_HOUR / TEST_BUDGET_USD
    hours = math.ceil(100 / per_hour_percent) + 1
    tests = []
    thresholds = team_thresholds(spec)
    seen: set[tuple[float, ...]] = set()
    for team, levels in thresholds.items():
        if levels in seen:
            continue
        seen.add(levels)
        cases = []
        for level in (t for t in levels if t < 100):
            at = math.ceil(level / per_hour_percent)
            for hour in (at - 1, at):
                percent = hour * per_hour_percent
                cases.append(AlertCase("GenAIBudgetThreshold", f"{hour}h",
                                       _threshold_expected(spec, team, levels, percent)))
        at = math.ceil(100 / per_hour_percent)
        summary, description = exhausted_text(team, f"{at * per_hour_percent:.1f}")
        cases += [
            AlertCase("GenAIBudgetExhausted", f"{at - 1}h", ()),
            AlertCase("GenAIBudgetExhausted", f"{at}h",
                      (expected_alert(spec, exhausted_rule(), {"team": team}, summary, description),)),
        ]
        tests.append(UnitTest(
            name=f"budget thresholds {', '.join(map(_num, levels))} ({team}), two replicas, one restarting",
            interval="15m",
            series=(*_cost_series(team, TEST_SPEND_PER_HOUR, hours, reset_at_hour=hours // 3),
                    *_budget_gauges(team, TEST_BUDGET_USD, MONTH_HOURS, hours)),
            alerts=tuple(cases),
        ))
    # 10 USD/h against a 900 USD budget with 100 h left: from hour 6 (the 6h rate is whole) the
    # projection is 10 x 100 = 1000 USD; before, the 6h rate still counts hours without data.
    team = spec.teams[0].name
    summary, description = overrun_text(team, "1000.00")
    tests.append(UnitTest(
        name=f"projected overrun ({team})",
        interval="15m",
        series=(*_cost_series(team, 10.0, 9), *_budget_gauges(team, 900.0, 100, 9)),
        alerts=(
            AlertCase("GenAIBudgetOverrunProjected", "7h", ()),
            AlertCase("GenAIBudgetOverrunProjected", "8h",
                      (expected_alert(spec, overrun_rule(), {"team": team}, summary, description),)),
            AlertCase("GenAIBudgetExhausted", "8h", ()),
        ),
    ))
    return tuple(tests)


def _anomaly_test(spec: Spec, team: str, factor: float) -> UnitTest:
    """A week and two hours at 2.4 USD/h, then 120 USD/h. The first hour holding only jumped
    spend clears both baselines (2.4 a week ago; the day's hourly average, 11.8 at most), so the
    alert is pending then and fires at the next (hourly) evaluation."""
    at = 7 * 24 + 2  # hours: the evaluation whose last hour is all jump
    baseline, jump = 0.6, 30.0  # USD per 15m
    first_jumped = at * 4 - 3
    labels = f'team="{team}", app="test-app", model="gpt-4o", provider="openai", instance="{REPLICAS[0]}"'
    values = f"0+{baseline:g}x{first_jumped - 1} {(first_jumped - 1) * baseline + jump:g}+{jump:g}x8"
    summary, description = anomaly_text(team, f"{4 * jump:.2f}")
    rule = anomaly_rule(spec)
    return UnitTest(
        name=f"cost anomaly ({team}, factor {_num(factor)})",
        interval="15m",
        series=(SeriesInput(f"{catalog.COST.name}{{{labels}}}", values),),
        alerts=(
            AlertCase(rule.name, f"{at}h", ()),
            AlertCase(rule.name, f"{at + 1}h", (expected_alert(spec, rule, {"team": team}, summary, description),)),
        ),
    )


def _prompt_histogram(team: str, per_minute: float, minutes: int, spread: bool) -> tuple[SeriesInput, ...]:
    """Prompts all in the (256, 1024] bucket, or spread evenly over four buckets."""
    name = catalog.PROMPT_TOKENS.name
    bounds = [format_le(b) for b in catalog.PROMPT_TOKENS.buckets] + ["+Inf"]
    first = bounds.index("1024.0")
    series = []
    for i, le in enumerate(bounds):
        # spread: a quarter in each of the four buckets up to 4096 tokens
        share = min(max(i - first + 3, 0), 4) / 4 if spread else float(i >= first)
        series.append(SeriesInput(f'{name}_bucket{{team="{team}", model="gpt-4o", le="{le}"}}',
                                  f"0+{per_minute * share:g}x{minutes}"))
    series.append(SeriesInput(f'{name}_count{{team="{team}", model="gpt-4o"}}', f"0+{per_minute:g}x{minutes}"))
    return tuple(series)


def _runaway_test(spec: Spec, spread: bool, jump_outcome: str = "success") -> UnitTest:
    """Two hours at 12 requests a minute, then 1200. With identical prompts the loop is pending
    from the jump and fires 2m later at 12.1 requests/s ((3 x 1200 + 2 x 12) / 300); spread prompts
    (a real burst) never fire, nor does a jump the gateway blocks (``jump_outcome="guardrail_blocked"``:
    the ordinary 12 a minute go on, the 1200 never reach a provider). The app is two hours old: its hourly rate an
    hour before the jump (0.2 requests/s at 60m) exists, so the history guard passes."""
    app = spec.apps[0] if spec.apps else None
    team, app_name = (app.team, app.name) if app else (spec.teams[0].name, "test-app")
    base, jump, jump_at, after = 12.0, 1200.0, 120, 10
    labels = (f'team="{team}", app="{app_name}", model="gpt-4o", provider="openai", operation="chat", '
              'cache="miss"')
    total = jump_at + after
    requests: tuple[SeriesInput, ...]
    if jump_outcome == "success":
        requests = (SeriesInput(f'{catalog.REQUESTS.name}{{{labels}, outcome="success"}}',
                                f"0+{base:g}x{jump_at - 1} {(jump_at - 1) * base + jump:g}+{jump:g}x{after}"),)
    else:
        requests = (SeriesInput(f'{catalog.REQUESTS.name}{{{labels}, outcome="success"}}', f"0+{base:g}x{total}"),
                    SeriesInput(f'{catalog.REQUESTS.name}{{{labels}, outcome="{jump_outcome}"}}',
                                f"0x{jump_at - 1} {jump:g}+{jump:g}x{after}"))
    rule = runaway_rule(spec)
    fire_at = jump_at + 2
    # The 5m window at fire_at spans minutes jump_at - 3 .. fire_at: 3 jumped minutes, 2 ordinary.
    jumped = fire_at - jump_at + 1
    per_second = (jumped * jump + (5 - jumped) * base) / 300
    summary, description = runaway_text(team, app_name, f"{per_second:.1f}")
    fires = not spread and jump_outcome == "success"
    expected = (expected_alert(spec, rule, {"team": team, "app": app_name}, summary, description),) if fires else ()
    what = f"prompts {'spread' if spread else 'identical'}"
    if jump_outcome != "success":
        what += f", the jump {jump_outcome}"
    return UnitTest(
        name=f"runaway loop ({app_name}), {what}",
        interval="1m",
        series=(*requests, *_prompt_histogram(team, base, total, spread)),
        alerts=(AlertCase(rule.name, f"{fire_at - 1}m", ()), AlertCase(rule.name, f"{fire_at}m", expected)),
    )


def _new_app_test(spec: Spec) -> UnitTest:
    """A brand-new app: its first requests at minute 0, 120 a minute (2/s) from then on, prompts
    all alike. Without the history guard it would page within minutes.

    Hand computation (the counter starts at 0, so rate() does not extrapolate before minute 0):
    the 5m rate is 120t / 300 = 0.4t requests/s at minute t < 5 (1.2 at 3m, above 1/s), then 2;
    the 1h rate is 120k / 3600 = k/30 at minute k, so the day's average at minute t is the mean
    of 1/30 .. t/30 = (t + 1)/60, and 10x of it is (t + 1)/6. The 5m rate beats that from 3m
    (1.2 > 0.67) to 10m (2 > 1.83): unguarded, pending at 3m and firing at 3 + 2 = 5m. With the
    guard, the app's hourly rate an hour ago exists only from 61m (minute 1's); by then the day's
    average is (61 + 2) / 61 = 1.03/s (minutes 1..60 sum to 61, minute 61 adds 2) and 10x of it,
    10.3, is far above 2: silent at 8m, at 61m and at 70m.
    """
    team = spec.teams[0].name
    labels = (f'team="{team}", app="new-app", model="gpt-4o", provider="openai", operation="chat", '
              f'outcome="success", cache="miss"')
    rule = runaway_rule(spec)
    return UnitTest(
        name="runaway loop: a brand-new app above 1 request/s with identical prompts does not page",
        interval="1m",
        series=(SeriesInput(f"{catalog.REQUESTS.name}{{{labels}}}", "0+120x70"),
                *_prompt_histogram(team, 120.0, 70, spread=False)),
        alerts=tuple(AlertCase(rule.name, at, ()) for at in ("8m", "10m", "61m", "70m")),
    )


def unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    """Tests evaluated every minute (the usual unit-test file)."""
    tests = [_runaway_test(spec, spread=False), _runaway_test(spec, spread=True),
             _runaway_test(spec, spread=False, jump_outcome="guardrail_blocked"), _new_app_test(spec)]

    # 15 USD/h unowned: the hourly figure passes 1 USD at minute 5 (1.25), fires an hour later.
    unowned = catalog.UNASSIGNED
    rule = unattributed_rule()
    summary, description = unattributed_text(unowned, "15.00")
    tests.append(UnitTest(
        name="unattributed spend",
        interval="1m",
        series=(SeriesInput(f'{catalog.COST.name}{{team="{unowned}", app="{unowned}", model="gpt-4o", '
                            f'provider="openai"}}', "0+0.25x70"),),
        alerts=(AlertCase(rule.name, "64m", ()),
                AlertCase(rule.name, "65m", (expected_alert(spec, rule, {"team": unowned}, summary, description),))),
    ))

    # One unpriced request a minute from the start: pending at 1m, firing at 31m.
    rule = unpriced_rule()
    summary, description = unpriced_text("mystery-model", "15")
    tests.append(UnitTest(
        name="unpriced traffic",
        interval="1m",
        series=(SeriesInput(f'{catalog.EXPORTER_UNPRICED.name}{{model="mystery-model"}}', "0+1x40"),),
        alerts=(AlertCase(rule.name, "30m", ()),
                AlertCase(rule.name, "31m", (expected_alert(spec, rule, {"model": "mystery-model"}, summary,
                                                            description),))),
    ))
    return tuple(tests)
