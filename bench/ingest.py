"""Ingest benchmark: the pipeline's record rate against plain JSON parsing, scrape render time and
resident memory per exposed line, each beside the stock prometheus_client on the same data.

    .venv/bin/python bench/ingest.py           # the figures in docs/benchmarks.md
    .venv/bin/python bench/ingest.py --quick   # a smoke run (tests use it)

Everything is measured in one run on one pinned core, and rates are given as ratios to F, the
rate of reading the same records and ``orjson.loads`` on each, measured in the same run, because
absolute rates move with the machine. Records are realistic LiteLLM ``StandardLoggingPayload``
lines (~3.6 KB, with message and response text) from 50 teams, 250 apps and 20 models on 6
providers, spread over more than 30k request label sets.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contract import catalog as c
from contract import spec as spec_model
from exporter.event import GatewayEvent, Measured
from exporter.recorder import Recorder, observed
from exporter.runtime import tune_garbage_collector

SEED = 20_240_917
BATCH = 512  # LiteLLM's generic logger posts batches of this size
OTLP_INTERVAL_S = 15.0  # the OTLP sink's default push interval


@dataclass(frozen=True)
class Sizes:
    records: int
    render_lines: tuple[int, ...]
    repeats: int


FULL = Sizes(records=200_000, render_lines=(10_000, 100_000), repeats=2)
QUICK = Sizes(records=6_000, render_lines=(2_000, 10_000), repeats=1)


# -- the synthetic organisation -------------------------------------------------------------------

PROVIDERS = ("openai", "azure", "anthropic", "bedrock", "vertex_ai", "mistral")
# (model, price in/out per Mtok, (providers serving it), kind)
MODELS = (
    ("gpt-4o", 2.5, 10.0, ("openai", "azure"), "chat"),
    ("gpt-4o-mini", 0.15, 0.6, ("openai", "azure"), "chat"),
    ("gpt-4.1", 2.0, 8.0, ("openai",), "chat"),
    ("gpt-4.1-mini", 0.4, 1.6, ("openai",), "chat"),
    ("o3", 2.0, 8.0, ("openai",), "reasoning"),
    ("o4-mini", 1.1, 4.4, ("openai",), "reasoning"),
    ("claude-sonnet-4", 3.0, 15.0, ("anthropic", "bedrock"), "chat"),
    ("claude-haiku-3-5", 0.8, 4.0, ("anthropic", "bedrock"), "chat"),
    ("claude-opus-4", 15.0, 75.0, ("anthropic",), "chat"),
    ("gemini-2.5-pro", 1.25, 10.0, ("vertex_ai",), "chat"),
    ("gemini-2.5-flash", 0.3, 2.5, ("vertex_ai",), "chat"),
    ("gemini-2.0-flash", 0.1, 0.4, ("vertex_ai",), "chat"),
    ("mistral-large", 2.0, 6.0, ("mistral",), "chat"),
    ("mistral-small", 0.2, 0.6, ("mistral",), "chat"),
    ("llama-3.3-70b", 0.7, 0.9, ("bedrock",), "chat"),
    ("nova-pro", 0.8, 3.2, ("bedrock",), "chat"),
    ("text-embedding-3-small", 0.02, 0.0, ("openai", "azure"), "embedding"),
    ("text-embedding-3-large", 0.13, 0.0, ("openai",), "embedding"),
    ("titan-embed-v2", 0.02, 0.0, ("bedrock",), "embedding"),
    ("mistral-embed", 0.1, 0.0, ("mistral",), "embedding"),
)
ROUTES = tuple((m, p) for m, _, _, providers, _ in MODELS for p in providers)
TEAMS = tuple(f"team-{i:02d}" for i in range(50))
APPS_PER_TEAM = 8
ROUTES_PER_APP = 16
GUARDED_TEAMS = frozenset(TEAMS[:15])  # require a PII guardrail, like regulated teams do
# (outcome, error code, error class, share): the remainder succeeds.
ERRORS = (
    ("rate_limited", "429", "RateLimitError", 0.030),
    ("timeout", "408", "Timeout", 0.012),
    ("provider_error", "503", "ServiceUnavailableError", 0.020),
    ("client_error", "400", "BadRequestError", 0.015),
    ("quota_exceeded", "429", "BudgetExceededError", 0.006),
    ("gateway_error", "500", "InternalServerError", 0.005),
    ("guardrail_blocked", "400", "GuardrailRaisedException", 0.005),
)
CACHE_HIT_SHARE = 0.10
TEXT_COMPLETION_SHARE = 0.08
_PRICES = {m: (pin, pout) for m, pin, pout, _, _ in MODELS}
_KIND = {m: kind for m, _, _, _, kind in MODELS}


def bench_spec_yaml() -> str:
    lines = [
        "version: 1", "organization: {name: Bench Org}",
        "attribution:",
        "  litellm: {team: [metadata.user_api_key_team_alias], app: [metadata.user_api_key_alias]}",
        "  otel: {team: [span.gatewatch.team], app: [span.gatewatch.app]}",
        "teams:",
    ]
    for team in TEAMS:
        guard = "[presidio-pii]" if team in GUARDED_TEAMS else "[]"
        lines.append(
            f"  - {{name: {team}, owner: owner-{team}, cost_center: CC-{team[-2:]}, "
            f"budget_owner: {{name: Owner}}, budget: {{monthly_usd: 1000}}, required_guardrails: {guard}}}"
        )
    lines.append("apps:")
    for team in TEAMS:
        for k in range(APPS_PER_TEAM):
            app = f"{team}-app-{k}"
            lines.append(f"  - {{name: {app}, team: {team}, aliases: [svc-{app}]}}")
    lines.append("models:")
    for model, pin, pout, providers, _ in MODELS:
        aliases = ", ".join(f"{p}/{model}" for p in providers)
        lines.append(
            f"  - {{name: {model}, provider: {providers[0]}, aliases: [{aliases}], "
            f"price: {{input_per_mtok: {pin}, output_per_mtok: {pout}}}}}"
        )
    lines += ["guardrails:", "  - {name: presidio-pii, kind: pii}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Call:
    """One drawn request, before it is dressed as a record or as a Measured."""

    n: int
    team: str
    app: str
    model: str
    provider: str
    operation: str
    outcome: str
    error: tuple[str, str] | None
    cache_hit: bool
    stream: bool
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost: float
    saved: float
    start: float
    duration: float
    ttft: float | None
    pii: int


class Traffic:
    """Deterministic draws: skewed like real traffic (a few apps and routes carry most of it)."""

    def __init__(self, seed: int) -> None:
        self.rng = Random(seed)
        rng = Random(seed + 1)
        self.apps = [(team, f"{team}-app-{k}") for team in TEAMS for k in range(APPS_PER_TEAM)]
        self.app_weights = _cumulative([1.0 / (i + 1) ** 0.3 for i in range(len(self.apps))])
        self.routes = [rng.sample(ROUTES, ROUTES_PER_APP) for _ in self.apps]
        self.route_weights = _cumulative([1.0 / (i + 1) ** 0.5 for i in range(ROUTES_PER_APP)])

    def draw(self, n: int) -> Call:
        rng = self.rng
        a = _pick(self.app_weights, rng.random())
        team, app = self.apps[a]
        model, provider = self.routes[a][_pick(self.route_weights, rng.random())]
        kind = _KIND[model]
        operation = "embeddings" if kind == "embedding" else (
            "text_completion" if rng.random() < TEXT_COMPLETION_SHARE else "chat")
        r = rng.random()
        outcome, error = "success", None
        for name, code, cls, share in ERRORS:
            if r < share:
                outcome, error = name, (code, cls)
                break
            r -= share
        ok = error is None
        cache_hit = ok and rng.random() < CACHE_HIT_SHARE
        stream = kind == "chat" and operation == "chat" and rng.random() < 0.6
        input_tokens = int(rng.lognormvariate(6.5, 1.0)) + 1
        output_tokens = 0 if kind == "embedding" or not ok else int(rng.lognormvariate(5.3, 0.8)) + 1
        if not ok:
            input_tokens = 0
        reasoning = int(output_tokens * 0.7) if kind == "reasoning" else 0
        cached = input_tokens // 2 if ok and rng.random() < 0.2 else 0
        pin, pout = _PRICES[model]
        cost = 0.0 if cache_hit else (input_tokens * pin + output_tokens * pout) / 1e6
        saved = (input_tokens * pin + output_tokens * pout) / 1e6 if cache_hit else 0.0
        duration = 0.02 + rng.random() * 0.05 if cache_hit else (
            rng.lognormvariate(-1.0, 0.8) + output_tokens / 80.0 if ok else rng.lognormvariate(-1.5, 1.0))
        ttft = min(duration, rng.lognormvariate(-1.0, 0.5)) if stream and ok and not cache_hit else None
        pii = rng.randrange(1, 4) if team in GUARDED_TEAMS and rng.random() < 0.1 else 0
        return Call(n, team, app, model, provider, operation, outcome, error, cache_hit, stream,
                    input_tokens, output_tokens, cached, reasoning, cost, saved,
                    1_790_000_000.0 + n * 0.01, duration, ttft, pii)


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return [x / total for x in out]


def _pick(cumulative: list[float], r: float) -> int:
    from bisect import bisect_left

    return min(bisect_left(cumulative, r), len(cumulative) - 1)


_WORDS = (
    "the", "quarterly", "revenue", "report", "shows", "growth", "in", "northern", "region", "while", "support",
    "tickets", "about", "billing", "declined", "after", "new", "invoice", "layout", "shipped", "please",
    "summarise", "attached", "notes", "and", "list", "three", "follow-up", "actions", "for", "account", "team",
)


def _text(rng: Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        word = _WORDS[rng.randrange(len(_WORDS))]
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


class Dresser:
    """Turns a Call into a LiteLLM StandardLoggingPayload line shaped like the fixture."""

    def __init__(self, seed: int) -> None:
        rng = Random(seed + 2)
        self.rng = rng
        self.prompts = [_text(rng, n) for n in (300, 500, 800, 1100, 1400, 1700)]
        self.answers = [_text(rng, n) for n in (200, 400, 600, 900, 1200)]

    def __call__(self, call: Call) -> bytes:
        rng = self.rng
        ok = call.error is None
        team_idx = TEAMS.index(call.team)
        failure = None if ok else {
            "error_code": call.error[0], "error_class": call.error[1],
            "llm_provider": "" if call.outcome == "quota_exceeded" else call.provider,
            "error_message": f"{call.error[1]} from upstream",
        }
        guardrails = None
        if call.team in GUARDED_TEAMS:
            guardrails = [{
                "guardrail_name": "presidio-pii", "guardrail_provider": "presidio", "guardrail_mode": "pre_call",
                "guardrail_status": "guardrail_intervened" if call.pii else "success", "duration": 0.012,
                "masked_entity_count": {"EMAIL_ADDRESS": call.pii} if call.pii else {},
            }]
        record = {
            "id": f"chatcmpl-{call.n:09d}", "trace_id": f"tr-{call.n:09d}",
            "call_type": {"chat": "acompletion", "text_completion": "atext_completion"}.get(
                call.operation, "aembedding"),
            "stream": call.stream, "response_cost": call.cost,
            "status": "success" if ok else "failure", "custom_llm_provider": call.provider,
            "total_tokens": call.input_tokens + call.output_tokens, "prompt_tokens": call.input_tokens,
            "completion_tokens": call.output_tokens, "startTime": call.start,
            "endTime": call.start + call.duration,
            "completionStartTime": call.start + (call.ttft if call.ttft is not None else call.duration),
            "response_time": call.duration,
            "model_map_information": {"model_map_key": call.model, "model_map_value": None},
            "model": f"{call.provider}/{call.model}", "model_id": f"dep-{call.model}", "model_group": call.model,
            "api_base": f"https://{call.provider}.example/v1",
            "metadata": {
                "user_api_key_hash": f"{rng.getrandbits(128):032x}{team_idx:032x}",
                "user_api_key_alias": f"svc-{call.app}", "user_api_key_team_id": f"tid-{team_idx}",
                "user_api_key_team_alias": call.team, "user_api_key_user_id": f"u-{rng.randrange(5000)}",
                "user_api_key_org_id": "org-1", "user_api_key_end_user_id": None, "spend_logs_metadata": None,
                "requester_ip_address": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                "applied_guardrails": ["presidio-pii"] if guardrails else [],
                "user_api_key_request_route": "/v1/chat/completions",
            },
            "cache_hit": call.cache_hit, "cache_key": f"ck-{call.n}" if call.cache_hit else None,
            "saved_cache_cost": call.saved, "request_tags": ["prod"], "end_user": None,
            "requester_ip_address": "10.0.1.1", "user_agent": "openai-python/1.54.0",
            "messages": [
                {"role": "system", "content": "You are a careful assistant for internal business users."},
                {"role": "user", "content": self.prompts[rng.randrange(len(self.prompts))]},
            ],
            "response": {"id": f"resp-{call.n}", "object": "chat.completion", "model": call.model, "choices": [
                {"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant",
                    "content": self.answers[rng.randrange(len(self.answers))] if ok else None}}]},
            "error_str": None if ok else failure["error_message"],  # type: ignore[index]
            "error_information": failure,
            "model_parameters": {"temperature": 0.2, "max_tokens": 1024},
            "hidden_params": {
                "model_id": f"dep-{call.model}", "cache_key": None, "api_base": None, "response_cost": call.cost,
                "litellm_overhead_time_ms": 3.1, "additional_headers": {}, "litellm_model_name": call.model,
                "usage_object": {
                    "prompt_tokens": call.input_tokens, "completion_tokens": call.output_tokens,
                    "prompt_tokens_details": {"cached_tokens": call.cached_tokens},
                    "completion_tokens_details": {"reasoning_tokens": call.reasoning_tokens},
                },
            },
            "guardrail_information": guardrails, "standard_built_in_tools_params": None,
            "status_fields": {"llm_api_status": "success" if ok else "failure",
                              "guardrail_status": guardrails[0]["guardrail_status"] if guardrails else "not_run"},
        }
        return orjson.dumps(record)


class SpanDresser:
    """Turns a Call into the OTLP/JSON span an instrumented client would export for it: current
    convention names, message content on the span (as producers capture it when asked)."""

    def __init__(self, seed: int) -> None:
        rng = Random(seed + 3)
        self.rng = rng
        self.prompts = [_text(rng, n) for n in (300, 500, 800, 1100, 1400, 1700)]
        self.answers = [_text(rng, n) for n in (200, 400, 600, 900, 1200)]

    def __call__(self, call: Call) -> dict[str, Any]:
        rng = self.rng
        start = int(call.start * 1e9)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": call.operation, "gen_ai.provider.name": call.provider,
            "gen_ai.request.model": call.model, "gen_ai.response.model": call.model,
            "gen_ai.request.stream": call.stream, "gatewatch.team": call.team, "gatewatch.app": f"svc-{call.app}",
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [
                {"type": "text", "content": self.prompts[rng.randrange(len(self.prompts))]}]}]),
        }
        if call.error is None:
            attributes |= {
                "gen_ai.usage.input_tokens": call.input_tokens, "gen_ai.usage.output_tokens": call.output_tokens,
                "gen_ai.usage.cache_read.input_tokens": call.cached_tokens,
                "gen_ai.usage.reasoning.output_tokens": call.reasoning_tokens,
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                    {"type": "text", "content": self.answers[rng.randrange(len(self.answers))]}]}]),
            }
            if call.ttft is not None:
                attributes["gen_ai.response.time_to_first_chunk"] = call.ttft
        else:
            attributes["error.type"] = call.error[1]
        span: dict[str, Any] = {
            "traceId": f"{call.n:032x}", "spanId": f"{call.n + 1:016x}", "name": f"{call.operation} {call.model}",
            "kind": 3, "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + int(call.duration * 1e9)),
            "attributes": [{"key": k, "value": _otlp_json_value(v)} for k, v in attributes.items()],
        }
        if call.error is not None:
            span["status"] = {"code": 2, "message": f"{call.error[1]} from upstream"}
        return span


def _otlp_json_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def otlp_bodies(count: int) -> tuple[list[bytes], list[bytes]]:
    """The calls as OTLP export requests of BATCH spans each: (protobuf bodies, JSON bodies)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    dress = SpanDresser(SEED)
    protobuf: list[bytes] = []
    documents: list[bytes] = []
    spans: list[dict[str, Any]] = []
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "bench-app"}}]}

    def flush() -> None:
        document = {"resourceSpans": [{"resource": resource, "scopeSpans": [
            {"scope": {"name": "opentelemetry.instrumentation.openai_v2"}, "spans": spans}]}]}
        documents.append(orjson.dumps(document))
        for span in spans:  # the protobuf JSON mapping wants base64 ids
            for key in ("traceId", "spanId"):
                span[key] = __import__("base64").b64encode(bytes.fromhex(span[key])).decode()
        protobuf.append(json_format.ParseDict(document, ExportTraceServiceRequest()).SerializeToString())

    for call in calls(count):
        spans.append(dress(call))
        if len(spans) == BATCH:
            flush()
            spans = []
    if spans:
        flush()
    return protobuf, documents


