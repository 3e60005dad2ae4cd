"""Cost and budgets: where the money goes, and whether each team will stay inside its budget."""

from __future__ import annotations

from typing import Any

from contract import catalog, signals
from contract.dashboards import DASHBOARDS
from contract.promql import sentinel
from contract.spec import Spec
from dashboards import sdk
from dashboards.panels import (
    RANGE,
    Board,
    Panel,
    Query,
    Threshold,
    budget_thresholds,
    links,
    matchers,
    ownership,
    rate,
    variable,
)

REF = DASHBOARDS["cost"]
COST = catalog.COST.name
REQUESTS = catalog.REQUESTS.name
FILTER = matchers("team", "app", "model", "provider")
TEAM = matchers("team")
PER_HOUR = 3600


def _budget(team_filter: str = TEAM) -> str:
    return f'max by (team) ({catalog.TEAM_BUDGET.name}{{{team_filter}, period="month"}})'


def _period_seconds_left() -> str:
    return f'(max by (team) ({catalog.TEAM_BUDGET_PERIOD_END.name}{{{TEAM}, period="month"}}) - time())'


def _top(key: str, title: str, by: str, legend: str) -> Panel:
    return Panel(
        key, title,
        f"The ten largest spenders by {by} over the selected time range (one evaluation at its end).",
        "currencyUSD",
        (Query(f"topk(10, sum by ({by}) (increase({COST}{{{FILTER}}}[{RANGE}])))", legend, instant=True),),
        kind="bargauge", width=8,
    )


def _unattributed(label: str) -> Query:
    return Query(
        f"sum by ({label}) ({rate(COST, sentinel(label))})\n/ ignoring ({label}) group_left\nsum({rate(COST)})",
        f"{label} {{{{{label}}}}}",
    )


