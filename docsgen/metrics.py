"""The metric catalogue page, generated from contract.catalog so docs never drift from code."""

from __future__ import annotations

from contract import catalog
from contract.spec import Spec


def render_metric_catalogue(spec: Spec) -> dict[str, str]:
    lines = [
        "# gatewatch metric catalogue",
        "",
        "Generated from `contract/catalog.py` by `python generate.py`; do not edit.",
        "",
        "| metric | type | unit | labels | meaning |",
        "|---|---|---|---|---|",
    ]
    for metric in catalog.CATALOG:
        labels = ", ".join(f"`{label}`" for label in metric.labels) or "—"
        lines.append(f"| `{metric.name}` | {metric.type} | {metric.unit or '—'} | {labels} | {metric.help} |")
    lines += ["", "## Histogram buckets", ""]
    for metric in catalog.CATALOG:
        if metric.buckets:
            bounds = ", ".join(f"{b:g}" for b in metric.buckets)
            lines.append(f"- `{metric.name}`: {bounds}, +Inf")
    lines += [
        "",
        "## Label values",
        "",
        f"- `outcome`: {', '.join(catalog.OUTCOMES)}. Availability SLOs count "
        f"{', '.join(catalog.BAD_OUTCOMES)} as bad; {', '.join(catalog.NEUTRAL_OUTCOMES)} count neither way.",
        f"- `type` (tokens): {', '.join(catalog.TOKEN_TYPES)}. `cached_input` is a subset of `input` and "
        "`reasoning` a subset of `output`: never sum across types.",
        f"- `result` (guardrails): {', '.join(catalog.GUARDRAIL_RESULTS)}.",
        f"- `policy`: {', '.join(catalog.POLICIES)}.",
        f"- `{catalog.UNASSIGNED}`: requests that named no team or app. `{catalog.OTHER}`: values folded by "
        "the cardinality guard (beyond the spec's values plus the configured number of others, or values "
        "that look like emails, addresses or keys). Both keep their counts and cost.",
        f"- Teams in this spec: {', '.join(t.name for t in spec.teams)}.",
        "",
        "Gauges that come from the spec (`genai_team_budget_usd`, `genai_team_info`, period bounds) are "
        "exposed by every replica: aggregate them with `max`, never `sum`. Adoption timestamps: `min`.",
        "",
    ]
    return {"docs/metrics.md": "\n".join(lines)}