def time_otlp_ingest(bodies: list[bytes], encoding: str, spec: spec_model.Spec) -> float:
    """CPU seconds for the OTLP receiver (decode, select, adapt) and the pipeline behind it to
    take every body, into a fresh pipeline, as /v1/traces does after reading the body."""
    from exporter import otlp_receiver
    from exporter.pipeline import Pipeline

    recorder = Recorder(max_series_per_metric=spec.ingest.cardinality.max_series_per_metric)
    pipeline = Pipeline(spec, recorder=recorder, state=None)
    gc.collect()
    start = cpu()
    for body in bodies:
        reply = otlp_receiver.receive_traces(pipeline, body, encoding)
        if reply.rejected:
            raise SystemExit(f"OTLP receiver rejected {reply.rejected} spans: {reply.note}")
    return cpu() - start


def measured(call: Call) -> Measured:
    """The Measured the pipeline makes of ``call`` (used where the recorder is measured alone)."""
    event = GatewayEvent(
        id=f"chatcmpl-{call.n:09d}", timestamp=call.start, attributes={}, model=call.model,
        provider=call.provider, operation=call.operation, outcome=call.outcome, cache_hit=call.cache_hit,
        streaming=call.stream, input_tokens=call.input_tokens, output_tokens=call.output_tokens,
        cached_input_tokens=call.cached_tokens, reasoning_tokens=call.reasoning_tokens,
        reported_cost_usd=call.cost, duration_seconds=call.duration, ttft_seconds=call.ttft,
    )
    guarded = call.team in GUARDED_TEAMS
    return Measured(
        event=event, team=call.team, app=call.app, model=call.model, provider=call.provider,
        operation=call.operation, cost_usd=call.cost, cache_saved_usd=call.saved,
        guardrails=(("presidio-pii", "input", "masked" if call.pii else "passed"),) if guarded else (),
        entities=(("email", call.pii),) if call.pii else (),
    )


