"""promtool cases for the cost alerts (alerts/cost.py).

Budget tests read month-to-date, built from an hourly rule, and the anomaly test needs a week of
history: promtool evaluates every group at the file's evaluation_interval (ignoring a group's
own interval), so they go in a file evaluated hourly (HOURLY_EVALUATION_INTERVAL).
"""

from __future__ import annotations

import math

from alerts.cases.expected import expected_alert
from alerts.cost import (
    PERIOD_END,
    anomaly_rule,
    anomaly_text,
    exhausted_rule,
    exhausted_text,
    overrun_rule,
    overrun_text,
    runaway_rule,
    runaway_text,
    team_anomaly_factors,
    team_classes,
    team_thresholds,
    threshold_rules,
    threshold_text,
    unattributed_rule,
    unattributed_text,
    unpriced_rule,
    unpriced_text,
)
from alerts.model import AlertCase, ExpectedAlert, SeriesInput, UnitTest
from contract import catalog
from contract.promql import format_le
from contract.spec import Spec

HOURLY_EVALUATION_INTERVAL = "1h"


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
    rule = next(r for r in threshold_rules(spec) if float(r.labels["threshold_percent"]) == level)
    return (expected_alert(spec, rule, {"team": team}, threshold_text(team, f"{percent:.1f}", level)),)


def hourly_unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    """Tests of alerts over long history, in a file evaluated hourly: budgets and anomalies."""
    factors = team_anomaly_factors(spec)
    anomalies = tuple(
        _anomaly_test(spec, next(t for t, f in factors.items() if f == factor), factor)
        for factor, _ in team_classes(factors)
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
        cases += [
            AlertCase("GenAIBudgetExhausted", f"{at - 1}h", ()),
            AlertCase("GenAIBudgetExhausted", f"{at}h",
                      (expected_alert(spec, exhausted_rule(), {"team": team},
                                     exhausted_text(team, f"{at * per_hour_percent:.1f}")),)),
        ]
        tests.append(UnitTest(
            name=f"budget thresholds {', '.join(f'{level:g}' for level in levels)} ({team}), two replicas, "
                 "one restarting",
            interval="15m",
            series=(*_cost_series(team, TEST_SPEND_PER_HOUR, hours, reset_at_hour=hours // 3),
                    *_budget_gauges(team, TEST_BUDGET_USD, MONTH_HOURS, hours)),
            alerts=tuple(cases),
        ))
    # 10 USD/h against a 900 USD budget with 100 h left: from hour 6 (the 6h rate is whole) the
    # projection is 10 x 100 = 1000 USD; before, the 6h rate still counts hours without data.
    team = spec.teams[0].name
    tests.append(UnitTest(
        name=f"projected overrun ({team})",
        interval="15m",
        series=(*_cost_series(team, 10.0, 9), *_budget_gauges(team, 900.0, 100, 9)),
        alerts=(
            AlertCase("GenAIBudgetOverrunProjected", "7h", ()),
            AlertCase("GenAIBudgetOverrunProjected", "8h",
                      (expected_alert(spec, overrun_rule(), {"team": team}, overrun_text(team, "1000.00")),)),
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
    rule = anomaly_rule(spec)
    return UnitTest(
        name=f"cost anomaly ({team}, factor {factor:g})",
        interval="15m",
        series=(SeriesInput(f"{catalog.COST.name}{{{labels}}}", values),),
        alerts=(
            AlertCase(rule.name, f"{at}h", ()),
            AlertCase(rule.name, f"{at + 1}h",
                      (expected_alert(spec, rule, {"team": team}, anomaly_text(team, f"{4 * jump:.2f}")),)),
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
    if jump_outcome == "success":
        requests: tuple[SeriesInput, ...] = (SeriesInput(f'{catalog.REQUESTS.name}{{{labels}, outcome="success"}}',
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
    fires = not spread and jump_outcome == "success"
    text = runaway_text(team, app_name, f"{per_second:.1f}")
    expected = (expected_alert(spec, rule, {"team": team, "app": app_name}, text),) if fires else ()
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
    tests.append(UnitTest(
        name="unattributed spend",
        interval="1m",
        series=(SeriesInput(f'{catalog.COST.name}{{team="{unowned}", app="{unowned}", model="gpt-4o", '
                            f'provider="openai"}}', "0+0.25x70"),),
        alerts=(AlertCase(rule.name, "64m", ()),
                AlertCase(rule.name, "65m", (expected_alert(spec, rule, {"team": unowned},
                                                            unattributed_text(unowned, "15.00")),))),
    ))

    # One unpriced request a minute from the start: pending at 1m, firing at 31m.
    rule = unpriced_rule()
    tests.append(UnitTest(
        name="unpriced traffic",
        interval="1m",
        series=(SeriesInput(f'{catalog.EXPORTER_UNPRICED.name}{{model="mystery-model"}}', "0+1x40"),),
        alerts=(AlertCase(rule.name, "30m", ()),
                AlertCase(rule.name, "31m", (expected_alert(spec, rule, {"model": "mystery-model"},
                                                            unpriced_text("mystery-model", "15")),))),
    ))
    return tuple(tests)
