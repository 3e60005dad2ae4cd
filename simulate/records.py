"""Dress a ``Call`` as the record its gateway would log, field for field.

``litellm_record`` follows LiteLLM's ``StandardLoggingPayload`` (what its generic HTTP logger
posts) and ``kong_record`` a Kong http-log entry with the ``ai`` section, both exactly as the
fixtures under ``tests/fixtures`` show them, including their drift (old LiteLLM payloads
without ``status_fields``; Kong's legacy ``ai-proxy`` section with ``cost_request``; streaming
Kong records whose completion tokens are 0). Records carry fake prompt and answer text and the
identifying fields a real gateway logs (client IP, user agent, end-user id): the exporter must
drop all of it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from random import Random
from typing import Any

import orjson

from contract.spec import Model
from simulate import text
from simulate.world import Call, GuardrailRun

PER_MILLION = 1_000_000.0
KONG_PLUGIN_ID = "546c3856-0000-4000-8000-000000000001"

# LiteLLM exception class and message per status (the proxy's names for provider errors).
_LITELLM_ERRORS = {
    400: ("BadRequestError", "Invalid 'max_tokens': integer above the model's limit"),
    408: ("Timeout", "Request timed out"),
    429: ("RateLimitError", "Rate limit reached"),
    502: ("BadGatewayError", "Bad gateway from upstream"),
    503: ("ServiceUnavailableError", "upstream overloaded"),
}
_GUARDRAIL_ERROR = ("GuardrailRaisedException", "Violated guardrail policy")
# Kong answers its own 504 when the upstream times out; it has no 408.
_KONG_STATUS = {408: 504}
_KONG_ENTITIES = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "PERSON": "NAME"}


def cost_usd(model: Model, prompt: int, completion: int, cached: int = 0) -> float:
    """What LiteLLM (and Kong with model costs set) reports: tokens times the table price."""
    price = model.price
    cached_rate = price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    return ((prompt - cached) * price.input_per_mtok + cached * cached_rate
            + completion * price.output_per_mtok) / PER_MILLION


def call_cost(call: Call) -> float:
    """The cost the gateway reports for ``call``: 0 for failures and cache hits."""
    if call.status != 200 or call.cache_hit:
        return 0.0
    return cost_usd(call.model, call.prompt_tokens, call.completion_tokens, call.cached_tokens)


def build(call: Call, at: float, record_id: str, number: int, rng: Random | None) -> tuple[str, dict[str, Any]]:
    """(format, record) for ``call`` ending at ``at``; ``rng`` None leaves the text out."""
    if call.gateway == "kong":
        return "kong", kong_record(call, at, record_id, number, rng)
    return "litellm", litellm_record(call, at, record_id, rng)


@lru_cache(maxsize=4096)
def _key_hash(key: str) -> str:
    return hashlib.sha256(f"sk-{key}".encode()).hexdigest()


def _prompt_text(call: Call, rng: Random | None) -> str:
    if rng is None:
        return ""
    if call.prompt_seed is not None:  # the same text every time, whatever the outcome
        return text.prompt(Random(call.prompt_seed), 900, with_contact=False)
    tokens = call.prompt_tokens or rng.randint(100, 250)
    return text.prompt(rng, min(max(tokens * 4, 160), 900), with_contact=call.contact_in_prompt)


def _answer_text(call: Call, rng: Random | None) -> str:
    if rng is None:
        return ""
    return text.answer(rng, min(max(call.completion_tokens * 4, 60), 560), with_contact=call.contact_in_answer)


def _messages(call: Call, rng: Random | None) -> list[Any]:
    prompt = _prompt_text(call, rng)
    if call.operation == "embeddings":
        return [prompt]
    return [{"role": "system", "content": text.system_prompt(call.actor or "the assistant")},
            {"role": "user", "content": prompt}]


def _response(call: Call, record_id: str, start: float, rng: Random | None) -> dict[str, Any]:
    if call.status != 200 or rng is None:
        return {}
    usage = {"prompt_tokens": call.prompt_tokens, "completion_tokens": call.completion_tokens,
             "total_tokens": call.prompt_tokens + call.completion_tokens}
    if call.operation == "embeddings":
        vector = [round(rng.uniform(-0.1, 0.1), 6) for _ in range(8)]
        return {"object": "list", "model": call.model.name, "usage": usage,
                "data": [{"object": "embedding", "index": 0, "embedding": vector}]}
    return {
        "id": record_id, "object": "chat.completion", "created": int(start), "model": call.model.name,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": _answer_text(call, rng)}}],
        "usage": usage,
    }


def _guardrail_entry(run: GuardrailRun) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "guardrail_name": run.name,
        "guardrail_provider": run.name.split("-")[0],
        "guardrail_mode": run.mode,
        "guardrail_status": run.status,
        "duration": round(run.duration, 4),
    }
    if run.masked:
        entry["masked_entity_count"] = dict(run.masked)
    if run.blocked:
        entry.update(guardrail_action="BLOCKED", violation_categories=["prompt_attack"], risk_score=0.97)
    return entry


def _guardrail_status(runs: tuple[GuardrailRun, ...]) -> str:
    statuses = {r.status for r in runs}
    for status in ("guardrail_intervened", "guardrail_failed_to_respond", "success"):
        if status in statuses:
            return status
    return "not_run"


def litellm_record(call: Call, at: float, record_id: str, rng: Random | None) -> dict[str, Any]:
    model, provider = call.model, call.model.provider
    start = round(at - call.duration, 3)
    end = round(at, 3)
    ok = call.status == 200
    cost = call_cost(call)
    saved = cost_usd(model, call.prompt_tokens, call.completion_tokens, call.cached_tokens) if call.cache_hit else 0.0
    completion_start = round(start + call.ttft, 3) if call.ttft is not None else end
    error = None
    if not ok:
        error_class, message = _GUARDRAIL_ERROR if call.blocked else _LITELLM_ERRORS[call.status]
        error = {"error_code": str(call.status), "error_class": error_class,
                 "llm_provider": "" if call.blocked else provider, "error_message": message}
    tags = ["prod"] + ([f"data-classification:{call.classification}"] if call.classification else [])
    usage = {
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": call.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": call.reasoning_tokens},
    }
    record: dict[str, Any] = {
        "id": record_id,
        "trace_id": "tr-" + record_id.removeprefix("chatcmpl-"),
        "call_type": "aembedding" if call.operation == "embeddings" else "acompletion",
        "stream": call.stream,
        "response_cost": cost,
        "status": "success" if ok else "failure",
        "custom_llm_provider": provider,
        "total_tokens": call.prompt_tokens + call.completion_tokens,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "startTime": start,
        "endTime": end,
        "completionStartTime": completion_start,
        "response_time": round(end - start, 3),
        "model_map_information": {"model_map_key": model.name, "model_map_value": None},
        "model": f"{provider}/{model.name}",
        "model_id": f"dep-{model.name}",
        "model_group": model.name,
        "api_base": f"https://{provider}.example/v1",
        "metadata": {
            "user_api_key_hash": _key_hash(call.key_alias or call.user_id),
            "user_api_key_alias": call.key_alias,
            "user_api_key_team_id": call.team_id,
            "user_api_key_team_alias": call.team_alias,
            "user_api_key_user_id": call.user_id,
            "user_api_key_org_id": "org-1",
            "user_api_key_end_user_id": call.end_user,
            "spend_logs_metadata": None,
            "requester_ip_address": call.client_ip,
            "applied_guardrails": list(dict.fromkeys(g.name for g in call.guardrails)),
            "user_api_key_request_route":
                "/v1/embeddings" if call.operation == "embeddings" else "/v1/chat/completions",
        },
        "cache_hit": call.cache_hit,
        "cache_key": None,
        "saved_cache_cost": saved,
        "request_tags": tags,
        "end_user": call.end_user,
        "requester_ip_address": call.client_ip,
        "user_agent": call.user_agent,
        "messages": _messages(call, rng),
        "response": _response(call, record_id, start, rng),
        "error_str": error["error_message"] if error else None,
        "error_information": error,
        "model_parameters": {"temperature": 0.2},
        "hidden_params": {
            "model_id": f"dep-{model.name}",
            "cache_key": None,
            "api_base": None,
            "response_cost": cost,
            "litellm_overhead_time_ms": 3.1,
            "additional_headers": {},
            "litellm_model_name": model.name,
            "usage_object": usage,
        },
        "guardrail_information": [_guardrail_entry(g) for g in call.guardrails] or None,
        "standard_built_in_tools_params": None,
        "status_fields": {
            "llm_api_status": "success" if ok else "failure",
            "guardrail_status": _guardrail_status(call.guardrails),
        },
    }
    if call.legacy:  # payloads from before status_fields, guardrail_information and user_agent
        for key in ("status_fields", "guardrail_information", "user_agent"):
            del record[key]
    return record


def _dated_name(model: Model) -> str:
    return next((a for a in model.aliases if "/" not in a and any(c.isdigit() for c in a[-4:])), model.name)


def _kong_guardrails(call: Call, proxy: dict[str, Any], ai: dict[str, Any], rng_ms: int) -> None:
    """Kong's guardrail plugins: ``lakera-guard`` inside the proxy section, ``sanitizer`` beside it."""
    for run in call.guardrails:
        if run.kind == "prompt_injection":
            guard: dict[str, Any] = {"input_processing_latency": int(run.duration * 1000)}
            if run.blocked:
                guard.update(input_block_reason="prompt_attack",
                             input_block_detail=[{"detector_type": "prompt_attack", "detected": True}])
            proxy["lakera-guard"] = guard
        elif run.kind == "pii":
            items = [{"entity_type": _KONG_ENTITIES.get(kind, kind), "original": "[omitted]",
                      "sanitized": "[REDACTED]"} for kind, count in run.masked for _ in range(count)]
            ai["sanitizer"] = {"pii_identified": len(items), "pii_sanitized": len(items),
                               "duration": int(run.duration * 1000) or rng_ms, "sanitized_items": items}


