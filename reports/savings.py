"""Savings recommendations: where spend could go down, by how much a month, and the evidence.

Four kinds, each read from the exporter's counters over a trailing window (``--days``, ending at
``--end``, default now) and scaled to a month of ``MONTH_DAYS``:

- ``cheaper_tier``: an app on a premium model whose team's prompts (the ``genai_prompt_tokens``
  histogram is per team and model) and whose own outputs are short: the same tokens priced at
  a cheaper tier of the model's family (spec ``Model.family`` / ``Model.tier``) against what they
  cost.
- ``cache``: a high-volume app with a low cache hit ratio: the hits it would gain at
  ``TARGET_CACHE_HIT_RATIO``, valued at what a hit already saves (``genai_cache_saved_usd_total``).
- ``batch``: a high-volume app the spec marks ``interactive: false``: its spend times the spec's
  ``finance.batch_discount_percent``.
- ``reasoning``: a team and model whose output is mostly reasoning tokens: what reasoning costs,
  and what bringing its share down to ``HIGH_REASONING_SHARE`` would save.

Counters are read with ``increase()``, which extrapolates at the window's edges and misses the
first samples of series born inside it: fine for an estimate, which is what these are.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from contract import catalog
from contract.promql import format_le
from contract.spec import Model, Spec
from reports.cli import add_common_arguments, client_of, load_spec, write_output
from reports.periods import parse_instant
from reports.prometheus import PrometheusClient, ReportError, no_data

# A month, for savings: 30 days, so a report over the default 30-day window shows what that
# window actually cost, not a rescaled figure.
MONTH_DAYS = 30
# Below this a recommendation is not worth an engineer's afternoon: it is left out.
MIN_MONTHLY_SAVING_USD = 10.0
# An app sending fewer requests a day is not worth re-plumbing for caching or batch APIs.
HIGH_VOLUME_REQUESTS_PER_DAY = 1000.0
# Prompts up to this many tokens are "short": a cheaper tier handles them about as well. It must
# be a bound of the prompt histogram, so the share below it is counted, not interpolated.
SHORT_PROMPT_TOKENS = 1024.0
# At least this share of a team+model's prompts must be short: a few long ones may still need
# the premium model, and they can stay on it.
SHORT_PROMPT_SHARE = 0.9
# Output tokens per request at or below which answers are short (classification, extraction,
# routing: the work cheaper tiers do well).
SHORT_OUTPUT_TOKENS = 500.0
# A hit ratio below this on a high-volume app means caching is off or keyed badly.
LOW_CACHE_HIT_RATIO = 0.10
# What a high-volume app with repeated questions typically reaches once caching works.
TARGET_CACHE_HIT_RATIO = 0.30
# Reasoning beyond half the output suggests an effort level higher than the task needs.
HIGH_REASONING_SHARE = 0.5

if SHORT_PROMPT_TOKENS not in catalog.PROMPT_TOKEN_BUCKETS:
    raise AssertionError("SHORT_PROMPT_TOKENS must be a genai_prompt_tokens bucket bound")

KINDS = ("cheaper_tier", "cache", "batch", "reasoning")
_TIER_RANK = {"economy": 0, "standard": 1, "premium": 2}


@dataclass(frozen=True, slots=True)
class Recommendation:
    kind: str
    team: str
    app: str            # "" for the kinds read per team and model
    model: str          # "" for the kinds read per team and app
    monthly_saving_usd: float
    action: str
    evidence: tuple[tuple[str, str], ...]
    queries: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float

    @property
    def days(self) -> float:
        return (self.end - self.start) / 86_400

    @property
    def range(self) -> str:
        return f"{round(self.end - self.start)}s"

    def monthly(self, amount: float) -> float:
        return amount * MONTH_DAYS / self.days


# ---- reading Prometheus ------------------------------------------------------------------------

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Usage:
    """Everything the rules read, summed over the window, keyed by label values."""

    requests: dict[Key, float]          # (team, app, model)
    tokens: dict[Key, float]            # (team, app, model, type)
    cost: dict[Key, float]              # (team, app, model)
    hits: dict[Key, float]              # (team, app)
    cache_saved: dict[Key, float]       # (team, app)
    short_prompts: dict[Key, float]     # (team, model)
    prompts: dict[Key, float]           # (team, model)
    queries: dict[str, str]


def usage_queries(window: Window) -> dict[str, str]:
    w = window.range
    short = format_le(SHORT_PROMPT_TOKENS)
    return {
        "requests": f"sum by (team, app, model) (increase({catalog.REQUESTS.name}[{w}]))",
        "tokens": f"sum by (team, app, model, type) (increase({catalog.TOKENS.name}[{w}]))",
        "cost": f"sum by (team, app, model) (increase({catalog.COST.name}[{w}]))",
        "hits": f'sum by (team, app) (increase({catalog.REQUESTS.name}{{cache="hit"}}[{w}]))',
        "cache_saved": f"sum by (team, app) (increase({catalog.CACHE_SAVED.name}[{w}]))",
        "short_prompts": f'sum by (team, model) (increase({catalog.PROMPT_TOKENS.name}_bucket{{le="{short}"}}[{w}]))',
        "prompts": f"sum by (team, model) (increase({catalog.PROMPT_TOKENS.name}_count[{w}]))",
    }


_KEYS = {
    "requests": ("team", "app", "model"),
    "tokens": ("team", "app", "model", "type"),
    "cost": ("team", "app", "model"),
    "hits": ("team", "app"),
    "cache_saved": ("team", "app"),
    "short_prompts": ("team", "model"),
    "prompts": ("team", "model"),
}


def read_usage(client: PrometheusClient, window: Window) -> Usage:
    queries = usage_queries(window)
    values: dict[str, dict[Key, float]] = {}
    for name, expr in queries.items():
        labels = _KEYS[name]
        table: dict[Key, float] = {}
        for row in client.query(expr, window.end):
            table[tuple(row["metric"].get(label, "") for label in labels)] = float(row["value"][1])
        values[name] = table
    if not any(v > 0 for v in values["requests"].values()):
        raise no_data(client.url, window.start, window.end)
    return Usage(**values, queries=queries)


# ---- the rules ---------------------------------------------------------------------------------

def _usd(value: float) -> str:
    return f"{value:,.2f} USD"


def _tokens_cost(model: Model, tokens: dict[str, float]) -> float:
    """What ``tokens`` (by type, as the exporter counts them) cost at ``model``'s table price."""
    price = model.price
    cached = tokens.get("cached_input", 0.0)
    cached_price = price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
    fresh = max(tokens.get("input", 0.0) - cached, 0.0)
    output = tokens.get("output", 0.0)
    return (fresh * price.input_per_mtok + cached * cached_price + output * price.output_per_mtok) / 1e6


