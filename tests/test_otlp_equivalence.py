"""The same traffic, once as LiteLLM records and once as OTLP spans, gives the same metrics.

Each row of TRAFFIC is one request, written out in each dialect by hand here (LiteLLM's
StandardLoggingPayload, and GenAI spans with the attribute names of the current conventions or
OpenLLMetry's older ones, alternately). Two exporters each take one dialect; every request,
token, cost, duration and time-to-first-token series must be equal between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contract import catalog
from tests.support.otlp import START_NS, export_request, post_traces, span
from tests.support.processes import Exporter, Metrics, post_json, start_exporter

START = START_NS / 1e9
ERRORS = {429: "RateLimitError", 500: "InternalServerError", 400: "BadRequestError"}


@dataclass(frozen=True)
class Request:
    team: str  # the raw value the caller sends (an alias or a canonical name)
    app: str
    model: str
    provider: str
    status: int = 200
    embeddings: bool = False
    stream: bool = False
    ttft: float | None = None
    duration: float = 1.0
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0
    cost: float | None = None  # reported by the producer, else priced from the table


TRAFFIC = [
    Request("search", "svc-search", "gpt-4o", "openai", prompt=812, completion=164, duration=2.41),
    Request("team-1", "svc-search", "gpt-4o", "openai", stream=True, ttft=0.38, prompt=500, completion=90,
            cached=256, duration=1.7),
    Request("support", "support-bot", "gpt-4o-mini", "openai", prompt=1200, completion=300, cached=1024,
            duration=0.8, cost=0.000321),
    Request("support", "support-bot", "o3", "openai", prompt=200, completion=900, reasoning=600, duration=12.0),
    Request("analytics", "svc-dash-summaries", "claude-sonnet-4", "anthropic", prompt=3000, completion=400,
            duration=4.2),
    Request("search", "svc-search", "text-embedding-3-small", "openai", embeddings=True, prompt=64, duration=0.09),
    Request("search", "svc-search", "gpt-4o", "openai", status=429, duration=0.21),
    Request("support", "support-bot", "gpt-4o-mini", "openai", status=500, duration=30.5),
    Request("team-1", "svc-query-rewrite", "gpt-4o-mini", "openai", status=400, duration=0.05),
    Request("unknown-team", "unknown-app", "some-new-model", "mistral", prompt=10, completion=5, duration=0.3),
    Request("support", "support-bot", "gpt-4o-mini", "openai", stream=True, ttft=0.12, prompt=40, completion=20,
            duration=0.6),
]


def as_litellm(i: int, r: Request) -> dict[str, Any]:
    start = START + i
    record: dict[str, Any] = {
        "id": f"chatcmpl-{i}", "call_type": "aembedding" if r.embeddings else "acompletion", "stream": r.stream,
        "status": "success" if r.status == 200 else "failure", "custom_llm_provider": r.provider,
        "prompt_tokens": r.prompt, "completion_tokens": r.completion, "total_tokens": r.prompt + r.completion,
        "startTime": start, "endTime": start + r.duration,
        "completionStartTime": start + (r.ttft if r.ttft is not None else r.duration),
        "model": f"{r.provider}/{r.model}", "model_group": r.model,
        "metadata": {"user_api_key_team_alias": r.team, "user_api_key_alias": r.app},
        "hidden_params": {"usage_object": {
            "prompt_tokens": r.prompt, "completion_tokens": r.completion,
            "prompt_tokens_details": {"cached_tokens": r.cached},
            "completion_tokens_details": {"reasoning_tokens": r.reasoning},
        }},
        "status_fields": {"llm_api_status": "success" if r.status == 200 else "failure", "guardrail_status": "not_run"},
    }
    if r.cost is not None:
        record["response_cost"] = r.cost
    if r.status != 200:
        record["error_information"] = {"error_code": str(r.status), "error_class": ERRORS[r.status],
                                       "llm_provider": r.provider}
    return record


def as_span(i: int, r: Request) -> Any:
    current = i % 2 == 0  # alternate the current conventions and OpenLLMetry's older names
    attributes: dict[str, Any] = {"gatewatch.team": r.team, "gen_ai.request.model": r.model}
    if current:
        attributes |= {"gen_ai.operation.name": "embeddings" if r.embeddings else "chat",
                       "gen_ai.provider.name": r.provider, "gen_ai.request.stream": r.stream}
    else:
        attributes |= {"llm.request.type": "embedding" if r.embeddings else "chat", "gen_ai.system": r.provider,
                       "llm.is_streaming": r.stream}
    if r.status == 200:
        attributes |= {
            "gen_ai.usage.input_tokens" if current else "gen_ai.usage.prompt_tokens": r.prompt,
            "gen_ai.usage.output_tokens" if current else "gen_ai.usage.completion_tokens": r.completion,
        }
        if r.cached:
            attributes["gen_ai.usage.cache_read.input_tokens" if current else "gen_ai.usage.cache_read_input_tokens"] \
                = r.cached
        if r.reasoning:
            attributes["gen_ai.usage.reasoning.output_tokens" if current else "gen_ai.usage.reasoning_tokens"] \
                = r.reasoning
    else:
        attributes["error.type"] = ERRORS[r.status]
    if r.cost is not None:
        attributes["gen_ai.usage.cost"] = r.cost
    events = []
    if r.ttft is not None:
        if current:
            attributes["gen_ai.response.time_to_first_chunk"] = r.ttft
        else:
            events = [("llm.content.completion.chunk", r.ttft), ("llm.content.completion.chunk", r.ttft + 0.1)]
    return span(attributes, duration=r.duration, start_ns=START_NS + i * 1_000_000_000, error=r.status != 200,
                events=events)


@pytest.fixture
def exporters(tmp_path: Path) -> Iterator[tuple[Exporter, Exporter]]:
    litellm = start_exporter(tmp_path / "litellm")
    otlp = start_exporter(tmp_path / "otlp")
    yield litellm, otlp
    litellm.stop()
    otlp.stop()


_COMPARED = (catalog.REQUESTS.name, catalog.TOKENS.name, catalog.COST.name, catalog.EXPORTER_UNPRICED.name,
             *(f"{h.name}_{part}" for h in (catalog.REQUEST_DURATION, catalog.TIME_TO_FIRST_TOKEN,
                                            catalog.PROMPT_TOKENS) for part in ("bucket", "sum", "count")))


def _traffic_series(metrics: Metrics) -> dict[Any, float]:
    return {key: value for key, value in metrics.items() if key[0] in _COMPARED and value}


def test_the_same_traffic_as_litellm_records_and_as_otlp_spans_gives_the_same_metrics(
    exporters: tuple[Exporter, Exporter],
) -> None:
    litellm, otlp = exporters
    status, answer = post_json(litellm.url, "litellm", [as_litellm(i, r) for i, r in enumerate(TRAFFIC)])
    assert (status, answer["accepted"]) == (202, len(TRAFFIC))
    # The resource names the service only; team and app come from span attributes as the spec
    # reads them (the app from the resource when the span has none).
    spans = [as_span(i, r) for i, r in enumerate(TRAFFIC)]
    by_app: dict[str, list[Any]] = {}
    for r, s in zip(TRAFFIC, spans, strict=True):
        by_app.setdefault(r.app, []).append(s)
    for app, group in by_app.items():
        body = export_request(group, {"service.name": app}).SerializeToString()
        assert post_traces(otlp.url, body)[0] == 200
    from_litellm, from_otlp = _traffic_series(litellm.scrape()), _traffic_series(otlp.scrape())
    assert from_litellm.keys() == from_otlp.keys()
    for key, value in from_litellm.items():
        # Sums differ in the last digits: LiteLLM's times are float seconds since the epoch.
        assert from_otlp[key] == pytest.approx(value, rel=1e-6), key
    # Not vacuous: every outcome, token type and the TTFT histogram are in what was compared.
    names = {name for name, _ in from_litellm}
    assert {catalog.TIME_TO_FIRST_TOKEN.name + "_count", catalog.EXPORTER_UNPRICED.name} <= names
    outcomes = {dict(labels)["outcome"] for name, labels in from_litellm if name == catalog.REQUESTS.name}
    assert outcomes == {"success", "rate_limited", "provider_error", "client_error"}
