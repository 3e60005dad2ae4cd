"""Budget, anomaly, runaway-loop, unattributed and unpriced alerts."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import cost
from alerts.cases import cost as cost_cases
from alerts.model import AlertRule
from contract.spec import load
from tests.paths import EXAMPLE_SPEC
from tests.test_rules_recording import run_promtool_tests

SPEC = load(EXAMPLE_SPEC)
RULES = [r for g in cost.groups(SPEC) for r in g.rules if isinstance(r, AlertRule)]


def rules(name: str) -> list[AlertRule]:
    return [r for r in RULES if r.name == name]


def test_each_team_gets_its_thresholds_from_the_spec() -> None:
    thresholds = cost.team_thresholds(SPEC)
    assert thresholds["search"] == (25, 50, 75, 90, 100)  # ops.yaml's override
    assert thresholds["support"] == thresholds["research"] == (50, 75, 90, 100)


@pytest.mark.parametrize(("threshold", "severity"), [("25", "info"), ("50", "info"), ("75", "info"), ("90", "warning")])
def test_one_threshold_rule_per_level_below_100(threshold: str, severity: str) -> None:
    by_level = {r.labels["threshold_percent"]: r for r in rules("GenAIBudgetThreshold")}
    assert set(by_level) == {"25", "50", "75", "90"}
    assert by_level[threshold].severity == severity
    assert by_level[threshold].audience == "budget_owner" and by_level[threshold].team is None


def test_threshold_matches_only_up_to_the_teams_next_threshold() -> None:
    by_level = {r.labels["threshold_percent"]: r for r in rules("GenAIBudgetThreshold")}
    search = '100 * team:genai_cost_usd:month_to_date{team=~"search"} / team:genai_team_budget_usd:max'
    others = '100 * team:genai_cost_usd:month_to_date{team!~"search"} / team:genai_team_budget_usd:max'
    assert by_level["25"].expr == f"({search} >= 25 < 50)"
    assert by_level["50"].expr == f"({others} >= 50 < 75)\nor\n({search} >= 50 < 75)"
    assert by_level["90"].expr.count(">= 90 < 100") == 2


def test_exhausted_and_projected_overrun() -> None:
    (exhausted,) = rules("GenAIBudgetExhausted")
    assert exhausted.expr == "100 * team:genai_cost_usd:month_to_date / team:genai_team_budget_usd:max >= 100"
    (overrun,) = rules("GenAIBudgetOverrunProjected")
    assert overrun.for_ == "2h"
    assert "genai_team_budget_period_end_timestamp_seconds" in overrun.expr and "- time()" in overrun.expr


def test_cost_anomaly_uses_each_teams_factor_and_the_floor() -> None:
    (anomaly,) = rules("GenAICostAnomaly")
    assert 'team:genai_cost_usd:rate30m{team!~"research"} > 4 * team:genai_cost_usd:rate1h{team!~"research"} ' \
        'offset 1w' in anomaly.expr
    assert 'team:genai_cost_usd:rate30m{team=~"research"} > 8 * avg_over_time(team:genai_cost_usd:rate1h' \
        '{team=~"research"}[1d])' in anomaly.expr
    assert anomaly.expr.endswith(") * 3600 > 2")
    # A 20x jump crosses 4x after 3/19 of the 30m window (4.7 min); held 5m, under 15 minutes.
    assert anomaly.for_ == "5m"


def test_runaway_loop_pages_oncall_and_tells_the_budget_owner() -> None:
    (loop,) = rules("GenAIRunawayLoop")
    assert (loop.severity, loop.audience, loop.labels) == ("critical", "oncall", {"notify_budget_owner": "true"})
    assert "> 10 * avg_over_time(team_app:genai_requests_forwarded:rate1h[1d])" in loop.expr
    assert "team_model:genai_prompt_tokens:modal_share5m" in loop.expr


def test_runaway_loop_needs_an_hour_of_the_apps_history() -> None:
    # A brand-new app's daily average is a sliver of its 5m rate; an hour-old recorded rate says
    # the app existed then (whether busy or idle).
    (loop,) = rules("GenAIRunawayLoop")
    assert loop.expr == (
        "(\n"
        "  team_app:genai_requests_forwarded:rate5m"
        " > 10 * avg_over_time(team_app:genai_requests_forwarded:rate1h[1d])\n"
        "  and\n"
        "  team_app:genai_requests_forwarded:rate5m > 1\n"
        ")\n"
        "and on (team, app)\n"
        "team_app:genai_requests_forwarded:rate1h offset 1h\n"
        "and on (team)\n"
        "(max by (team) (team_model:genai_prompt_tokens:modal_share5m) >= 0.9)"
    )
    new_app = next(t for t in cost_cases.unit_tests(SPEC) if "brand-new app" in t.name)
    assert [(c.eval_time, c.expected) for c in new_app.alerts] == [("8m", ()), ("10m", ()), ("61m", ()), ("70m", ())]


@pytest.mark.parametrize(("name", "severity", "audience", "team"), [
    ("GenAIUnattributedSpend", "warning", "budget_owner", None),
    ("GenAIUnpricedTraffic", "warning", "oncall", "platform"),
    ("GenAIBudgetOverrunProjected", "warning", "budget_owner", None),
    ("GenAICostAnomaly", "warning", "budget_owner", None),
])
def test_catalogue_labels(name: str, severity: str, audience: str, team: str | None) -> None:
    (rule,) = rules(name)
    assert (rule.severity, rule.audience, rule.team) == (severity, audience, team)


def test_budget_cases_fire_at_each_percentage_and_not_below() -> None:
    search = next(t for t in cost_cases.budget_unit_tests(SPEC) if "(search)" in t.name)
    # 100 USD/h against 4000 USD is 2.5 %/h: 25 % at 10h, 50 % at 20h, 75 % at 30h, 90 % at 36h.
    shown = [(c.eval_time, [e.labels["threshold_percent"] for e in c.expected]) for c in search.alerts
             if c.alertname == "GenAIBudgetThreshold"]
    assert shown == [("9h", []), ("10h", ["25"]), ("19h", ["25"]), ("20h", ["50"]), ("29h", ["50"]),
                     ("30h", ["75"]), ("35h", ["75"]), ("36h", ["90"])]
    ninety = next(c for c in search.alerts if c.eval_time == "36h").expected[0]
    assert ninety.labels["severity"] == "warning"
    assert ninety.annotations["description"] == (
        "Month-to-date spend of search is 90.0 % of its budget (threshold 90 %).")
    exhausted = [(c.eval_time, len(c.expected)) for c in search.alerts if c.alertname == "GenAIBudgetExhausted"]
    assert exhausted == [("39h", 0), ("40h", 1)]


@pytest.mark.binaries
def test_minute_cases_pass_promtool(tmp_path: Path) -> None:
    run_promtool_tests(tmp_path, SPEC, cost_cases.unit_tests(SPEC))


@pytest.mark.binaries
def test_hourly_cases_pass_promtool(tmp_path: Path) -> None:
    run_promtool_tests(tmp_path, SPEC, cost_cases.hourly_unit_tests(SPEC), cost_cases.HOURLY_EVALUATION_INTERVAL)