def cheaper_model(spec: Spec, model: Model) -> Model | None:
    """The nearest cheaper tier of the same family (the smallest quality step); among models of
    that tier, the cheapest on output."""
    if not model.family:
        return None
    below = [m for m in spec.models if m.family == model.family and _TIER_RANK[m.tier] < _TIER_RANK[model.tier]]
    if not below:
        return None
    nearest = max(_TIER_RANK[m.tier] for m in below)
    return min((m for m in below if _TIER_RANK[m.tier] == nearest),
               key=lambda m: (m.price.output_per_mtok, m.price.input_per_mtok))


def cheaper_tier(spec: Spec, usage: Usage, window: Window) -> Iterable[Recommendation]:
    q = usage.queries
    for (team, app, model_name), requests in sorted(usage.requests.items()):
        model = spec.model(model_name)
        if model is None or model.tier != "premium" or requests <= 0:
            continue
        target = cheaper_model(spec, model)
        prompts = usage.prompts.get((team, model_name), 0.0)
        if target is None or prompts <= 0:
            continue
        short_share = usage.short_prompts.get((team, model_name), 0.0) / prompts
        tokens = {t: usage.tokens.get((team, app, model_name, t), 0.0) for t in catalog.TOKEN_TYPES}
        output_per_request = tokens["output"] / requests
        if short_share < SHORT_PROMPT_SHARE or output_per_request > SHORT_OUTPUT_TOKENS:
            continue
        current = usage.cost.get((team, app, model_name), 0.0)
        there = _tokens_cost(target, tokens)
        saving = window.monthly(current - there)
        if saving < MIN_MONTHLY_SAVING_USD:
            continue
        approved = _approved(spec, team, target.name)
        action = f"Move {app} ({team}) from {model_name} to {target.name} ({target.tier} tier of {model.family})"
        if not approved:
            action += f"; {target.name} is not in {team}'s approved_models yet"
        yield Recommendation(
            "cheaper_tier", team, app, model_name, saving, action,
            (
                ("requests", f"{requests:,.0f}"),
                (f"prompts of {team} on {model_name} at most {SHORT_PROMPT_TOKENS:g} tokens",
                 f"{short_share:.1%} (threshold {SHORT_PROMPT_SHARE:.0%})"),
                ("output tokens per request", f"{output_per_request:,.0f} (threshold {SHORT_OUTPUT_TOKENS:g})"),
                ("input / cached input / output tokens",
                 f"{tokens['input']:,.0f} / {tokens['cached_input']:,.0f} / {tokens['output']:,.0f}"),
                (f"cost on {model_name}", _usd(current)),
                (f"same tokens on {target.name}", _usd(there)),
            ),
            (q["requests"], q["tokens"], q["cost"], q["short_prompts"], q["prompts"]),
        )


