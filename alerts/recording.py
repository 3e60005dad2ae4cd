"""The signals layer: recording rules between the exporter's raw series and every alert and panel.

Names follow ``level:metric:operations``. Alerts and dashboards read these, never raw series over
long ranges. Every rate sums across exporter replicas (``sum by``), so a restart (counters are
reset-safe under ``rate``/``increase``) or a second replica changes nothing. The names readers
use live in ``contract/signals.py``, and the outcome matchers in ``contract/promql.py``.

Month-to-date spend (budget alerts)
-----------------------------------
PromQL has no "since the 1st", and a per-replica gauge would be wrong after a restart or with
several replicas. So:

1. ``team:genai_cost_usd:increase1h`` is recorded in a group evaluated once an hour:
   ``sum by (team) (increase(genai_cost_usd_total[1h]))`` -- summed across replicas, reset-safe --
   labelled ``month="YYYYMM"`` (UTC) with ``count_values``. The label is the month of the hour's
   midpoint (``time() - 1800``), so the one hour that straddles midnight on the 1st goes to the
   month holding most of it: at most 30 minutes of spend land in the wrong month.
2. ``team:genai_cost_usd:month_to_date`` (evaluated with the other rules, every cycle) sums the
   hourly samples of the current month over the last 31 days:
   ``sum_over_time(increase1h[31d])`` kept ``and on (month)`` the month of now. Each hour is
   counted exactly once; a month with no spend yet has no series (no budget alert fires).
   It deliberately lags by up to one hour (the spend since the last hourly evaluation is not
   in it): no estimate is mixed into a figure compared with a budget, and a monthly budget does
   not turn on one hour. The overrun projection covers the present from the spend rate.

promtool's unit tests evaluate every group at the test file's ``evaluation_interval`` (it ignores
a group's own ``interval``), so tests of month-to-date run at ``evaluation_interval: 1h``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from alerts.model import RecordingRule, RuleGroup
from contract import catalog
from contract.burnrate import RATIO_WINDOWS
from contract.promql import BAD_OUTCOME, COUNTED_OUTCOME, FORWARDED_OUTCOME, format_le
from contract.signals import (
    OUTCOME_RATE,
    QUANTILES,
    SLI_ERRORS_RATE5M,
    SLI_REQUESTS_RATE1H,
    SLI_REQUESTS_RATE5M,
    TEAM_BUDGET,
    TEAM_COST_INCREASE1H,
    TEAM_COST_MONTH_TO_DATE,
    TEAM_MODEL_PROMPT_MODAL_SHARE,
    quantile_record,
    ratio_record,
)
from contract.spec import Objective, Spec

MAX_RULES_PER_GROUP = 20
HOURLY_INTERVAL = "1h"

# The month a sample belongs to, as a label value like "202406" (UTC).
MONTH_OF_NOW = "year() * 100 + month()"
MONTH_OF_LAST_HOUR = "year(vector(time() - 1800)) * 100 + month(vector(time() - 1800))"

def _rate(level: str, by: str, metric: str, *, window: str = "5m", selector: str = "", name: str = "") -> RecordingRule:
    short = name or metric.removesuffix("_total")
    return RecordingRule(f"{level}:{short}:rate{window}", f"sum by ({by}) (rate({metric}{selector}[{window}]))")


def _requests() -> tuple[RecordingRule, ...]:
    requests = catalog.REQUESTS.name
    bad = f"{{{BAD_OUTCOME}}}"
    forwarded = f"{{{FORWARDED_OUTCOME}}}"
    return (
        _rate("team_model_provider", "team, model, provider", requests),
        RecordingRule(OUTCOME_RATE, f"sum by (team, model, provider, outcome) (rate({requests}[5m]))"),
        _rate("team_model_provider", "team, model, provider", requests, selector=bad, name="genai_requests_bad"),
        _rate("provider", "provider", requests),
        _rate("provider", "provider", requests, selector=bad, name="genai_requests_bad"),
        _rate("team_app", "team, app", requests),
        _rate("team_app", "team, app", requests, window="1h"),
        _rate("team_app", "team, app", requests, selector=forwarded, name="genai_requests_forwarded"),
        _rate("team_app", "team, app", requests, selector=forwarded, name="genai_requests_forwarded", window="1h"),
    )


def _tokens_and_cost() -> tuple[RecordingRule, ...]:
    cost = catalog.COST.name
    return (
        _rate("team_model_provider_type", "team, model, provider, type", catalog.TOKENS.name),
        _rate("team_model_provider", "team, model, provider", cost),
        _rate("team", "team", cost),
        _rate("team", "team", cost, window="30m"),
        _rate("team", "team", cost, window="1h"),
        _rate("team", "team", cost, window="6h"),
        _rate("team_app", "team, app", cost, window="1h"),
        RecordingRule(TEAM_BUDGET, f'max by (team) ({catalog.TEAM_BUDGET.name}{{period="month"}})'),
        RecordingRule(
            TEAM_COST_MONTH_TO_DATE,
            f"sum by (team) (\n  sum_over_time({TEAM_COST_INCREASE1H}[31d])\n"
            f'  and on (month) count_values("month", {MONTH_OF_NOW})\n)',
        ),
    )


def _hourly_cost() -> RecordingRule:
    return RecordingRule(
        TEAM_COST_INCREASE1H,
        f"sum by (team) (increase({catalog.COST.name}[1h]))\n"
        f'* on () group_left (month) count_values("month", {MONTH_OF_LAST_HOUR})',
    )


def _quantiles() -> tuple[RecordingRule, ...]:
    rules = []
    for metric in (catalog.REQUEST_DURATION, catalog.TIME_TO_FIRST_TOKEN):
        for short, q in QUANTILES:
            rules.append(RecordingRule(
                quantile_record(metric.name, short),
                f"histogram_quantile({q}, sum by (model, provider, le) (rate({metric.name}_bucket[5m])))",
            ))
    return tuple(rules)


def _prompt_modal_share() -> RecordingRule:
    """Share of a team+model's prompts (last 5m) that fall in its fullest length bucket.

    Per-bucket counts are differences of adjacent cumulative buckets; each difference gets a
    ``bucket`` label so ``max`` can pick the fullest. Near-identical requests (a loop re-sending
    one prompt) put almost all of them in one bucket; real traffic spreads over several.
    """
    name = catalog.PROMPT_TOKENS.name
    bounds = [format_le(b) for b in catalog.PROMPT_TOKENS.buckets] + ["+Inf"]

    def bucket(le: str) -> str:
        return f'sum by (team, model) (rate({name}_bucket{{le="{le}"}}[5m]))'

    terms = []
    for i, le in enumerate(bounds):
        share = bucket(le) if i == 0 else f"{bucket(le)} - {bucket(bounds[i - 1])}"
        terms.append(f'label_replace({share}, "bucket", "{le}", "", "")')
    fullest = "\n  or ".join(terms)
    return RecordingRule(
        TEAM_MODEL_PROMPT_MODAL_SHARE,
        f"max by (team, model) (\n  {fullest}\n)\n/ sum by (team, model) (rate({name}_count[5m]))",
    )


def objective_labels(spec: Spec, objective: Objective) -> dict[str, str]:
    """``slo`` plus what the objective covers: its provider, or its model and that model's
    provider from the price table (so provider-outage inhibition can match on it)."""
    labels = {"slo": objective.name}
    if objective.model is not None:
        model = spec.model(objective.model)
        if model is not None:
            labels["provider"] = model.provider
        labels["model"] = objective.model
    elif objective.provider is not None:
        labels["provider"] = objective.provider
    return labels


def _covers(objective: Objective) -> str:
    if objective.model is not None:
        return f'model="{objective.model}"'
    return f'provider="{objective.provider}"'


def sli_rules(spec: Spec, objective: Objective) -> tuple[RecordingRule, ...]:
    """Requests and errors of one objective, per second over 5m, and requests over 1h (the
    minimum-traffic guard). Errors default to 0 so a clean SLI reads 0, not "no data"."""
    labels = objective_labels(spec, objective)
    covers = _covers(objective)
    if objective.kind == "availability":
        counted = f"sum(rate({catalog.REQUESTS.name}{{{covers}, {COUNTED_OUTCOME}}}[{{w}}]))"
        errors = f"sum(rate({catalog.REQUESTS.name}{{{covers}, {BAD_OUTCOME}}}[5m])) or vector(0)"
    else:
        ttft = catalog.TIME_TO_FIRST_TOKEN.name
        le = format_le(objective.threshold_seconds or 0.0)
        counted = f"sum(rate({ttft}_count{{{covers}}}[{{w}}]))"
        errors = (f"(\n  sum(rate({ttft}_count{{{covers}}}[5m]))\n"
                  f'  - sum(rate({ttft}_bucket{{{covers}, le="{le}"}}[5m]))\n) or vector(0)')
    return (
        RecordingRule(SLI_REQUESTS_RATE5M, counted.replace("{w}", "5m"), labels),
        RecordingRule(SLI_ERRORS_RATE5M, errors, labels),
        RecordingRule(SLI_REQUESTS_RATE1H, counted.replace("{w}", "1h"), labels),
    )


def ratio_rules() -> tuple[RecordingRule, ...]:
    """Error ratio per window for every objective at once (series match on all their labels).
    Long windows divide summed errors by summed requests: an hour of heavy traffic weighs more
    than a quiet one, which an average of 5m ratios would get wrong."""
    rules = [RecordingRule(ratio_record("5m"), f"{SLI_ERRORS_RATE5M} / {SLI_REQUESTS_RATE5M}")]
    for window in RATIO_WINDOWS:
        if window == "5m":
            continue
        rules.append(RecordingRule(
            ratio_record(window),
            f"sum_over_time({SLI_ERRORS_RATE5M}[{window}])\n/ sum_over_time({SLI_REQUESTS_RATE5M}[{window}])",
        ))
    return tuple(rules)


def chunked(name: str, rules: Sequence[RecordingRule], interval: str | None = None) -> tuple[RuleGroup, ...]:
    """Groups of at most MAX_RULES_PER_GROUP, named ``name``, ``name-2``, ..."""
    groups = []
    for i in range(0, len(rules), MAX_RULES_PER_GROUP):
        suffix = "" if i == 0 else f"-{i // MAX_RULES_PER_GROUP + 1}"
        groups.append(RuleGroup(f"{name}{suffix}", tuple(rules[i:i + MAX_RULES_PER_GROUP]), interval))
    return tuple(groups)


def _flatten(parts: Iterable[tuple[RecordingRule, ...]]) -> list[RecordingRule]:
    return [rule for part in parts for rule in part]


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    return (
        # Listed before the rules that read it, the order promtool tests evaluate groups in.
        RuleGroup("gatewatch-cost-hourly", (_hourly_cost(),), HOURLY_INTERVAL),
        *chunked("gatewatch-requests", _requests()),
        *chunked("gatewatch-cost", _tokens_and_cost()),
        *chunked("gatewatch-latency", (*_quantiles(), _prompt_modal_share())),
        *chunked("gatewatch-slo-sli", _flatten(sli_rules(spec, o) for o in spec.slos.objectives)),
        *chunked("gatewatch-slo-ratios", ratio_rules()),
    )
