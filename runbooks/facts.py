"""Spec-derived facts for runbook pages: placeholder values and small Markdown tables.

A runbook states the thresholds and names the rules were generated with, so it is rendered
from the same spec (``Spec.thresholds``: the model's defaults when there is no ``alerting`` section).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from alerts.prometheus_config import EXPORTER_JOB
from contract import catalog
from contract.burnrate import BURN_WINDOWS, SLO_PERIOD_DAYS
from contract.promql import format_le, literal_alternation
from contract.spec import Objective, Spec, spec_hash


def number(value: float) -> str:
    return f"{value:g}"


def code_list(values: tuple[str, ...] | list[str], empty: str = "none") -> str:
    return ", ".join(f"`{v}`" for v in values) if values else empty


_HOURS_PER_UNIT = {"m": 1 / 60, "h": 1.0, "d": 24.0}


def _hours(window: str) -> float:
    return float(window[:-1]) * _HOURS_PER_UNIT[window[-1]]


def burn_windows() -> dict[str, str]:
    """``page1_factor``, ``page1_long``, ``page1_short``, ``page1_budget_percent`` (the share of the
    period's error budget spent when it fires), then ``page2_…``, ``ticket1_…``, ``ticket2_…``."""
    values: dict[str, str] = {}
    seen: dict[str, int] = {}
    for window in BURN_WINDOWS:
        seen[window.tier] = seen.get(window.tier, 0) + 1
        key = f"{window.tier}{seen[window.tier]}"
        spent = window.factor * _hours(window.long) / (SLO_PERIOD_DAYS * 24) * 100
        values |= {
            f"{key}_factor": number(window.factor),
            f"{key}_long": window.long,
            f"{key}_short": window.short,
            f"{key}_budget_percent": f"{spent:.3g}",
        }
    return values


def context(spec: Spec) -> dict[str, str]:
    """Values for the ``${name}`` placeholders in runbook text."""
    thresholds = spec.thresholds
    stale = float(thresholds.stale_after_seconds)
    batch_apps = [f"`{app.name}` ({app.team})" for app in spec.apps if not app.interactive]
    card = spec.ingest.cardinality
    return {
        "org": spec.organization.name,
        "review_window_weeks": str(spec.review.window_weeks),
        "review_min_reviewed": str(spec.review.min_reviewed),
        "review_default_ratio": number(spec.review.default_max_false_positive_ratio),
        "finance_contact": spec.organization.finance_contact,
        "bad": literal_alternation(catalog.BAD_OUTCOMES),
        "bad_list": code_list(catalog.BAD_OUTCOMES),
        "neutral": literal_alternation(catalog.NEUTRAL_OUTCOMES),
        "neutral_list": code_list(catalog.NEUTRAL_OUTCOMES).capitalize(),
        "slo_period_days": str(SLO_PERIOD_DAYS),
        "min_requests_per_hour": number(spec.slos.min_requests_per_hour),
        "provider_error_ratio_percent": number(thresholds.provider_error_ratio * 100),
        "provider_latency_p95_seconds": number(thresholds.provider_latency_p95_seconds),
        "cost_anomaly_factor": number(thresholds.cost_anomaly_factor),
        "cost_anomaly_min_usd_per_hour": number(thresholds.cost_anomaly_min_usd_per_hour),
        "runaway_loop_factor": number(thresholds.runaway_loop_factor),
        "app_volume_factor": number(thresholds.app_volume_factor),
        "guardrail_block_factor": number(thresholds.guardrail_block_factor),
        "sensitive_entities_per_hour": number(thresholds.sensitive_entities_per_hour),
        "stale_after_minutes": number(stale / 60),
        "budget_thresholds": ", ".join(number(t) for t in thresholds.budget_thresholds_percent),
        "max_series_per_metric": str(card.max_series_per_metric),
        "teams_limit": str(card.teams),
        "max_body_bytes": f"{spec.ingest.max_body_bytes} bytes",
        "token_env": spec.ingest.token_env or "GATEWATCH_INGEST_TOKEN",
        "classification_default": spec.classification.default,
        "spec_hash": spec_hash(spec),
        "batch_apps": ", ".join(batch_apps) if batch_apps else "none are marked non-interactive in the spec",
        "job": EXPORTER_JOB,
        "deadman_receiver": spec.alerting.deadman_receiver if spec.alerting else "the dead-man's switch receiver",
        "unassigned": catalog.UNASSIGNED,
        "other": catalog.OTHER,
        **burn_windows(),
    }


def table(header: tuple[str, ...], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _covers(objective: Objective) -> str:
    return f"model `{objective.model}`" if objective.model else f"provider `{objective.provider}`"


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.3g} %"


def _slo_objectives(spec: Spec, kind: str) -> str:
    objectives = [o for o in spec.slos.objectives if o.kind == kind]
    if not objectives:
        return f"The spec defines no {kind} objectives, so this alert cannot fire."
    windows = [w for w in BURN_WINDOWS]
    header = ("objective (`slo`)", "kind", "covers", "target", *(
        f"{w.tier} {number(w.factor)}x ({w.long} & {w.short})" for w in windows
    ))
    rows = []
    for o in objectives:
        budget = 1 - o.target_percent / 100
        kind = o.kind if o.threshold_seconds is None else f"ttft, good below {number(o.threshold_seconds)} s"
        rows.append((f"`{o.name}`", kind, _covers(o), f"{number(o.target_percent)} %",
                     *(_percent(w.factor * budget) for w in windows)))
    return (
        f"Objectives in this spec, with the error ratio each burn-rate tier fires above (both windows must "
        f"exceed it; ratios over a {SLO_PERIOD_DAYS}-day budget):\n\n" + table(header, rows)
    )


def _selector(objective: Objective) -> str:
    return f'model="{objective.model}"' if objective.model else f'provider="{objective.provider}"'


def ttft_queries(spec: Spec) -> str:
    ttft = [o for o in spec.slos.objectives if o.kind == "ttft" and o.threshold_seconds is not None]
    if not ttft:
        return "The spec defines no time-to-first-token objectives."
    blocks = []
    for o in ttft:
        match = _selector(o)
        le = format_le(o.threshold_seconds or 0.0)
        blocks.append(
            f"**`{o.name}`: share of first tokens slower than {number(o.threshold_seconds or 0.0)} s, "
            f"per team**\n\n```promql\n"
            f"1 - (\n"
            f'  sum by (team) (rate(genai_time_to_first_token_seconds_bucket{{{match}, le="{le}"}}[5m]))\n'
            f"  / sum by (team) (rate(genai_time_to_first_token_seconds_count{{{match}}}[5m]))\n"
            f")\n```"
        )
    return "\n\n".join(blocks)


def priced_models(spec: Spec) -> str:
    if not spec.models:
        return "The spec's price table is empty: every request without a gateway-reported cost is unpriced."
    rows = [(f"`{m.name}`", m.provider, code_list(m.aliases)) for m in spec.models]
    return "Models the price table knows:\n\n" + table(("model", "provider", "aliases"), rows)


def required_guardrails(spec: Spec) -> str:
    rows = [(f"`{t.name}`", t.owner, code_list(t.required_guardrails)) for t in spec.teams]
    return "Guardrails each team must run:\n\n" + table(("team", "owner", "required guardrails"), rows)


def approved_models(spec: Spec) -> str:
    rows = [(f"`{t.name}`", t.owner, code_list(t.approved_models)) for t in spec.teams]
    return "Models each team is approved for (`*` patterns allowed):\n\n" + table(
        ("team", "owner", "approved models"), rows
    )


def classifications(spec: Spec) -> str:
    rows = [(f"`{t.name}`", t.owner, code_list(t.classifications, "any (no restriction)")) for t in spec.teams]
    sources = [(fmt, code_list(paths)) for fmt, paths in spec.classification.sources.items()]
    text = "Classification levels each team is approved for:\n\n" + table(("team", "owner", "levels"), rows)
    if sources:
        text += "\n\nWhere a record's classification is read from (first match wins):\n\n" + table(
            ("format", "fields"), sources
        )
    return text


def cardinality(spec: Spec) -> str:
    card = spec.ingest.cardinality
    rows = [(f"`{f.name}`", str(getattr(card, f.name))) for f in msgspec.structs.fields(card)]
    return "Allowances in `ingest.cardinality` (values beyond the spec per label; series per metric):\n\n" + table(
        ("setting", "value"), rows
    )


FACTS: dict[str, Callable[[Spec], str]] = {
    "availability_objectives": lambda spec: _slo_objectives(spec, "availability"),
    "ttft_objectives": lambda spec: _slo_objectives(spec, "ttft"),
    "ttft_queries": ttft_queries,
    "priced_models": priced_models,
    "required_guardrails": required_guardrails,
    "approved_models": approved_models,
    "classifications": classifications,
    "cardinality": cardinality,
}