def board(spec: Spec) -> Board:
    mtd = signals.TEAM_COST_MONTH_TO_DATE
    rate1h, rate6h = signals.TEAM_COST_RATE1H, signals.TEAM_COST_RATE6H
    tokens = rate(catalog.TOKENS.name, FILTER, 'type=~"input|output"')
    panels = (
        Panel(
            "spend-now", "Spend now (per hour)",
            "Spend over the last hour, in USD per hour, summed over the chosen teams (recording rule "
            f"{rate1h}, the figure cost anomaly alerts read).",
            "currencyUSD", (Query(f"sum({rate1h}{{{TEAM}}}) * {PER_HOUR}", "spend per hour", instant=True),),
            kind="stat", width=6, decimals=2,
        ),
        Panel(
            "month-to-date", "Month-to-date spend vs budget",
            "Each team's spend since the 1st (UTC) as a share of its monthly budget, from the hourly "
            "month-to-date recording rule (it lags by up to an hour). Colours follow the budget alert "
            "thresholds.",
            "percentunit",
            (Query(f"{mtd}{{{TEAM}}}\n/ on (team) {_budget()}", "{{team}}", instant=True),),
            kind="bargauge", width=9, min=0, thresholds=budget_thresholds(spec),
        ),
        Panel(
            "projected", "Projected month-end spend vs budget",
            "Month-to-date spend plus the lower of the 1h and 6h spend rates until the end of the "
            "month (the GenAIBudgetOverrunProjected projection), next to each team's budget.",
            "currencyUSD",
            (
                Query(
                    f"{mtd}{{{TEAM}}}\n+ on (team) ({rate6h}{{{TEAM}}} < {rate1h}{{{TEAM}}} or {rate1h}{{{TEAM}}})\n"
                    f"  * on (team) {_period_seconds_left()}",
                    "{{team}} projected", instant=True,
                ),
                Query(_budget(), "{{team}} budget", instant=True),
            ),
            kind="bargauge", width=9, min=0,
        ),
        Panel(
            "spend-rate", "Spend rate by team",
            "Spend in USD per hour by team, from the cost counter (gateway-reported cost, else "
            "priced from the spec's table).",
            "currencyUSD", (Query(f"sum by (team) ({rate(COST, FILTER)}) * {PER_HOUR}", "{{team}}"),),
            stacked=True, min=0,
        ),
        Panel(
            "budget-burn", "Budget burn rate",
            "Each team's spend rate over 6h as a multiple of the even pace that spends exactly its "
            "monthly budget: 1x lands on budget, 2x spends it in half the month.",
            "suffix:x",
            (Query(
                f"{rate6h}{{{TEAM}}}\n"
                f'* on (team) (max by (team) ({catalog.TEAM_BUDGET_PERIOD_END.name}{{{TEAM}, period="month"}})'
                f'\n  - max by (team) ({catalog.TEAM_BUDGET_PERIOD_START.name}{{{TEAM}, period="month"}}))\n'
                f"/ on (team) {_budget()}",
                "{{team}}",
            ),),
            min=0, decimals=2, thresholds=(Threshold(1.0, "orange"), Threshold(2.0, "red")),
        ),
        _top("top-teams", "Top teams by spend", "team", "{{team}}"),
        _top("top-apps", "Top apps by spend", "team, app", "{{app}} ({{team}})"),
        _top("top-models", "Top models by spend", "model, provider", "{{model}} ({{provider}})"),
        Panel(
            "cost-per-request", "Cost per request by model",
            "Average spend per request, by model: a rising line is longer prompts or answers, or a "
            "price change.",
            "currencyUSD",
            (Query(
                f"sum by (model) ({rate(COST, FILTER)})\n/ sum by (model) ({rate(REQUESTS, FILTER)})", "{{model}}",
            ),),
            decimals=4,
        ),
        Panel(
            "cost-per-1k-tokens", "Cost per 1k tokens by model",
            "Spend per thousand tokens (input, cached included, plus output, reasoning included), "
            "by model.",
            "currencyUSD",
            (Query(f"sum by (model) ({rate(COST, FILTER)})\n/ (sum by (model) ({tokens}) / 1000)", "{{model}}"),),
            decimals=4,
        ),
        Panel(
            "cache-savings", "Cache savings",
            "What cache hits saved, in USD per hour, by team: the spend the cache kept off the bill.",
            "currencyUSD",
            (Query(
                f"sum by (team) ({rate(catalog.CACHE_SAVED.name, matchers('team', 'app', 'model'))}) * {PER_HOUR}",
                "{{team}}",
            ),),
            width=8, stacked=True, min=0,
        ),
        Panel(
            "unpriced", "Unpriced requests by model",
            "Requests per second with tokens but neither a gateway-reported cost nor a price in the "
            "spec: their spend is missing from every figure here. Add the model to the price table.",
            "reqps",
            (Query(f"sum by (model) ({rate(catalog.EXPORTER_UNPRICED.name, matchers('model'))})", "{{model}}"),),
            width=8, min=0,
        ),
        Panel(
            "unattributed", "Unattributed spend share",
            f"Share of all spend whose team or app is {catalog.UNASSIGNED} (nothing named one) or "
            f"{catalog.OTHER} (folded by the cardinality guard): spend nobody owns. Not narrowed by the "
            "variables: it is a share of everything.",
            "percentunit",
            (_unattributed("team"), _unattributed("app")),
            width=8, min=0,
        ),
    )
    return Board(
        ref=REF,
        description=ownership(
            f"FinOps ({spec.organization.finance_contact})",
            "team budget owners and finance",
            "weekly by budget owners, monthly at chargeback",
            "Where AI spend goes and whether each team stays inside its monthly budget.",
        ),
        variables=(
            variable("team", COST, "Teams, from the cost counter.", multi=True),
            variable("app", COST, "Apps of the chosen teams.", "team"),
            variable("model", COST, "Models the chosen apps use.", "team", "app"),
            variable("provider", COST, "Providers of the chosen models.", "team", "app", "model"),
        ),
        panels=panels,
        links=links(spec, REF.key),
        tags=("gatewatch", "finops"),
        time_from="now-7d",
        refresh="5m",
    )


def build(spec: Spec) -> dict[str, Any]:
    return sdk.dashboard_json(board(spec))