def calls(count: int, seed: int = SEED) -> Iterator[Call]:
    traffic = Traffic(seed)
    for n in range(count):
        yield traffic.draw(n)


# -- the stock client, doing the same job -----------------------------------------------------------


class StockRecorder:
    """prometheus_client with ``.labels()`` per update: the usual way to write this exporter."""

    def __init__(self) -> None:
        import prometheus_client as pc

        pc.disable_created_metrics()  # 0.0.4 has no _created lines; compare the same samples
        self.registry = pc.CollectorRegistry()
        made: dict[str, object] = {}
        for metric in (c.REQUESTS, c.TOKENS, c.COST, c.REQUEST_DURATION, c.TIME_TO_FIRST_TOKEN,
                       c.PROMPT_TOKENS, c.GUARDRAIL_EVALUATIONS, c.SENSITIVE_ENTITIES, c.CACHE_SAVED):
            if metric.type is c.MetricType.HISTOGRAM:
                made[metric.name] = pc.Histogram(metric.name, metric.help, metric.labels,
                                                 buckets=metric.buckets, registry=self.registry)
            else:
                made[metric.name] = pc.Counter(metric.name, metric.help, metric.labels, registry=self.registry)
        self.m = made

    def record(self, m: Measured) -> None:
        ev, g = m.event, self.m
        team, app, model, provider = m.team, m.app, m.model, m.provider
        g[c.REQUESTS.name].labels(team, app, model, provider, m.operation, ev.outcome,  # type: ignore[attr-defined]
                                  "hit" if ev.cache_hit else "miss").inc()
        tokens = g[c.TOKENS.name]
        tokens.labels(team, app, model, provider, "input").inc(ev.input_tokens)  # type: ignore[attr-defined]
        tokens.labels(team, app, model, provider, "output").inc(ev.output_tokens)  # type: ignore[attr-defined]
        if ev.cached_input_tokens:
            tokens.labels(team, app, model, provider, "cached_input").inc(ev.cached_input_tokens)  # type: ignore[attr-defined]
        if ev.reasoning_tokens:
            tokens.labels(team, app, model, provider, "reasoning").inc(ev.reasoning_tokens)  # type: ignore[attr-defined]
        g[c.COST.name].labels(team, app, model, provider).inc(m.cost_usd)  # type: ignore[attr-defined]
        if ev.input_tokens:
            g[c.PROMPT_TOKENS.name].labels(team, model).observe(ev.input_tokens)  # type: ignore[attr-defined]
        if ev.cache_hit:
            g[c.CACHE_SAVED.name].labels(team, app, model).inc(m.cache_saved_usd)  # type: ignore[attr-defined]
        if ev.duration_seconds is not None:
            g[c.REQUEST_DURATION.name].labels(  # type: ignore[attr-defined]
                team, model, provider, m.operation, ev.outcome).observe(ev.duration_seconds)
        if ev.ttft_seconds is not None:
            g[c.TIME_TO_FIRST_TOKEN.name].labels(team, model, provider).observe(ev.ttft_seconds)  # type: ignore[attr-defined]
        for guardrail, stage, result in m.guardrails:
            g[c.GUARDRAIL_EVALUATIONS.name].labels(team, app, guardrail, stage, result).inc()  # type: ignore[attr-defined]
        for entity, count in m.entities:
            g[c.SENSITIVE_ENTITIES.name].labels(team, app, entity).inc(count)  # type: ignore[attr-defined]

    def render(self) -> bytes:
        import prometheus_client as pc

        return pc.generate_latest(self.registry)

    def line_count(self) -> int:
        return sum(1 for line in self.render().splitlines() if line and not line.startswith(b"#"))