def kong_record(call: Call, at: float, record_id: str, number: int, rng: Random | None) -> dict[str, Any]:
    model, provider = call.model, call.model.provider
    status = _KONG_STATUS.get(call.status, call.status)
    ok = status == 200
    start_ms = int((at - call.duration) * 1000)
    llm_ms = int(call.duration * 1000)
    kong_ms = 2 + number % 4
    # Kong's known drift: some streaming records report 0 completion tokens.
    completion = 0 if call.stream and number % 50 == 7 else call.completion_tokens
    cost = 0.0 if not ok or call.cache_hit else cost_usd(model, call.prompt_tokens, completion)
    usage: dict[str, Any] = {
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": call.prompt_tokens + completion,
    }
    if not call.cache_hit:
        usage["time_per_token"] = round(llm_ms / max(completion, 1), 2)
    if call.ttft is not None:
        usage["time_to_first_token"] = int(call.ttft * 1000)
    usage["cost_request" if call.legacy else "cost"] = cost
    meta: dict[str, Any] = {
        "request_model": model.name,
        "response_model": _dated_name(model),
        "provider_name": provider,
        "plugin_id": KONG_PLUGIN_ID,
        "request_mode": "stream" if call.stream else "oneshot",
    }
    if not call.cache_hit:
        meta["llm_latency"] = llm_ms
    proxy: dict[str, Any] = {"usage": usage, "meta": meta,
                             "cache": {"cache_status": "Hit" if call.cache_hit else "Miss"}}
    ai: dict[str, Any] = {("ai-proxy" if call.legacy else "proxy"): proxy}
    uri = "/v1/embeddings" if call.operation == "embeddings" else "/v1/chat/completions"
    body = b""
    if rng is not None:
        request_body = {"model": model.name, "stream": call.stream, "messages": _messages(call, rng)}
        body = orjson.dumps(request_body)
        response = _response(call, record_id, at - call.duration, rng)
        proxy["payload"] = {"request": body.decode(), "response": orjson.dumps(response).decode()}
    _kong_guardrails(call, proxy, ai, 1 + number % 40)
    headers = {"host": "ai-gateway.internal", "content-type": "application/json", "user-agent": call.user_agent}
    if call.classification:
        headers["x-data-classification"] = call.classification
    proxy_ms = 0 if call.cache_hit else llm_ms
    username = call.key_alias or "anonymous"
    return {
        "request": {"id": record_id, "uri": uri, "method": "POST", "size": len(body) or 300 + number % 900,
                    "url": f"http://ai-gateway.internal:8000{uri}", "querystring": {}, "headers": headers},
        "response": {"status": status, "size": 200 + completion * 4 if ok else 200,
                     "headers": {"content-type": "application/json"}},
        "upstream_status": status,
        "started_at": start_ms,
        "latencies": {"kong": kong_ms, "proxy": proxy_ms, "request": kong_ms + proxy_ms + 2},
        "workspace_name": "default",
        "consumer": {"id": f"c-{username}", "username": username},
        "route": {"name": "llm-embeddings" if call.operation == "embeddings" else "llm-chat"},
        "service": {"name": provider},
        "client_ip": call.client_ip,
        "ai": ai,
    }
