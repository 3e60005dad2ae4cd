"""Team self-service: one team's usage, spend, errors and latency, shared as one link per team."""

from __future__ import annotations

from typing import Any

from contract import catalog, signals
from contract.dashboards import DASHBOARDS
from contract.spec import Spec
from dashboards import sdk
from dashboards.panels import (
    RANGE,
    Board,
    Panel,
    Query,
    budget_thresholds,
    links,
    matchers,
    outcome_shares,
    ownership,
    rate,
    variable,
)

REF = DASHBOARDS["team"]
REQUESTS = catalog.REQUESTS.name
FILTER = matchers("team", "app", "model")
TEAM = matchers("team")


def _latency(short: str, quantile: str) -> Query:
    # The quantile recording rules aggregate teams away, so a team's own latency reads the raw
    # histogram over the dashboard's (short) range.
    histogram = catalog.REQUEST_DURATION.name
    return Query(
        f"histogram_quantile({quantile}, sum by (model, le) "
        f"({rate(f'{histogram}_bucket', matchers('team', 'model'))}))",
        f"{short} {{{{model}}}}",
    )


def board(spec: Spec) -> Board:
    hits = rate(REQUESTS, FILTER, 'cache="hit"')
    every = rate(REQUESTS, FILTER)
    prompt_buckets = rate(f"{catalog.PROMPT_TOKENS.name}_bucket", matchers("team", "model"))
    panels = (
        Panel(
            "spend-vs-budget", "Month-to-date spend vs budget",
            "The team's spend since the 1st (UTC) as a share of its monthly budget (lags by up to an "
            "hour). Your budget owner is emailed as it crosses each threshold.",
            "percentunit",
            (Query(
                f"{signals.TEAM_COST_MONTH_TO_DATE}{{{TEAM}}}\n"
                f'/ on (team) max by (team) ({catalog.TEAM_BUDGET.name}{{{TEAM}, period="month"}})',
                "{{team}}", instant=True,
            ),),
            kind="stat", width=6, decimals=1, thresholds=budget_thresholds(spec),
        ),
        Panel(
            "usage", "Requests by app",
            "The team's requests per second, by app, every outcome.",
            "reqps", (Query(f"sum by (app) ({rate(REQUESTS, FILTER)})", "{{app}}"),),
            width=18, stacked=True, min=0,
        ),
        Panel(
            "errors", "Error ratio by outcome",
            "Share of the team's requests ending in each non-success outcome. client_error, "
            "quota_exceeded and guardrail_blocked are usually fixed in the calling app; the others "
            "are the platform's or the provider's.",
            "percentunit",
            (outcome_shares(FILTER),),
            stacked=True, min=0,
        ),
        Panel(
            "latency", "Request latency p50 / p95 / p99 by model",
            "Whole-request latency of the team's requests, by model.",
            "s", tuple(_latency(short, q) for short, q in signals.QUANTILES),
        ),
        Panel(
            "prompt-length", "Prompt length distribution",
            "Requests per second by prompt length (input tokens per request), one row per histogram "
            "bucket. A single bright row on a busy app is often a client re-sending one prompt.",
            "reqps",
            (Query(f"sum by (le) ({prompt_buckets})", "{{le}}", format="heatmap"),),
            kind="heatmap",
        ),
        Panel(
            "cache-hit-ratio", "Cache hit ratio",
            "Share of the team's requests answered from the gateway's cache: each hit costs little "
            "or nothing.",
            "percentunit",
            # "or 0 * all" reads 0 % rather than no data while the team has traffic but no hits.
            (Query(f"(sum({hits}) or 0 * sum({every}))\n/ sum({every})", "hit ratio"),),
            min=0, max=1,
        ),
        Panel(
            "top-apps", "Spend by app",
            "The team's spend by app over the selected time range (one evaluation at its end).",
            "currencyUSD",
            (Query(
                f"topk(10, sum by (app) (increase({catalog.COST.name}{{{FILTER}}}[{RANGE}])))",
                "{{app}}", instant=True,
            ),),
            kind="bargauge", width=24, height=6,
        ),
    )
    return Board(
        ref=REF,
        description=ownership(
            "AI platform team (each team reads its own view)", "developers of the chosen team",
            "by each team at its sprint review; the platform team quarterly",
            "One team's usage, spend against budget, errors, latency, prompt lengths and cache hits. "
            "Choose the team above and share the link: it carries the team.",
        ),
        variables=(
            variable("team", REQUESTS, "The team this view is about.", multi=False),
            variable("app", REQUESTS, "Apps of the team.", "team"),
            variable("model", REQUESTS, "Models the team uses.", "team", "app"),
        ),
        panels=panels,
        links=links(spec, REF.key),
        tags=("gatewatch", "teams"),
        time_from="now-24h",
    )


def build(spec: Spec) -> dict[str, Any]:
    return sdk.dashboard_json(board(spec))