Target = Recorder | StockRecorder


def fill(recorder: Recorder, lines: int, seed: int = SEED) -> int:
    """Record calls until ``recorder`` exposes at least ``lines`` sample lines; return how many."""
    for count, call in enumerate(calls(10**9, seed), start=1):
        recorder.record(measured(call))
        if count % 20 == 0 and recorder.line_count() >= lines:
            return count
    raise AssertionError("unreachable")


def replay(target: Target, count: int, seed: int = SEED) -> None:
    for call in calls(count, seed):
        target.record(measured(call))


# -- measurements -----------------------------------------------------------------------------------


def cpu() -> float:
    """CPU seconds of this process: on a shared machine, time other processes take is not ours."""
    return time.process_time()


def best(repeats: int, fn: Callable[[], float]) -> float:
    """The shortest of ``repeats`` timings: noise only ever adds time."""
    return min(fn() for _ in range(repeats))


def time_parse(path: Path) -> float:
    loads = orjson.loads
    start = cpu()
    with path.open("rb") as f:
        for line in f:
            loads(line)
    return cpu() - start


def _batches(path: Path) -> Iterator[list[bytes]]:
    with path.open("rb") as f:
        batch: list[bytes] = []
        for line in f:
            batch.append(line)
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


# The exporter writes buffered audit lines every second; at the pipeline's rate that is about
# every 100 batches. Writing more often only makes the audit-on figure more conservative.
AUDIT_TICK_BATCHES = 20


