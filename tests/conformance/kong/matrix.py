"""The Kong support matrix as data: which log field, in which Kong releases, becomes which event
field and which metric. The tests check every row against the fixtures; `support_doc` renders it
into docs/support-kong.md, so the page and the tests cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass

from contract import catalog

OLD = ("3.7", "pre-3.8-25610e98", "3.8")  # ai["ai-proxy"]
PROXY = ("3.9", "master-3.10.0-dev", "3.10-ee", "3.11-ee", "3.12-ee", "3.13-ee", "3.14-ee")  # ai.proxy
EVERY = ("3.6", *OLD, *PROXY)


def _tokens(kind: str) -> str:
    return f'`{catalog.TOKENS.name}{{type="{kind}"}}`'


_MODEL = f"label `model` on `{catalog.REQUESTS.name}` and every per-model metric"
_PROVIDER = f"label `provider` on `{catalog.REQUESTS.name}`, `{catalog.COST.name}`, …"
_INPUT = f"{_tokens('input')}, `{catalog.PROMPT_TOKENS.name}`"
_OUTPUT = _tokens("output")
_COST = f"`{catalog.COST.name}` (a reported 0 beside tokens is priced from the spec's table)"
_DURATION = f"`{catalog.REQUEST_DURATION.name}`"
_OUTCOME = f"label `outcome` on `{catalog.REQUESTS.name}` and `{catalog.REQUEST_DURATION.name}`"
_GUARD = f"`{catalog.GUARDRAIL_EVALUATIONS.name}{{guardrail, stage, result}}`"
_ATTRIBUTION = "labels `team`, `app` through the spec's attribution rules"


@dataclass(frozen=True)
class Row:
    log_field: str  # the path in Kong's log entry, dots between keys
    releases: tuple[str, ...]  # release keys (releases.RELEASES) that log it
    event_field: str
    metric: str
    rule: str = ""  # how the adapter reads it, where that is not a plain copy


ROWS: tuple[Row, ...] = (
    Row("request.id", EVERY, "id", f'`{catalog.EXPORTER_EVENTS.name}{{result="duplicate"}}` on a resend'),
    Row("started_at", EVERY, "timestamp", "event time", "milliseconds → seconds"),
    Row("ai.meta.request_model", ("3.6",), "model", _MODEL),
    Row("ai.ai-proxy.meta.request_model", OLD, "model", _MODEL),
    Row("ai.ai-proxy-advanced.meta.request_model", ("3.8",), "model", _MODEL),
    Row("ai.ai-request-transformer.meta.request_model", ("3.7",), "model", _MODEL,
        "used when no proxy section is logged"),
    Row("ai.proxy.meta.request_model", PROXY, "model", _MODEL, "`UNSPECIFIED` counts as absent"),
    Row("ai.ai-request-transformer.meta.response_model", ("3.9",), "model", _MODEL,
        "when `request_model` is absent or `UNSPECIFIED`"),
    Row("ai.meta.provider_name", ("3.6",), "provider", _PROVIDER, "lower case"),
    Row("ai.ai-proxy.meta.provider_name", OLD, "provider", _PROVIDER, "lower case"),
    Row("ai.proxy.meta.provider_name", PROXY, "provider", _PROVIDER, "lower case; `UNSPECIFIED` → `unknown`"),
    Row("ai.usage.prompt_tokens", ("3.6",), "input_tokens", _INPUT),
    Row("ai.ai-proxy.usage.prompt_token", ("3.7",), "input_tokens", _INPUT, "3.7's singular name"),
    Row("ai.ai-request-transformer.usage.prompt_token", ("3.7",), "input_tokens", _INPUT),
    Row("ai.ai-proxy.usage.prompt_tokens", ("pre-3.8-25610e98", "3.8"), "input_tokens", _INPUT),
    Row("ai.ai-proxy-advanced.usage.prompt_tokens", ("3.8",), "input_tokens", _INPUT),
    Row("ai.proxy.usage.prompt_tokens", PROXY, "input_tokens", _INPUT),
    Row("ai.ai-request-transformer.usage.prompt_tokens", ("3.9",), "input_tokens", _INPUT),
    Row("ai.proxy.usage.input_tokens", ("3.11-ee",), "input_tokens", _INPUT, "when `prompt_tokens` is absent"),
    Row("ai.usage.completion_tokens", ("3.6",), "output_tokens", _OUTPUT),
    Row("ai.ai-proxy.usage.completion_token", ("3.7",), "output_tokens", _OUTPUT, "3.7's singular name"),
    Row("ai.ai-proxy.usage.completion_tokens", ("pre-3.8-25610e98", "3.8"), "output_tokens", _OUTPUT),
    Row("ai.proxy.usage.completion_tokens", PROXY, "output_tokens", _OUTPUT),
    Row("ai.ai-request-transformer.usage.completion_token", ("3.7",), "output_tokens", _OUTPUT),
    Row("ai.ai-request-transformer.usage.completion_tokens", ("3.9",), "output_tokens", _OUTPUT),
    Row("ai.proxy.usage.output_tokens", ("3.11-ee",), "output_tokens", _OUTPUT, "when `completion_tokens` is absent"),
    Row("ai.proxy.usage.prompt_tokens_details.cached_tokens", ("3.11-ee", "3.12-ee"), "cached_input_tokens",
        f"{_tokens('cached_input')}; priced at the cached rate", "at most the input tokens"),
    Row("ai.proxy.usage.completion_tokens_details.reasoning_tokens", ("3.11-ee", "3.12-ee"), "reasoning_tokens",
        _tokens("reasoning"), "at most the output tokens"),
    Row("ai.ai-proxy.usage.cost_request", ("pre-3.8-25610e98",), "reported_cost_usd", _COST),
    Row("ai.ai-proxy.usage.cost", ("3.8",), "reported_cost_usd", _COST),
    Row("ai.ai-proxy-advanced.usage.cost", ("3.8",), "reported_cost_usd", _COST),
    Row("ai.proxy.usage.cost", PROXY, "reported_cost_usd", _COST),
    Row("ai.ai-request-transformer.usage.cost", ("3.9",), "reported_cost_usd", _COST),
    Row("ai.ai-proxy.meta.llm_latency", ("3.8",), "duration_seconds", _DURATION,
        "milliseconds → seconds; not for streams"),
    Row("ai.proxy.meta.llm_latency", PROXY, "duration_seconds", _DURATION,
        "milliseconds → seconds; not for streams (3.9 stops it at the upstream's headers)"),
    Row("ai.ai-request-transformer.meta.llm_latency", ("3.9",), "duration_seconds", _DURATION,
        "milliseconds → seconds"),
    Row("latencies.request", EVERY, "duration_seconds", _DURATION,
        "for streams, and where `llm_latency` is absent (before 3.8, cache hits, blocked requests)"),
    Row("ai.proxy.usage.time_to_first_token", ("3.12-ee",), "ttft_seconds",
        f"`{catalog.TIME_TO_FIRST_TOKEN.name}`", "milliseconds → seconds; successful requests only"),
    Row("ai.proxy.meta.request_mode", ("3.12-ee", "3.13-ee", "3.14-ee"), "streaming", "none (event field only)",
        "`stream`"),
    Row("response.headers.content-type", EVERY, "streaming", "none (event field only)",
        "`text/event-stream` where `request_mode` is not logged"),
    Row("ai.ai-proxy.cache.cache_status", ("3.8",), "cache_hit",
        f'`{catalog.REQUESTS.name}{{cache="hit"}}`, `{catalog.CACHE_SAVED.name}`', "`Hit`, any case"),
    Row("ai.proxy.cache.cache_status", ("3.12-ee",), "cache_hit",
        f'`{catalog.REQUESTS.name}{{cache="hit"}}`, `{catalog.CACHE_SAVED.name}`', "`Hit`, any case"),
    Row("response.status", EVERY, "outcome", _OUTCOME, "below 400 success; see the outcome rules"),
    Row("upstream_status", EVERY, "outcome", _OUTCOME,
        "an integer behind buffered proxying, nginx's string for streams; the last try counts"),
    Row("request.uri", EVERY, "operation", "label `operation`", "path patterns; `upstream_uri` next"),
    Row("upstream_uri", EVERY, "operation", "label `operation`", "the provider path ai-proxy chose"),
    Row("ai.sanitizer.pii_sanitized", ("3.10-ee",), "guardrails", _GUARD, "`sanitizer` input: masked when > 0"),
    Row("ai.sanitizer.sanitized_items.entity_type", ("3.10-ee",), "sensitive_entities",
        f"`{catalog.SENSITIVE_ENTITIES.name}{{entity}}`", "folded to a closed set; `original` is never read"),
    Row("ai.proxy.aws-guardrails.input_block_reason", ("3.11-ee",), "guardrails", _GUARD,
        "non-empty → blocked, empty → passed"),
    Row("ai.proxy.aws-guardrails.input_masked", ("3.11-ee",), "guardrails", _GUARD, "true → masked"),
    Row("ai.proxy.aws-guardrails.output_block_reason", ("3.11-ee",), "guardrails", _GUARD,
        "non-empty → blocked, empty → passed"),
    Row("ai.proxy.gcp-model-armor.input_block_reason", ("3.12-ee",), "guardrails", _GUARD,
        "non-empty → blocked, empty → passed"),
    Row("ai.proxy.lakera-guard.input_block_reason", ("3.13-ee", "3.14-ee"), "guardrails", _GUARD,
        "non-empty → blocked, empty → passed"),
    Row("ai.proxy.lakera-guard.output_block_reason", ("3.13-ee",), "guardrails", _GUARD,
        "non-empty → blocked, empty → passed"),
    Row("ai.proxy.lakera-guard.mode", ("3.14-ee",), "guardrails", _GUARD,
        "`INPUT` / `OUTPUT`: only that stage was evaluated"),
    Row("ai.proxy.custom-guardrail.output_block_reason", ("3.14-ee",), "guardrails", _GUARD,
        "non-empty → blocked, empty → passed"),
    Row("ai.proxy.azure-content-safety.input_block_reason", ("3.14-ee",), "guardrails", _GUARD,
        "non-empty → blocked, empty → passed"),
    Row("consumer.username", EVERY, "attributes", _ATTRIBUTION, "copied only when the spec reads it"),
    Row("request.headers.x-data-classification", EVERY, "attributes",
        f"classification → `{catalog.POLICY_VIOLATIONS.name}`", "copied only when the spec reads it"),
)

# Fields Kong logs that the adapter does not read, and why. Each is a known gap, not a guess.
NOT_READ: tuple[tuple[str, str], ...] = (
    ("`usage.time_per_token`", "derived from `llm_latency` and the output tokens; no metric needs it"),
    ("`usage.total_tokens`", "the sum of input and output, which the metrics already carry"),
    ("`usage.prompt_tokens_details.audio_tokens`, `completion_tokens_details.{audio,accepted_prediction,"
     "rejected_prediction}_tokens`, `input_tokens_details`, `output_tokens_details`",
     "no token type in the metric contract for them; they stay inside `input` / `output`"),
    ("`meta.plugin_id`, `meta.azure_api_version` and other provider extras", "configuration, not traffic"),
    ("`cache.fetch_latency`, `cache.embeddings_*`, `cache.vector_db`",
     "no metric for semantic-cache internals; a hit is counted"),
    ("`<guard>.input_processing_latency`, `output_processing_latency`",
     "the guardrail metric has no latency; they only show that a stage ran"),
    ("`<guard>.*_block_source`, `*_block_consumer_id`, `guards_triggered_count`, `guardrails_id`, "
     "`template_id`, `lakera_project_id`, `*_request_uuid`, `*_block_detail`",
     "identifying or per-request detail; a consumer id must never become a label"),
    ("`<guard>.input_faulty_prompt`, `output_faulty_response`, `sanitized_items[].original`, `payload.*`",
     "prompt and response text: never read"),
    ("`ai.sanitizer.*_block_source` (3.14)", "a sanitizer block is not told apart from another guard's yet"),
    ("`ai.audit.azure_content_safety`", "per-category thresholds; the block itself is read"),
    ("`ai.compressor.*`, `ai.proxy.rag-inject.*`, `ai.proxy.ai-llm-as-judge.*`, `ai.mcp.*`, `ai.a2a.*`",
     "no metric in the contract for them yet"),
    ("a second LLM section in one entry (ai-request-transformer or ai-response-transformer beside the proxy)",
     "one entry is one event: the proxied call is counted, the transformer's own tokens and cost are not"),
)