def _approved(spec: Spec, team: str, model: str) -> bool:
    try:
        patterns = spec.team(team).approved_models
    except KeyError:
        return True
    return any(fnmatch.fnmatchcase(model, p) for p in patterns)


def _by_team_app(table: dict[Key, float]) -> dict[Key, float]:
    out: dict[Key, float] = defaultdict(float)
    for (team, app, _model), value in table.items():
        out[(team, app)] += value
    return out


def cache(spec: Spec, usage: Usage, window: Window) -> Iterable[Recommendation]:
    q = usage.queries
    requests = _by_team_app(usage.requests)
    all_hits = sum(usage.hits.values())
    fleet_saved_per_hit = sum(usage.cache_saved.values()) / all_hits if all_hits > 0 else None
    for (team, app), count in sorted(requests.items()):
        per_day = count / window.days
        hits = usage.hits.get((team, app), 0.0)
        ratio = hits / count if count > 0 else 0.0
        if per_day < HIGH_VOLUME_REQUESTS_PER_DAY or ratio >= LOW_CACHE_HIT_RATIO:
            continue
        if hits > 0:
            per_hit, basis = usage.cache_saved.get((team, app), 0.0) / hits, f"{app}'s own hits"
        elif fleet_saved_per_hit is not None:
            per_hit, basis = fleet_saved_per_hit, "all apps' hits (this app has none)"
        else:
            continue  # no hit anywhere: nothing observed to value a hit with
        gained = (TARGET_CACHE_HIT_RATIO - ratio) * count
        saving = window.monthly(gained * per_hit)
        if saving < MIN_MONTHLY_SAVING_USD:
            continue
        yield Recommendation(
            "cache", team, app, "", saving,
            f"Turn on or fix response caching for {app} ({team}): hit ratio {ratio:.1%}, "
            f"target {TARGET_CACHE_HIT_RATIO:.0%}",
            (
                ("requests", f"{count:,.0f} ({per_day:,.0f} a day; high volume from "
                             f"{HIGH_VOLUME_REQUESTS_PER_DAY:,.0f})"),
                ("cache hits", f"{hits:,.0f} ({ratio:.1%}; low below {LOW_CACHE_HIT_RATIO:.0%})"),
                ("saved per hit", f"{per_hit:.6f} USD, from {basis}"),
                ("extra hits at the target ratio", f"{gained:,.0f}"),
            ),
            (q["requests"], q["hits"], q["cache_saved"]),
        )