def time_pipeline(path: Path, spec: spec_model.Spec, *, otlp: bool,
                  warm_up: Path | None = None, audit_dir: Path | None = None) -> tuple[float, Recorder, int]:
    """CPU seconds to ingest every record, in batches as LiteLLM posts them, into a fresh pipeline,
    or, with ``warm_up``, into one that has already ingested those records (untimed): the steady
    state of a running exporter, whose label sets already exist. With ``audit_dir``, the audit
    trail is on (exporter --audit-dir), its writes and flushes timed with ingest."""
    from exporter.audit import AuditWriter
    from exporter.pipeline import Pipeline

    recorder = Recorder(max_series_per_metric=spec.ingest.cardinality.max_series_per_metric,
                        token_usage_histogram=otlp)
    audit = AuditWriter(audit_dir) if audit_dir is not None else None
    pipeline = Pipeline(spec, recorder=recorder, state=None, audit=audit)
    if warm_up is not None:
        for batch in _batches(warm_up):
            pipeline.ingest(batch, "litellm", "bench")
    accepted = 0
    gc.collect()
    start = cpu()
    for n, batch in enumerate(_batches(path), start=1):
        accepted += pipeline.ingest(batch, "litellm", "bench").accepted
        if n % AUDIT_TICK_BATCHES == 0:
            pipeline.audit_tick()
    pipeline.close_audit()
    return cpu() - start, recorder, accepted


