"""Every Kong fixture, what it shows, the Kong file it follows, and the event Kong's own semantics
say it must become: written by hand from Kong's source and documentation, never from the adapter.

Each fixture is a log entry exactly as Kong's http-log / file-log plugins post it (one JSON object).
Attribution reads `consumer.username` and the `x-data-classification` request header (ATTRIBUTE_PATHS).
Kong counts milliseconds; the event carries seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter.event import GatewayEvent, GuardrailEvaluation, Rejection
from tests.paths import FIXTURES

RELEASES_DIR = FIXTURES / "kong" / "releases"
ATTRIBUTE_PATHS = ("consumer.username", "request.headers.x-data-classification")
ATTRIBUTES = {"consumer.username": "search-svc", "request.headers.x-data-classification": "internal"}
NO_AI_SECTION = Rejection(
    "no AI section: expected `ai.proxy`, `ai.ai-proxy`, `ai.ai-proxy-advanced`, `ai.usage` or an "
    "ai-request/response-transformer section (Kong writes none for a request its AI plugins did not answer)"
)


@dataclass(frozen=True)
class Fixture:
    release: str
    name: str
    shows: str
    follows: str
    expected: GatewayEvent | Rejection

    @property
    def id(self) -> str:
        return f"{self.release}/{self.name}"

    @property
    def path(self) -> Path:
        return RELEASES_DIR / self.release / f"{self.name}.json"

    def load(self) -> dict[str, Any]:
        return json.loads(self.path.read_bytes())


def _event(n: int, **fields: Any) -> GatewayEvent:
    """The event for the fixture whose request id and start time Kong numbered n."""
    fields.setdefault("attributes", ATTRIBUTES)
    fields.setdefault("operation", "chat")
    return GatewayEvent(id=f"{n:032x}", timestamp=1790000000.0 + n, **fields)


def _guard(name: str, stage: str, result: str) -> GuardrailEvaluation:
    return GuardrailEvaluation(name=name, stage=stage, result=result)


FIXTURES_BY_RELEASE: tuple[Fixture, ...] = (
    # ---- 3.6
    Fixture(
        "3.6", "success", "chat success: usage and meta straight under `ai`; no cost, no LLM latency",
        "3.6.1 `kong/llm/drivers/shared.lua` `post_request`; `kong/pdk/log.lua` (`upstream_status` is \"\" "
        "behind ai-proxy's buffered proxying)",
        # No llm_latency before 3.8: the whole request, latencies.request 1205 ms.
        _event(1, model="gpt-3.5-turbo", provider="openai", outcome="success", input_tokens=25, output_tokens=12,
               duration_seconds=1.205),
    ),
    Fixture(
        "3.6", "response_parse_error",
        "ai-proxy could not parse the provider's 200: Kong answers 500 and still logs zero usage",
        "3.6.1 `kong/plugins/ai-proxy/handler.lua` `header_filter` (`ai_parser_error`, `ngx.status = 500`)",
        # Kong failed, not the provider: gateway_error. `upstream_status` is "" here, so the entry
        # alone cannot say so: the status gap is counted.
        _event(2, model="gpt-3.5-turbo", provider="openai", outcome="gateway_error", duration_seconds=0.95,
               gaps=("status_unreadable",)),
    ),
    Fixture(
        "3.6", "provider_error", "provider 500: ai-proxy logs no `ai` section at all",
        "3.6.1 `kong/plugins/ai-proxy/handler.lua` (`post_request` only for status 200)",
        NO_AI_SECTION,
    ),
    # ---- 3.7
    Fixture(
        "3.7", "success", "chat success under `ai[\"ai-proxy\"]` with `prompt_token` / `completion_token`",
        "3.7.1 `spec/03-plugins/38-ai-proxy/02-openai_integration_spec.lua` `_EXPECTED_CHAT_STATS`; "
        "`kong/llm/drivers/shared.lua` `post_request`",
        _event(11, model="gpt-3.5-turbo", provider="openai", outcome="success", input_tokens=25, output_tokens=12,
               duration_seconds=1.205),
    ),
    Fixture(
        "3.7", "streaming", "Anthropic stream: tokens from the stream, `text/event-stream` response",
        "3.7.1 `kong/plugins/ai-proxy/handler.lua` (`Content-Type: text/event-stream`, usage posted at the "
        "last chunk); `kong/llm/drivers/shared.lua` `streaming_has_token_counts`",
        # A stream lasts as long as Kong's whole request: latencies.request 3870 ms.
        _event(12, model="claude-3-5-haiku-20241022", provider="anthropic", outcome="success", streaming=True,
               input_tokens=18, output_tokens=40, duration_seconds=3.87),
    ),
    Fixture(
        "3.7", "request_transformer_only",
        "ai-request-transformer alone (its LLM call is the only one): logged under its own plugin name",
        "3.7.1 `spec/03-plugins/39-ai-request-transformer/02-integration_spec.lua` `_EXPECTED_CHAT_STATS`",
        # The transformer always calls llm/v1/chat; the whole request took 1490 ms.
        _event(13, model="gpt-4", provider="openai", outcome="success", input_tokens=25, output_tokens=12,
               duration_seconds=1.49),
    ),
    Fixture(
        "3.7", "prompt_guard_block", "ai-prompt-guard refused the prompt (400 from Kong): no `ai` section",
        "3.7.1 `kong/plugins/ai-prompt-guard/handler.lua` (`kong.response.exit(400)`, writes no log field)",
        NO_AI_SECTION,
    ),
    # ---- 3.8 development line
    Fixture(
        "pre-3.8-25610e98", "success_cost_request", "legacy `usage.cost_request` and `cache.cache_type`",
        "commit 25610e98 `kong/llm/drivers/shared.lua` (`COST_REQUEST`) and its `02-openai_integration_spec.lua`",
        _event(21, model="gpt-3.5-turbo", provider="openai", outcome="success", input_tokens=25, output_tokens=12,
               reported_cost_usd=0.00037, duration_seconds=1.205),
    ),
    # ---- 3.8
    Fixture(
        "3.8", "success", "chat success: `llm_latency`, `time_per_token`, `cost`, empty `cache`",
        "3.8.1 `spec/03-plugins/38-ai-proxy/02-openai_integration_spec.lua` `_EXPECTED_CHAT_STATS`; "
        "`kong/llm/drivers/shared.lua` `post_request`",
        _event(31, model="gpt-3.5-turbo", provider="openai", outcome="success", input_tokens=25, output_tokens=12,
               reported_cost_usd=0.00037, duration_seconds=1.834),
    ),
    Fixture(
        "3.8", "streaming", "stream with no price configured: no `cost` key; upstream_status a string",
        "3.8.1 `kong/llm/proxy/handler.lua` (`fake_response_t` at the last chunk); `kong/llm/drivers/shared.lua` "
        "(`cost` only with `input_cost`/`output_cost`); `kong/pdk/log.lua` (`var.upstream_status`)",
        _event(32, model="gpt-4o", provider="openai", outcome="success", streaming=True, input_tokens=18,
               output_tokens=13, duration_seconds=2.214),
    ),
    Fixture(
        "3.8", "proxy_advanced", "ai-proxy-advanced (Enterprise) logs under its own plugin name",
        "3.8.1 `kong/llm/drivers/shared.lua` `post_request` (`plugin_name` from `conf.__key__`)",
        _event(33, model="gpt-4o-mini", provider="openai", outcome="success", input_tokens=120, output_tokens=60,
               reported_cost_usd=0.000054, duration_seconds=0.985),
    ),
    Fixture(
        "3.8", "semantic_cache_hit",
        "ai-semantic-cache (Enterprise) hit: `cache_status` Hit, no `llm_latency`, answered by Kong",
        "3.8.1 `kong/plugins/prometheus/exporter.lua` (cache field names); audit-log reference "
        "(\"When returning a cached response, `time_per_token` and `llm_latency` are omitted\")",
        _event(34, model="gpt-3.5-turbo", provider="openai", outcome="success", cache_hit=True, input_tokens=25,
               output_tokens=12, reported_cost_usd=0.0, duration_seconds=0.061),
    ),
    Fixture(
        "3.8", "provider_error", "provider 503: no `ai` section in 3.8",
        "3.8.1 `kong/llm/proxy/handler.lua` (`body_filter` returns for a non-200 upstream)",
        NO_AI_SECTION,
    ),
    # ---- 3.9
    Fixture(
        "3.9", "success", "chat success under `ai.proxy`; `time_per_token` no longer floored",
        "3.9.3 `kong/llm/plugin/shared-filters/serialize-analytics.lua`; `02-openai_integration_spec.lua`",
        _event(41, model="gpt-3.5-turbo", provider="openai", outcome="success", input_tokens=25, output_tokens=12,
               reported_cost_usd=0.00037, duration_seconds=1.834),
    ),
    Fixture(
        "3.9", "streaming", "stream: `llm_latency` stops at the upstream's headers (412 ms of 2950 ms)",
        "3.9.3 `spec/03-plugins/38-ai-proxy/09-streaming_integration_spec.lua` `_EXPECTED_CHAT_STATS`; "
        "`kong/llm/plugin/shared-filters/parse-json-response.lua` (`record_request_end` in header_filter)",
        _event(42, model="gpt-3.5-turbo", provider="openai", outcome="success", streaming=True, input_tokens=18,
               output_tokens=13, reported_cost_usd=0.00031, duration_seconds=2.95),
    ),
    Fixture(
        "3.9", "no_cost_configured", "no price configured: Kong logs `cost: 0` beside real tokens",
        "3.9.3 `kong/llm/plugin/shared-filters/normalize-json-response.lua` (`metrics_set(\"llm_usage_cost\", 0)`)",
        # The adapter passes Kong's 0 on; pricing treats a 0 with tokens as unknown and prices it.
        _event(43, model="gpt-4o", provider="openai", outcome="success", input_tokens=1300, output_tokens=200,
               reported_cost_usd=0.0, duration_seconds=2.5),
    ),
    Fixture(
        "3.9", "provider_error", "provider 500: `ai.proxy` still logged, every usage metric 0",
        "3.9.3 `serialize-analytics.lua` (runs whatever the status); `observability.lua` (`metrics_get` "
        "defaults to 0)",
        _event(44, model="gpt-4o", provider="openai", outcome="provider_error", reported_cost_usd=0.0,
               duration_seconds=0.231),
    ),
    Fixture(
        "3.9", "provider_rate_limited", "provider 429 passed through",
        "3.9.3 `serialize-analytics.lua`; `kong/pdk/log.lua` (`ctx.buffered_status`)",
        _event(45, model="gpt-4o", provider="openai", outcome="rate_limited", reported_cost_usd=0.0,
               duration_seconds=0.09),
    ),
    Fixture(
        "3.9", "prompt_guard_block",
        "ai-prompt-guard refused the prompt: provider never resolved (`UNSPECIFIED`), the guard leaves no trace",
        "3.9.3 `kong/plugins/ai-prompt-guard/filters/guard-prompt.lua` (`bad_request`), "
        "`kong/llm/plugin/shared-filters/parse-request.lua` (model from the body, provider `UNSPECIFIED`), "
        "`serialize-analytics.lua`; no spec asserts this log",
        # Nothing in the entry says a guard answered: a 400 from Kong reads as the caller's error.
        # The provider was never resolved: counted as a gap.
        _event(46, model="gpt-4o", provider="unknown", outcome="client_error", reported_cost_usd=0.0,
               duration_seconds=0.001, gaps=("no_provider",)),
    ),
    Fixture(
        "3.9", "request_transformer_only", "ai-request-transformer alone: `request_model` is `UNSPECIFIED`",
        "3.9.3 `spec/03-plugins/39-ai-request-transformer/02-integration_spec.lua` `_EXPECTED_CHAT_STATS`",
        _event(47, model="gpt-3.5-turbo-0613", provider="openai", outcome="success", input_tokens=25,
               output_tokens=12, reported_cost_usd=0.00037, duration_seconds=0.64),
    ),
    Fixture(
        "3.9", "request_transformer_and_proxy", "transformer and proxy in one request: the proxied call is the event",
        "3.9.3 `kong/plugins/prometheus/exporter.lua` (`ai_metrics` keyed by use case: proxy, "
        "ai-request-transformer, ai-response-transformer)",
        _event(48, model="gpt-3.5-turbo", provider="openai", outcome="success", input_tokens=25, output_tokens=12,
               reported_cost_usd=0.00037, duration_seconds=1.834),
    ),
    # ---- master
    Fixture(
        "master-3.10.0-dev", "success", "Gemini chat on the open-source development line",
        "master 22246ef2 `kong/llm/plugin/shared-filters/serialize-analytics.lua`",
        _event(51, model="gemini-1.5-flash", provider="gemini", outcome="success", input_tokens=60, output_tokens=40,
               reported_cost_usd=0.0000165, duration_seconds=1.1),
    ),
    # ---- Enterprise 3.10+
    Fixture(
        "3.10-ee", "sanitizer", "AI PII Sanitizer masked an email and a phone number (`ai.sanitizer`)",
        "audit-log reference: AI PII Sanitizer logs (new in 3.10) and the example entry",
        _event(61, model="claude-sonnet-4", provider="anthropic", outcome="success", input_tokens=410,
               output_tokens=150, reported_cost_usd=0.00348, duration_seconds=3.0,
               guardrails=(_guard("sanitizer", "input", "masked"),),
               sensitive_entities={"email": 1, "phone_number": 1}),
    ),
    Fixture(
        "3.11-ee", "cached_and_reasoning_tokens", "usage details: 1024 cached input, 256 reasoning tokens",
        "audit-log reference: `usage.prompt_tokens_details`, `usage.completion_tokens_details` (new in 3.11)",
        _event(71, model="o3-mini", provider="openai", outcome="success", input_tokens=2048, output_tokens=700,
               cached_input_tokens=1024, reasoning_tokens=256, reported_cost_usd=0.0042416, duration_seconds=6.1),
    ),
    Fixture(
        "3.11-ee", "aws_guardrails_masked", "AWS Guardrails masked the prompt and passed the answer",
        "audit-log reference: AI AWS Guardrails logs (new in 3.11), `input_masked` / `output_masked`",
        _event(72, model="gpt-4o", provider="openai", outcome="success", input_tokens=300, output_tokens=120,
               reported_cost_usd=0.00195, duration_seconds=2.04,
               guardrails=(_guard("aws-guardrails", "input", "masked"), _guard("aws-guardrails", "output", "passed"))),
    ),
    Fixture(
        "3.11-ee", "aws_guardrails_block", "AWS Guardrails blocked the prompt before the provider was called",
        "audit-log reference: AI AWS Guardrails logs, `input_block_reason`",
        # No llm_latency: the provider was never called; the whole request took 140 ms.
        _event(73, model="gpt-4o", provider="openai", outcome="guardrail_blocked", reported_cost_usd=0.0,
               duration_seconds=0.14, guardrails=(_guard("aws-guardrails", "input", "blocked"),)),
    ),
    Fixture(
        "3.11-ee", "image_generation",
        "image generation: `input_tokens` / `output_tokens` instead of prompt/completion",
        "audit-log reference: `usage.input_tokens`, `usage.output_tokens` and their details (new in 3.11)",
        # No route type or known path: the operation stays "other", counted as a gap.
        _event(74, model="gpt-image-1", provider="openai", operation="other", outcome="success", input_tokens=50,
               output_tokens=4160, reported_cost_usd=0.16665, duration_seconds=9.2, gaps=("unknown_operation",)),
    ),
    Fixture(
        "3.12-ee", "streaming_ttft", "stream with `request_mode: stream` and `time_to_first_token`",
        "audit-log reference: `usage.time_to_first_token`, `meta.request_mode` (new in 3.12)",
        _event(81, model="gpt-4o", provider="openai", outcome="success", streaming=True, input_tokens=640,
               output_tokens=300, reported_cost_usd=0.0046, duration_seconds=3.105, ttft_seconds=0.42),
    ),
    Fixture(
        "3.12-ee", "semantic_cache_hit", "semantic cache hit under `ai.proxy.cache`",
        "audit-log reference: AI Semantic Cache logs and the note on omitted latencies",
        _event(82, model="gpt-4o", provider="openai", outcome="success", cache_hit=True, input_tokens=14,
               output_tokens=21, reported_cost_usd=0.0, duration_seconds=0.07),
    ),
    Fixture(
        "3.12-ee", "gcp_model_armor_block", "GCP Model Armor blocked the prompt",
        "audit-log reference: AI GCP Model Armor logs (new in 3.12)",
        _event(83, model="gemini-2.0-flash", provider="gemini", outcome="guardrail_blocked", reported_cost_usd=0.0,
               duration_seconds=0.095, guardrails=(_guard("gcp-model-armor", "input", "blocked"),)),
    ),
    Fixture(
        "3.13-ee", "lakera_block", "Lakera Guard blocked a prompt attack (`ai.proxy.lakera-guard`)",
        "audit-log reference: AI Lakera Guard logs (new in 3.13)",
        _event(91, model="gpt-4o", provider="openai", outcome="guardrail_blocked", reported_cost_usd=0.0,
               duration_seconds=0.06, guardrails=(_guard("lakera-guard", "input", "blocked"),)),
    ),
    Fixture(
        "3.13-ee", "lakera_passed", "Lakera Guard inspected prompt and answer and let both pass",
        "audit-log reference: AI Lakera Guard logs (empty block reasons when allowed)",
        _event(92, model="gpt-4o", provider="openai", outcome="success", input_tokens=90, output_tokens=70,
               reported_cost_usd=0.000925, duration_seconds=1.75,
               guardrails=(_guard("lakera-guard", "input", "passed"), _guard("lakera-guard", "output", "passed"))),
    ),
    Fixture(
        "3.14-ee", "input_only_guard_and_output_block",
        "Lakera in `mode: INPUT` passed the prompt; AI Custom Guardrail blocked the answer after the provider ran",
        "audit-log reference: `mode`, `*_block_source`, `guards_triggered_count` (new in 3.14), AI Custom "
        "Guardrail logs",
        # The provider answered (tokens, cost, latency are real); Kong refused to pass the answer on.
        _event(101, model="gpt-4o", provider="openai", outcome="guardrail_blocked", input_tokens=200,
               output_tokens=80, reported_cost_usd=0.0013, duration_seconds=2.09,
               guardrails=(_guard("lakera-guard", "input", "passed"), _guard("custom-guardrail", "input", "passed"),
                           _guard("custom-guardrail", "output", "blocked"))),
    ),
    Fixture(
        "3.14-ee", "azure_content_safety_block", "Azure Content Safety blocked hateful input (`mode: INPUT`)",
        "audit-log reference: AI Azure Content Safety logs (`ai.proxy.azure-content-safety`, `ai.audit`)",
        _event(102, model="gpt-4o", provider="azure", outcome="guardrail_blocked", reported_cost_usd=0.0,
               duration_seconds=0.12, guardrails=(_guard("azure-content-safety", "input", "blocked"),)),
    ),
)
