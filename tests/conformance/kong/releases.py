"""Kong releases the Kong adapter is verified against, and where each one's log shape comes from.

Kong does not run in this suite. Each release's shape is read from Kong's own repository (the
serializer that writes the ``ai`` section and the integration specs that assert it) or, for
releases whose source is not public, from Kong's audit-log reference. One home for these facts:
the fixtures' provenance, the support matrix and its tests all read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

KONG_REPO = "github.com/Kong/kong"
KONG_DOCS = (
    "github.com/Kong/developer.konghq.com `app/ai-gateway/v1/ai-audit-log-reference.md` at ab33511a "
    "(its `new_in` markers date each field)"
)


@dataclass(frozen=True)
class Release:
    key: str  # folder under tests/fixtures/kong/releases/
    label: str
    short: str  # column-width name
    provenance: str
    serializer: str  # the Kong file that writes the `ai` section, and the shape it writes


RELEASES = (
    Release(
        "3.6", "3.6", "3.6",
        f"{KONG_REPO} tags 3.6.0 (de77c294), 3.6.1 (4e006aa8)",
        "`kong/llm/drivers/shared.lua` `post_request`: `ai.usage.*` and `ai.meta.*` straight under `ai`, "
        "written only for status 200 or a response ai-proxy could not parse (`kong/plugins/ai-proxy/handler.lua`). "
        "No spec asserts the log (`02-openai_integration_spec.lua`: \"TODO TEST THE LOG FILE\").",
    ),
    Release(
        "3.7", "3.7", "3.7",
        f"{KONG_REPO} tags 3.7.0 (f16a64f1), 3.7.1 (e89feb5b)",
        "`kong/llm/drivers/shared.lua` `post_request`: `ai.<plugin name>.{meta,usage}` with `prompt_token` / "
        "`completion_token` (singular), asserted by `spec/03-plugins/38-ai-proxy/02-openai_integration_spec.lua` and "
        "`39-ai-request-transformer/02-integration_spec.lua` (`_EXPECTED_CHAT_STATS`).",
    ),
    Release(
        "pre-3.8-25610e98", "3.8 development line (never tagged)", "3.8-dev",
        f"{KONG_REPO} commit 25610e98 (2024-06-03); renamed to `cost` by cd85513f before 3.8.0",
        "`kong/llm/drivers/shared.lua` `COST_REQUEST = \"cost_request\"`, cache `{cache_type, db_name}`; "
        "its `02-openai_integration_spec.lua` expects `usage.cost_request`. No tagged release logs `cost_request`.",
    ),
    Release(
        "3.8", "3.8", "3.8",
        f"{KONG_REPO} tags 3.8.0 (c983384f), 3.8.1 (91d7603b)",
        "`kong/llm/drivers/shared.lua` `post_request`: `ai.<plugin name>.{meta,usage,cache}` with `prompt_tokens`, "
        "`llm_latency`, `time_per_token`, `cost` (only when `input_cost`/`output_cost` are configured), asserted by "
        "`02-openai_integration_spec.lua`; `kong/llm/proxy/handler.lua` writes nothing for a non-200 upstream and "
        "logs a stream at its last chunk; `kong/plugins/prometheus/exporter.lua` names the cache fields "
        "(`cache_status`, `vector_db`, `embeddings_*`, `fetch_latency`, `embeddings_latency`).",
    ),
    Release(
        "3.9", "3.9", "3.9",
        f"{KONG_REPO} tags 3.9.0 (0118b3c2) to 3.9.3 (a643428b), the last open-source release",
        "`kong/llm/plugin/shared-filters/serialize-analytics.lua` and `kong/llm/plugin/observability.lua` "
        "(`NAMESPACE = \"proxy\"`): `ai.proxy.{meta,usage}` for ai-proxy and ai-proxy-advanced alike, every metric "
        "defaulting to 0 (so `cost: 0` when no price is configured), `UNSPECIFIED` for a model or provider never "
        "resolved (`kong/llm/plugin/ctx.lua`); `llm_latency` ends when the upstream's headers arrive "
        "(`parse-json-response.lua`). Asserted by `38-ai-proxy/09-streaming_integration_spec.lua` "
        "(`log_message.ai.proxy`) and `39-ai-request-transformer/02-integration_spec.lua`.",
    ),
    Release(
        "master-3.10.0-dev", "master (3.10.0 development line)", "master",
        f"{KONG_REPO} master at 22246ef2 (2026-07-01), `kong/meta.lua` 3.10.0, never tagged",
        "Same `serialize-analytics.lua` and `observability.lua` as 3.9.3 (no diff).",
    ),
    Release(
        "3.10-ee", "3.10 (Enterprise)", "3.10 EE", KONG_DOCS,
        "Source not public. Adds `ai.sanitizer` (AI PII Sanitizer).",
    ),
    Release(
        "3.11-ee", "3.11 (Enterprise)", "3.11 EE", KONG_DOCS,
        "Source not public. Adds `usage.prompt_tokens_details` / `completion_tokens_details` and "
        "`ai.proxy.aws-guardrails` (with `input_masked` / `output_masked`).",
    ),
    Release(
        "3.12-ee", "3.12 (Enterprise)", "3.12 EE", KONG_DOCS,
        "Source not public. Adds `usage.time_to_first_token`, `meta.request_mode` and `ai.proxy.gcp-model-armor`; "
        "a cache hit omits `llm_latency` and `time_per_token`.",
    ),
    Release(
        "3.13-ee", "3.13 (Enterprise)", "3.13 EE", KONG_DOCS,
        "Source not public. Adds `ai.proxy.lakera-guard`.",
    ),
    Release(
        "3.14-ee", "3.14 (Enterprise)", "3.14 EE", KONG_DOCS,
        "Source not public. Adds `mode`, `*_block_source`, `guards_triggered_count` to every guard and "
        "`ai.proxy.custom-guardrail`; `ai.proxy.azure-content-safety` is documented without a first version.",
    ),
)

RELEASE_KEYS = tuple(r.key for r in RELEASES)