def time_audit(path: Path, spec: spec_model.Spec, repeats: int, tmp: Path) -> tuple[float, float, int]:
    """(audit-off seconds, audit-on seconds, audit lines written) for the same records, the two
    pipelines alternated so drift on a shared machine hits both alike; best of ``repeats`` each."""
    off, on, written = [], [], 0
    for i in range(repeats):
        off.append(time_pipeline(path, spec, otlp=False)[0])
        directory = tmp / f"audit-{i}"
        on.append(time_pipeline(path, spec, otlp=False, audit_dir=directory)[0])
        written = sum(len(p.read_bytes().splitlines()) for p in directory.iterdir())
        shutil.rmtree(directory)
    return min(off), min(on), written


def time_otlp_export(recorder: Recorder, repeats: int) -> float:
    """CPU seconds of one OTLP push's work: copying the recorder's series and encoding them."""
    from exporter.otlp_encode import encode

    def once() -> float:
        start = cpu()
        encode(recorder, now=time.time(), resource={"service.name": "gatewatch-bench"})
        return cpu() - start
    return best(repeats, once)


def time_record(events: list[Measured], factory: Callable[[], Target]) -> tuple[float, float]:
    """Seconds per record() of prebuilt events into a fresh target: the first pass (which
    creates the series) and a second pass over the same label sets (steady state)."""
    target = factory()
    passes = []
    for _ in range(2):
        gc.collect()
        start = cpu()
        for m in events:
            target.record(m)
        passes.append((cpu() - start) / len(events))
    return passes[0], passes[1]


