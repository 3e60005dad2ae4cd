"""Ground truth computed straight from raw gateway records, independently of the exporter's code.

Written the plain way a person would tally a log file: read the fields, map the team through
the spec's aliases, add up. End-to-end tests compare Prometheus's view with this.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from contract.spec import Spec


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)  # by team
    cost: Counter[str] = field(default_factory=Counter)  # by team, USD
    tokens: Counter[str] = field(default_factory=Counter)  # by token type
    records: int = 0

    def total_cost(self) -> float:
        return sum(self.cost.values())


def _team_of(spec: Spec, candidates: list[Any], app_candidates: list[Any], admitted: list[str]) -> str:
    aliases = {alias: t.name for t in spec.teams for alias in (t.name, *t.aliases)}
    apps = {alias: a.team for a in spec.apps for alias in (a.name, *a.aliases)}
    raw = None
    for value in candidates:
        if value:
            if value in aliases:
                return aliases[value]
            raw = raw or value
    for value in app_candidates:
        if value and value in apps:
            return apps[value]
    if raw is None:
        return "__unassigned__"
    # First come, first admitted, up to the spec's limit; the rest fold.
    if raw not in admitted and len(admitted) < spec.ingest.cardinality.teams:
        admitted.append(raw)
    return raw if raw in admitted else "__other__"


def tally(spec: Spec, records: list[tuple[str, dict[str, Any]]]) -> Tally:
    """Per-team requests and cost, and tokens by type, for (format, record) pairs in arrival order.

    Team values outside the spec show as themselves up to the spec's limit, first come first
    served; later ones count under ``__other__``.
    """
    admitted: list[str] = []
    out = Tally()
    for fmt, record in records:
        if fmt == "litellm":
            meta = record.get("metadata") or {}
            team = _team_of(
                spec,
                [meta.get("user_api_key_team_alias"), meta.get("user_api_key_team_id")],
                [meta.get("user_api_key_alias")],
                admitted,
            )
            usage = (record.get("hidden_params") or {}).get("usage_object") or {}
            cost = record.get("response_cost") or 0.0
            prompt, completion = record.get("prompt_tokens") or 0, record.get("completion_tokens") or 0
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
        else:
            section = record["ai"].get("proxy") or record["ai"].get("ai-proxy")
            consumer = (record.get("consumer") or {}).get("username")
            team = _team_of(spec, [], [consumer], admitted)
            usage = section["usage"]
            cost = usage.get("cost", usage.get("cost_request")) or 0.0
            prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
        out.records += 1
        out.requests[team] += 1
        out.cost[team] += cost
        out.tokens["input"] += prompt
        out.tokens["output"] += completion
        out.tokens["cached_input"] += cached
        out.tokens["reasoning"] += reasoning
    return out
