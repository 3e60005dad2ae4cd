"""Ground truth from what the proxy posted: the records in each captured body, and the figures
/metrics must show for them. Prices come from the spec file itself, not from the exporter."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from contract.catalog import ERROR_KINDS
from tests.conformance.litellm.relay import Post
from tests.conformance.litellm.releases import LOGGED_AS
from tests.conformance.litellm.traffic import APP_OF_KEY, SCENARIOS, TEAM_OF_KEY, Scenario
from tests.paths import EXAMPLE_SPEC

_SCENARIO = re.compile(r"scn:([a-z_0-9]+)")
BY_NAME = {s.name: s for s in SCENARIOS}
# LiteLLM's call types in this traffic, as OpenTelemetry GenAI operation names.
OPERATIONS = {"acompletion": "chat", "aembedding": "embeddings"}


def records(posts: list[Post], log_format: str) -> list[dict[str, Any]]:
    """The records in the bodies exactly as posted, in each format's own framing."""
    found: list[dict[str, Any]] = []
    for post in posts:
        if log_format == "json_array":
            found.extend(json.loads(post.body))
        elif log_format == "ndjson":
            found.extend(json.loads(line) for line in post.body.splitlines() if line.strip())
        else:
            found.append(json.loads(post.body))
    return found


def scenario_of(record: dict[str, Any]) -> Scenario:
    found = _SCENARIO.search(json.dumps(record))
    if found is None:
        raise AssertionError(f"a logged record names no scenario: id {record.get('id')}")
    return BY_NAME[found.group(1)]


def _usage(record: dict[str, Any]) -> dict[str, Any]:
    for holder in (record.get("metadata") or {}, record.get("hidden_params") or {}):
        usage = holder.get("usage_object")
        if usage:
            return usage
    return {}


def _detail(usage: dict[str, Any], part: str, name: str) -> int:
    return int(((usage.get(part) or {}).get(name)) or 0)


def _prices() -> dict[str, dict[str, float]]:
    spec = yaml.safe_load(EXAMPLE_SPEC.read_text())
    return {alias: m["price"] for m in spec["models"] for alias in (m["name"], *m.get("aliases", ()))}


@dataclass
class Truth:
    unique: int = 0
    duplicates: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    teams: Counter[str] = field(default_factory=Counter)
    tokens: Counter[str] = field(default_factory=Counter)
    cost: float = 0.0
    saved: float = 0.0
    guardrails: Counter[tuple[str, str]] = field(default_factory=Counter)
    entities: Counter[str] = field(default_factory=Counter)
    ttft_count: int = 0
    no_provider: int = 0
    apps: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    providers: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    guardrail_seconds: Counter[str] = field(default_factory=Counter)
    guardrail_timed: Counter[str] = field(default_factory=Counter)
    durations: int = 0
    cache_hits: int = 0


def _priced(price: dict[str, float] | None, prompt: int, cached: int, completion: int) -> float:
    if price is None:
        return 0.0
    cached_rate = price.get("cached_input_per_mtok", price["input_per_mtok"])
    return ((prompt - cached) * price["input_per_mtok"] + cached * cached_rate
            + completion * price["output_per_mtok"]) / 1e6


def expected_outcome(scenario: Scenario, record: dict[str, Any], release: str) -> str:
    if scenario.also and record.get("status") != "success":
        return scenario.also[0]
    return LOGGED_AS.get((release, scenario.name), scenario.outcome)


def truth(found: list[dict[str, Any]], release: str) -> Truth:
    prices = _prices()
    result = Truth()
    seen: set[str] = set()
    for record in found:
        if record["id"] in seen:  # a logger retry: the exporter counts it a duplicate
            result.duplicates += 1
            continue
        seen.add(record["id"])
        result.unique += 1
        scenario = scenario_of(record)
        outcome = expected_outcome(scenario, record, release)
        result.outcomes[outcome] += 1
        result.teams[TEAM_OF_KEY[scenario.key]] += 1
        tags = [t for t in record.get("request_tags") or () if t.startswith("app:")]
        result.apps[APP_OF_KEY[scenario.key] or (tags[0].partition(":")[2] if tags else "__unassigned__")] += 1
        result.models[record.get("model_group") or record["model"]] += 1
        result.providers[(record.get("custom_llm_provider") or "unknown").lower()] += 1
        result.operations[OPERATIONS[record["call_type"]]] += 1
        error = record.get("error_information") or {}
        if record.get("status") != "success" and error.get("normalized_error"):
            kind = error["normalized_error"].partition("_")[2].lower()
            result.errors[kind if kind in ERROR_KINDS else "other"] += 1
        if record.get("endTime") is not None and record["endTime"] >= record["startTime"]:
            result.durations += 1
        usage = _usage(record)
        prompt, completion = int(record.get("prompt_tokens") or 0), int(record.get("completion_tokens") or 0)
        cached = min(_detail(usage, "prompt_tokens_details", "cached_tokens"), prompt)
        reasoning = min(_detail(usage, "completion_tokens_details", "reasoning_tokens"), completion)
        result.tokens.update({"input": prompt, "output": completion, "cached_input": cached, "reasoning": reasoning})
        model = record.get("model_group") or record.get("model")
        price = prices.get(model)

        reported = record.get("response_cost")
        if record.get("cache_hit") is True:
            result.cache_hits += 1
            result.cost += reported or 0.0
            result.saved += record.get("saved_cache_cost") or _priced(price, prompt, cached, completion)
        elif reported:
            result.cost += reported
        elif prompt + completion:
            result.cost += _priced(price, prompt, cached, completion)
        if not record.get("custom_llm_provider"):
            result.no_provider += 1
        if (record.get("stream") is True and record.get("status") == "success"
                and record.get("completionStartTime") and record.get("startTime")):
            result.ttft_count += 1
        verdicts = dict(scenario.verdicts)
        info = record.get("guardrail_information") or []
        for entry in info if isinstance(info, list) else [info]:
            name = entry["guardrail_name"]
            # The scenario says what its guardrail did; an entry that found nothing passed (a
            # logging-only guardrail logs one entry for the request and one for the answer).
            acted = entry.get("guardrail_status") != "success" or any((entry.get("masked_entity_count") or {}).values())
            result.guardrails[(name, verdicts.get(name, "passed") if acted else "passed")] += 1
            if entry.get("duration") is not None:
                result.guardrail_seconds[name] += entry["duration"]
                result.guardrail_timed[name] += 1
            for entity, count in (entry.get("masked_entity_count") or {}).items():
                result.entities[entity] += count or 0
    return result