def time_render(target: Target, repeats: int) -> float:
    def once() -> float:
        start = cpu()
        target.render()
        return cpu() - start
    return best(repeats, once)


def memory_child(kind: str) -> None:
    """Runs in a fresh process: record BENCH_CALLS calls, print RSS growth and lines exposed."""
    count = int(os.environ["BENCH_CALLS"])
    target: Target = StockRecorder() if kind == "stock" else Recorder()
    stream = (measured(call) for call in calls(count))
    gc.collect()
    before = _rss()
    if kind == "ours+routes":
        # As the pipeline runs it: one route per kind of request, kept for the next one.
        assert isinstance(target, Recorder)
        routes: dict[int, Any] = {}
        for m in stream:
            ev = m.event
            key = (m.team, m.app, m.model, m.provider, m.operation, ev.outcome, "hit" if ev.cache_hit else "miss")
            shape = hash((key, m.guardrails, m.entities and tuple(e for e, _ in m.entities), observed(ev)))
            route = routes.get(shape)
            if route is None:
                entities = tuple(e for e, n in m.entities if n)
                route = routes[shape] = target.route(key, observed(ev), guardrails=m.guardrails, entities=entities)
            target.count(route, ev, m.cost_usd, m.cache_saved_usd, [n for _, n in m.entities if n])
    else:
        for m in stream:
            target.record(m)
    gc.collect()
    after = _rss()
    print(json.dumps({"rss": after - before, "lines": target.line_count()}))


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_per_line(kind: str, count: int) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", kind],
        env={**os.environ, "BENCH_CALLS": str(count)}, capture_output=True, text=True, check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["rss"] / result["lines"], result["lines"]


def pin_one_core() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


# -- the run ----------------------------------------------------------------------------------------