def batch(spec: Spec, usage: Usage, window: Window) -> Iterable[Recommendation]:
    q = usage.queries
    discount = spec.finance.batch_discount_percent / 100
    background = {a.name for a in spec.apps if not a.interactive}
    requests = _by_team_app(usage.requests)
    cost = _by_team_app(usage.cost)
    for (team, app), count in sorted(requests.items()):
        per_day = count / window.days
        if app not in background or per_day < HIGH_VOLUME_REQUESTS_PER_DAY:
            continue
        spend = cost.get((team, app), 0.0)
        saving = window.monthly(spend * discount)
        if saving < MIN_MONTHLY_SAVING_USD:
            continue
        yield Recommendation(
            "batch", team, app, "", saving,
            f"Send {app} ({team}) through the providers' batch APIs: the spec marks it non-interactive",
            (
                ("requests", f"{count:,.0f} ({per_day:,.0f} a day; high volume from "
                             f"{HIGH_VOLUME_REQUESTS_PER_DAY:,.0f})"),
                ("spend in the window", _usd(spend)),
                ("batch discount (finance.batch_discount_percent)", f"{spec.finance.batch_discount_percent:g} %"),
            ),
            (q["requests"], q["cost"]),
        )


def reasoning(spec: Spec, usage: Usage, window: Window) -> Iterable[Recommendation]:
    q = usage.queries
    totals: dict[Key, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (team, _app, used, token_type), value in usage.tokens.items():
        totals[(team, used)][token_type] += value
    for (team, model_name), tokens in sorted(totals.items()):
        output, thought = tokens["output"], tokens["reasoning"]
        model = spec.model(model_name)
        if model is None or output <= 0 or thought / output < HIGH_REASONING_SHARE:
            continue
        price = model.price.output_per_mtok / 1e6
        visible = output - thought
        # Reasoning at the threshold share of the output that remains: r / (visible + r) = s.
        kept = HIGH_REASONING_SHARE * visible / (1 - HIGH_REASONING_SHARE)
        saving = window.monthly((thought - kept) * price)
        if saving < MIN_MONTHLY_SAVING_USD:
            continue
        yield Recommendation(
            "reasoning", team, "", model_name, saving,
            f"Lower the reasoning effort (or budget) {team} uses on {model_name}: "
            f"{thought / output:.1%} of its output is reasoning",
            (
                ("output tokens", f"{output:,.0f}"),
                ("of which reasoning", f"{thought:,.0f} ({thought / output:.1%}; high from "
                                       f"{HIGH_REASONING_SHARE:.0%})"),
                ("reasoning cost in the window", _usd(thought * price)),
                (f"reasoning cost a month at {HIGH_REASONING_SHARE:.0%} share", _usd(window.monthly(kept * price))),
            ),
            (q["tokens"],),
        )


RULES: tuple[Callable[[Spec, Usage, Window], Iterable[Recommendation]], ...] = (cheaper_tier, cache, batch, reasoning)


def recommend(spec: Spec, usage: Usage, window: Window) -> list[Recommendation]:
    found = [r for rule in RULES for r in rule(spec, usage, window)]
    return sorted(found, key=lambda r: (-r.monthly_saving_usd, r.kind, r.team, r.app, r.model))


# ---- output ------------------------------------------------------------------------------------

def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(recommendations: list[Recommendation], window: Window, source: str) -> str:
    span = f"{window.days:g} day" + ("" if window.days == 1 else "s")
    lines = [
        "# Savings recommendations",
        "",
        f"Window: {_iso(window.start)} to {_iso(window.end)} ({span}), from {source}. "
        f"Savings are a month of {MONTH_DAYS} days at the window's rate, in USD.",
        "",
    ]
    if not recommendations:
        lines += ["No recommendation: no traffic met a threshold (listed below).", ""]
    else:
        total = sum(r.monthly_saving_usd for r in recommendations)
        lines += [
            f"Up to {_usd(total)} a month across {len(recommendations)} recommendations "
            "(two that touch the same traffic do not add up in full).",
            "",
            "| # | Kind | Team | App | Model | Saving a month (USD) |",
            "|---|---|---|---|---|---:|",
        ]
        for i, r in enumerate(recommendations, 1):
            lines.append(f"| {i} | {r.kind} | {r.team} | {r.app or '-'} | {r.model or '-'} | "
                         f"{r.monthly_saving_usd:,.2f} |")
        lines.append("")
        for i, r in enumerate(recommendations, 1):
            lines += [f"## {i}. {_cell(r.action)}", "", f"Estimated saving: **{_usd(r.monthly_saving_usd)} a month**.",
                      "", "Evidence:", ""]
            lines += [f"- {name}: {value}" for name, value in r.evidence]
            lines += ["", "Queries (instant, at the window's end):", "", "```promql", *r.queries, "```", ""]
    lines += [
        "---",
        f"Thresholds: high volume from {HIGH_VOLUME_REQUESTS_PER_DAY:,.0f} requests a day; short prompts "
        f"{SHORT_PROMPT_SHARE:.0%} at most {SHORT_PROMPT_TOKENS:g} tokens; short outputs at most "
        f"{SHORT_OUTPUT_TOKENS:g} tokens a request; low cache hit ratio below {LOW_CACHE_HIT_RATIO:.0%} "
        f"(target {TARGET_CACHE_HIT_RATIO:.0%}); high reasoning share from {HIGH_REASONING_SHARE:.0%}; "
        f"recommendations under {MIN_MONTHLY_SAVING_USD:g} USD a month are left out. Counters are read "
        "with increase(): an estimate, not an invoice figure.",
        "",
    ]
    return "\n".join(lines)


CSV_COLUMNS = ("kind", "team", "app", "model", "monthly_saving_usd", "action", "evidence", "queries")


def csv_text(recommendations: list[Recommendation]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in recommendations:
        writer.writerow((
            r.kind, r.team, r.app, r.model, f"{r.monthly_saving_usd:.2f}", r.action,
            "; ".join(f"{name}: {value}" for name, value in r.evidence), " ;; ".join(r.queries),
        ))
    return out.getvalue()


# ---- command -----------------------------------------------------------------------------------

def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "savings",
        help="savings recommendations with estimated monthly savings and evidence",
        description="Recommendations (cheaper model tier, caching, batch pricing, reasoning share), each "
                    "with an estimated monthly saving in USD and the numbers and queries behind it.",
    )
    add_common_arguments(parser)
    parser.add_argument("--days", type=float, default=30.0, help="trailing window in days (default 30)")
    parser.add_argument("--end", metavar="TIME", help="end of the window, a date or ISO 8601 time, UTC "
                                                      "(default now)")
    parser.add_argument("--format", choices=("md", "csv"), default="md", help="output format (default md)")
    parser.add_argument("--out", type=Path, help="output file (default stdout)")


def run(args: argparse.Namespace) -> int:
    if args.days <= 0:
        raise ReportError(f"--days must be positive, got {args.days:g}")
    spec = load_spec(args.spec)
    end = parse_instant(args.end).timestamp() if args.end else time.time()
    window = Window(end - args.days * 86_400, end)
    client = client_of(args)
    found = recommend(spec, read_usage(client, window), window)
    text = csv_text(found) if args.format == "csv" else markdown(found, window, client.url)
    write_output(text, args.out)
    return 0
