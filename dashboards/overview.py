"""Platform overview / incident triage: what on-call opens first when something pages."""

from __future__ import annotations

from typing import Any

from alerts.render import SOURCE_LABEL
from contract import catalog, signals
from contract.burnrate import SLO_PERIOD_DAYS, budget_fraction
from contract.dashboards import DASHBOARDS
from contract.promql import BAD_OUTCOME, COUNTED_OUTCOME, number
from contract.signals import OUTCOME_RATE
from contract.spec import Objective, Spec
from dashboards import sdk
from dashboards.panels import (
    Board,
    Panel,
    Query,
    Threshold,
    links,
    matchers,
    outcome_shares,
    ownership,
    rate,
    selector,
    variable,
)

REF = DASHBOARDS["overview"]
FILTER = matchers("team", "model", "provider")
REQUESTS = catalog.REQUESTS.name
PERIOD = f"{SLO_PERIOD_DAYS}d"


def _errors_over_period(slo: str = "") -> str:
    """The SLO error ratio over the whole period: summed errors over summed requests, read from
    the 5m SLI recording rules (30 days of raw histograms would be far too slow)."""
    narrowed = f'{{slo="{slo}"}}' if slo else ""
    return (
        f"sum by (slo) (sum_over_time({signals.SLI_ERRORS_RATE5M}{narrowed}[{PERIOD}]))\n"
        f"/ sum by (slo) (sum_over_time({signals.SLI_REQUESTS_RATE5M}{narrowed}[{PERIOD}]))"
    )


def _budget_left(objective: Objective) -> Query:
    budget = number(budget_fraction(objective.target_percent))
    return Query(f"1 - ({_errors_over_period(objective.name)}) / {budget}", objective.name, instant=True)


def _quantiles(metric: catalog.Metric) -> tuple[Query, ...]:
    return tuple(
        Query(
            f'model_provider:{metric.name}:{short}_5m{{{matchers("model", "provider")}}}',
            f"{short} {{{{model}}}} ({{{{provider}}}})",
        )
        for short, _ in signals.QUANTILES
    )


def _slo_panels(spec: Spec) -> tuple[Panel, ...]:
    targets = ", ".join(f"{o.name} {o.target_percent:g} %" for o in spec.slos.objectives) or "none declared"
    status = Panel(
        "slo-status", f"SLO status ({PERIOD})",
        f"Share of good requests per objective over the SLO period of {PERIOD}, from the SLI recording "
        f"rules. Targets: {targets}. Below its target an objective has spent its whole error budget.",
        "percentunit", (Query(f"1 - ({_errors_over_period()})", "{{slo}}", instant=True),),
        kind="stat", width=8, decimals=3,
    )
    budget_left = Panel(
        "error-budget", f"Error budget left ({PERIOD})",
        f"Share of each objective's error budget (1 - target) not yet spent over the last {PERIOD}: "
        "100 % is untouched, 0 % is spent, below 0 the SLO is breached. Burn-rate alerts page long "
        "before it reaches 0.",
        "percentunit", tuple(_budget_left(o) for o in spec.slos.objectives),
        kind="bargauge", width=8, max=1, decimals=1,
        thresholds=(Threshold(0.25, "orange"), Threshold(0.5, "green")), base_color="red",
    )
    return status, budget_left