def run(sizes: Sizes) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []

    def row(name: str, value: str) -> None:
        rows.append((name, value))
        print(f"  {name:<58} {value}", file=sys.stderr, flush=True)

    row("pinned to CPU", str(pin_one_core()))
    # The exporter tunes the collector at start (exporter/runtime.py); measure it as it runs.
    tune_garbage_collector()
    spec = spec_model.parse(bench_spec_yaml(), "<bench spec>")
    with tempfile.TemporaryDirectory(prefix="gatewatch-bench-") as tmp:
        path = Path(tmp) / "records.jsonl"
        dress = Dresser(SEED)
        size = 0
        with path.open("wb") as f:
            for call in calls(sizes.records):
                line = dress(call)
                size += len(line) + 1
                f.write(line + b"\n")
        row("records", f"{sizes.records:,}")
        row("mean record size", f"{size / sizes.records / 1024:.2f} KiB")

        f_time = best(sizes.repeats, lambda: time_parse(path))
        f_rate = sizes.records / f_time
        row("F: read + orjson.loads", f"{f_rate:,.0f} records/s")

        pipeline_ok = True
        try:
            import exporter.pipeline  # noqa: F401
        except ImportError:
            pipeline_ok = False
        if pipeline_ok:
            timings = [time_pipeline(path, spec, otlp=False) for _ in range(sizes.repeats)]
            p_time, recorder, accepted = min(timings, key=lambda t: t[0])
            if accepted != sizes.records:
                raise SystemExit(f"pipeline accepted {accepted} of {sizes.records} records")
            label_sets = sum(1 for _ in recorder.series(c.REQUESTS))
            row("request label sets (genai_requests_total series)", f"{label_sets:,}")
            row("exposed sample lines after the run", f"{recorder.line_count():,}")
            p_rate = sizes.records / p_time
            row("pipeline (adapter -> pricing -> attribution -> recorder)",
                f"{p_rate:,.0f} records/s = {p_rate / f_rate:.2f} F")
            # The same traffic again under new request ids, into a pipeline that has seen it.
            again = path.with_name("again.jsonl")
            with path.open("rb") as source, again.open("wb") as sink:
                for line in source:
                    sink.write(line.replace(b'"id":"chatcmpl-', b'"id":"chatcmpl-again-', 1))
            s_time, _, s_accepted = min((time_pipeline(again, spec, otlp=False, warm_up=path)
                                         for _ in range(sizes.repeats)), key=lambda t: t[0])
            if s_accepted != sizes.records:
                raise SystemExit(f"steady-state pass accepted {s_accepted} of {sizes.records} records")
            s_rate = sizes.records / s_time
            row("pipeline, steady state (label sets already seen)",
                f"{s_rate:,.0f} records/s = {s_rate / f_rate:.2f} F")
            o_time, o_recorder, _ = min((time_pipeline(path, spec, otlp=True) for _ in range(sizes.repeats)),
                                        key=lambda t: t[0])
            export = time_otlp_export(o_recorder, sizes.repeats)
            row(f"one OTLP push (copy + encode) of that state, {o_recorder.line_count():,} lines",
                f"{export * 1e3:.0f} ms CPU")
            # The push runs on the same core every interval: it takes that share of ingest's CPU.
            o_rate = sizes.records / o_time * (1 - export / OTLP_INTERVAL_S)
            row(f"pipeline with OTLP on (token histogram + a push every {OTLP_INTERVAL_S:g} s)",
                f"{o_rate:,.0f} records/s = {o_rate / f_rate:.2f} F, {(1 - o_rate / p_rate) * 100:.1f} % below")
            protobuf, documents = otlp_bodies(sizes.records)
            for encoding, bodies, label in (("application/x-protobuf", protobuf, "protobuf"),
                                            ("application/json", documents, "JSON")):
                mean = sum(map(len, bodies)) / sizes.records
                t_otlp = min(time_otlp_ingest(bodies, encoding, spec) for _ in range(sizes.repeats))
                rate = sizes.records / t_otlp
                row(f"OTLP /v1/traces, {label} ({mean / 1024:.2f} KiB per span), fresh",
                    f"{rate:,.0f} spans/s = {rate / f_rate:.2f} F = {rate / p_rate:.2f} x the LiteLLM path")
            del protobuf, documents
            a_off, a_on, lines = time_audit(path, spec, max(sizes.repeats, 3), Path(tmp))
            # One roll line per day file; the rest are the relevant records.
            row("audit trail: records written to it (relevant share)",
                f"{lines - 1:,} of {sizes.records:,} = {(lines - 1) / sizes.records * 100:.1f} %")
            row("pipeline with the audit trail on (--audit-dir), against off in the same run",
                f"{sizes.records / a_on:,.0f} vs {sizes.records / a_off:,.0f} records/s, "
                f"{(a_on / a_off - 1) * 100:.1f} % slower")
        else:
            row("pipeline", "not measured: exporter/pipeline.py is not there yet")

    events = [measured(call) for call in calls(sizes.records)]
    for name, factory in (
        ("Recorder.record()", Recorder),
        ("Recorder.record(), token-usage histogram on", lambda: Recorder(token_usage_histogram=True)),
        ("prometheus_client, .labels() per update", StockRecorder),
    ):
        first, steady = min((time_record(events, factory) for _ in range(sizes.repeats)), key=lambda t: t[1])
        row(f"{name}: first pass / steady state",
            f"{first * 1e6:.2f} / {steady * 1e6:.2f} us per event")
    del events

    for lines in sizes.render_lines:
        recorder = Recorder()
        count = fill(recorder, lines)
        stock_rec = StockRecorder()
        replay(stock_rec, count)
        stock_lines = stock_rec.line_count()
        if stock_lines != recorder.line_count():
            raise SystemExit(f"stock client exposes {stock_lines} lines, the recorder {recorder.line_count()}")
        t_ours = time_render(recorder, 5)
        t_stock = time_render(stock_rec, 3 if sizes.repeats > 1 else 1)
        row(f"render {recorder.line_count():,} lines: Recorder.render()", f"{t_ours * 1e3:.1f} ms")
        row(f"render {stock_lines:,} lines: prometheus_client generate_latest", f"{t_stock * 1e3:.1f} ms")
        start = cpu()
        snap = recorder.snapshot()
        t_snap = cpu() - start
        row(f"snapshot {recorder.line_count():,} lines", f"{t_snap * 1e3:.1f} ms, {len(snap) / 1024:,.0f} KiB")
        if lines == max(sizes.render_lines):
            memory_states = [("state of the render above", count), ("state after all records", sizes.records)]
            for state, calls_made in memory_states:
                for kind, name in (("ours", "Recorder"), ("ours+routes", "Recorder + the pipeline's route cache"),
                                   ("stock", "prometheus_client")):
                    per_line, got = memory_per_line(kind, calls_made)
                    row(f"RSS per exposed line, {name}, {state} ({got:,} lines)", f"{per_line:.0f} bytes")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--memory-child", choices=("ours", "ours+routes", "stock"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    sizes = QUICK if args.quick else FULL
    print(f"gatewatch ingest benchmark ({'quick' if args.quick else 'full'}), Python {sys.version.split()[0]}",
          file=sys.stderr)
    rows = run(sizes)
    width = max(len(name) for name, _ in rows)
    print(f"| {'figure':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    main()