def board(spec: Spec) -> Board:
    provider = matchers("provider")
    firing = selector("ALERTS", 'alertstate="firing"', f'{SOURCE_LABEL[0]}="{SOURCE_LABEL[1]}"')
    rejected = 'result="rejected"'
    stale = spec.thresholds.stale_after_seconds
    panels = (
        Panel(
            "firing-alerts", "Firing alerts",
            "gatewatch alerts firing now, with their labels. Each alert's runbook and dashboard "
            "link are in its notification.",
            "none",
            (Query(firing, instant=True, format="table"),),
            kind="table", width=24, height=6,
        ),
        Panel(
            "request-rate", "Request rate by provider",
            "Gateway requests per second, every outcome, by provider.",
            "reqps", (Query(f"sum by (provider) ({rate(REQUESTS, FILTER)})", "{{provider}}"),),
            stacked=True,
        ),
        Panel(
            "error-ratio", "Error ratio by outcome",
            "Share of requests ending in each non-success outcome: provider_error, gateway_error, "
            "guardrail_blocked, timeout, client_error, rate_limited and quota_exceeded. Only provider, "
            "gateway, timeout and rate-limited count against SLOs.",
            "percentunit",
            (outcome_shares(FILTER),),
            stacked=True, min=0,
        ),
        Panel(
            "latency", "Request latency p50 / p95 / p99",
            "Whole-request latency by model and provider, from the 5m quantile recording rules "
            "(all teams: the rules aggregate teams away).",
            "s", _quantiles(catalog.REQUEST_DURATION),
        ),
        Panel(
            "ttft", "Time to first token p50 / p95 / p99",
            "Time from request start to the first output token, by model and provider, for requests "
            "that report it; from the 5m quantile recording rules.",
            "s", _quantiles(catalog.TIME_TO_FIRST_TOKEN),
        ),
        *_slo_panels(spec),
        Panel(
            "provider-errors", "Provider error ratio",
            "Per provider, requests failing on the platform's side (provider_error, gateway_error, "
            "timeout, rate_limited) over requests that count (caller and policy outcomes excluded): "
            "the ratio GenAIProviderErrorsHigh fires on.",
            "percentunit",
            (Query(
                f"sum by (provider) ({OUTCOME_RATE}{{{BAD_OUTCOME}, {provider}}})\n"
                f"/ sum by (provider) ({OUTCOME_RATE}{{{COUNTED_OUTCOME}, {provider}}})",
                "{{provider}}",
            ),),
            width=8, min=0,
        ),
        Panel(
            "exporter-health", "Exporter records by result",
            "Records the exporter receives per second: accepted, rejected (malformed) and duplicate "
            "(a retried id). Accepted at zero while gateways serve traffic means telemetry is lost.",
            "cps",
            (Query(
                f"sum by (result) ({rate(catalog.EXPORTER_EVENTS.name)})", "{{result}}",
            ),),
            width=6, stacked=True,
        ),
        Panel(
            "freshness", "Telemetry freshness",
            "Seconds since the exporter last accepted a record from each source. Minutes-old data "
            "on a busy gateway means the log pipeline is broken.",
            "s",
            (Query(f"time() - max by (source) ({catalog.EXPORTER_LAST_EVENT.name})", "{{source}}", instant=True),),
            kind="stat", width=6,
            thresholds=(Threshold(120, "orange"), Threshold(stale, "red")),
        ),
        Panel(
            "rejected-records", "Rejected records",
            "Malformed records per second by source and format: the gateway's log format or the "
            "exporter's adapter changed.",
            "cps",
            (Query(
                f"sum by (source, format) ({rate(catalog.EXPORTER_EVENTS.name, rejected)})",
                "{{source}} {{format}}",
            ),),
            width=6,
        ),
        Panel(
            "cardinality", "Label values folded into __other__",
            "Label values per second the cardinality guard folds into __other__, by label: counts and "
            "cost are kept, but the breakdown is lost. Raise the spec's limit or map the values.",
            "cps",
            (Query(f"sum by (label) ({rate(catalog.EXPORTER_LABEL_OVERFLOW.name)})", "{{label}}"),),
            width=6,
        ),
    )
    return Board(
        ref=REF,
        description=ownership(
            "AI platform team", "on-call engineers", "after every incident, and monthly",
            "Incident triage: is the AI platform healthy, and if not, where is it broken? Request rate, "
            "errors by outcome, latency, SLOs, exporter health and firing alerts.",
        ),
        variables=(
            variable("team", REQUESTS, "Teams, from the request counter."),
            variable("model", REQUESTS, "Models the chosen teams use.", "team"),
            variable("provider", REQUESTS, "Providers of the chosen models.", "team", "model"),
        ),
        panels=panels,
        links=links(spec, REF.key),
        tags=("gatewatch", "oncall"),
    )


def build(spec: Spec) -> dict[str, Any]:
    return sdk.dashboard_json(board(spec))
