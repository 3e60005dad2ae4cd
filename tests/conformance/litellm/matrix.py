"""The LiteLLM support matrix: which record field becomes which event field and metric, on which
release, verified by which test. Each row names the conformance test that compares its metric
with the real proxy's records (test_conformance.py); test_support_doc.py checks every named test
exists and keeps docs/support-litellm.md equal to ``render()``.

    python -m tests.conformance.litellm.matrix   # rewrites the page; a test fails while it is stale
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.conformance.litellm.releases import RELEASES
from tests.paths import ROOT

SUITE = "tests/conformance/litellm/test_conformance.py"
PAGE = ROOT / "docs" / "support-litellm.md"


@dataclass(frozen=True)
class Row:
    record_field: str
    event_field: str
    metric: str  # a catalog metric, with the label the field feeds
    test: str  # the conformance test that compares it with the proxy's own records
    # Per release: "" (verified on that release) or why it is not (the release lacks the field).
    notes: dict[str, str] = field(default_factory=dict)


ROWS = (
    Row("`prompt_tokens`", "`input_tokens`", '`genai_tokens_total{type="input"}`', "test_tokens_by_type"),
    Row("`completion_tokens`", "`output_tokens`", '`genai_tokens_total{type="output"}`', "test_tokens_by_type"),
    Row("`metadata.usage_object.prompt_tokens_details.cached_tokens`", "`cached_input_tokens`",
        '`genai_tokens_total{type="cached_input"}`', "test_tokens_by_type"),
    Row("`metadata.usage_object.completion_tokens_details.reasoning_tokens`", "`reasoning_tokens`",
        '`genai_tokens_total{type="reasoning"}`', "test_tokens_by_type"),
    Row("`response_cost`", "`reported_cost_usd`", "`genai_cost_usd_total`", "test_cost_and_cache_savings"),
    Row("`cache_hit`, `saved_cache_cost`", "`cache_hit`, `reported_cache_saved_usd`",
        '`genai_cache_saved_usd_total`, `genai_requests_total{cache="hit"}`', "test_cost_and_cache_savings"),
    Row("`status`, `error_information.{error_code, error_class, llm_provider, normalized_error}`", "`outcome`",
        "`genai_requests_total{outcome}`", "test_requests_by_outcome_and_team"),
    Row("`error_information.normalized_error`", "`error`", "`genai_request_errors_total{error}`",
        "test_error_kinds", {"1.83.14": "the release logs no `normalized_error`: no error kind"}),
    Row("`error_information.{error_rate_limit_category, error_rate_limit_type}`",
        "`rate_limit_source`, `rate_limit_type`", "`genai_rate_limited_requests_total{source, limit}`",
        "test_rate_limits",
        {"1.83.14": "no category or type logged: source from a 429 the proxy raised, limit `unknown`"}),
    Row("`guardrail_information[].{guardrail_name, guardrail_mode, guardrail_status}`", "`guardrails`",
        "`genai_guardrail_evaluations_total{guardrail, stage, result}`", "test_guardrail_results_and_entities",
        {"1.83.14": "no logging-only mode in its content filter, so no `guardrail_flagged`"}),
    Row("`guardrail_information[].masked_entity_count`", "`sensitive_entities`",
        "`genai_sensitive_entities_total{entity}`", "test_guardrail_results_and_entities"),
    Row("`guardrail_information[].duration`", "`guardrail_seconds`",
        "`genai_guardrail_seconds_total`, `genai_guardrail_timed_evaluations_total`", "test_guardrail_latency"),
    Row("`startTime`, `endTime`", "`duration_seconds`", "`genai_request_duration_seconds`", "test_request_durations"),
    Row("`completionStartTime` (successful streams only)", "`ttft_seconds`",
        "`genai_time_to_first_token_seconds`", "test_time_to_first_token_only_for_successful_streams"),
    Row("`metadata.user_api_key_team_alias`, `metadata.user_api_key_team_id`, "
        "`metadata.requester_metadata.<key>`", "`attributes`", "`team` label",
        "test_requests_by_outcome_and_team"),
    Row("`metadata.user_api_key_alias`, `request_tags` (`app:<name>`)", "`attributes`", "`app` label", "test_apps",
        {"1.83.14": "the client's tags are not logged (`request_tags` empty): key aliases only"}),
    Row("`model_group` (else `model`), `custom_llm_provider`, `call_type`", "`model`, `provider`, `operation`",
        "`model`, `provider`, `operation` labels", "test_models_providers_operations"),
    Row("`id`", "`id`", '`genai_exporter_events_total{result="duplicate"}`',
        "test_every_record_accepted_and_duplicates_recognised"),
    Row("anything unreadable above", "`gaps`", "`genai_exporter_record_gaps_total{format, reason}`",
        "test_what_could_not_be_read_is_counted"),
)

# Fields deliberately not mapped, and why (rendered under the table).
NOT_MAPPED = (
    ("`model_id`, `api_base`, `hidden_params.model_id` (which deployment served the request)",
     "Not a label. A deployment id is a per-config hash or a name an operator picks per region or key, "
     "so it changes with every config edit and multiplies every series by the deployment count, while "
     "what dashboards and SLOs ask (which model, which provider) is already labelled. An address can "
     "name an internal host. Per-deployment health belongs to the gateway's own metrics and logs."),
    ("`guardrail_information[].{guardrail_response, match_details}`",
     "Never read: they quote the matched text (a blocked phrase, a masked value)."),
    ("`guardrail_information[].{detection_method, risk_score, patterns_checked, guardrail_provider}`",
     "Not mapped yet: vendor-specific scales and vocabularies with no common meaning across "
     "guardrails; the verdict (`result`), the stage and the time spent are what the metrics carry."),
    ("`error_information.{error_budget_entity_type, error_budget_limit, error_budget_spend}`",
     "Not mapped: budgets and spend are computed from `genai_cost_usd_total` against the spec's "
     "budgets, the one source every replica and report agrees on."),
    ("`messages`, `response`, `error_str`, `error_information.error_message`, `end_user`, "
     "`requester_ip_address`, `metadata.user_api_key_user_email`, `metadata.user_api_key_hash`",
     "Text and identifying values: never decoded, never a label."),
)


def render() -> str:
    head = "| record field | event field | metric | " + " | ".join(f"LiteLLM {r}" for r in RELEASES) + " |"
    lines = [
        "# LiteLLM support matrix",
        "",
        "Generated by `python -m tests.conformance.litellm.matrix` from the table the conformance suite "
        f"checks row by row against the real proxy; do not edit. Each cell names the test in `{SUITE}` "
        "that compares the metric with the ground truth computed from the records the proxy posted, "
        "for every batch format of its generic logger (`json_array`, `ndjson`, `single`).",
        "",
        head,
        "|" + "---|" * (3 + len(RELEASES)),
    ]
    for row in ROWS:
        cells = [f"verified: `{row.test}`" if not row.notes.get(r) else f"{row.notes[r]} (`{row.test}`)"
                 for r in RELEASES]
        lines.append(f"| {row.record_field} | {row.event_field} | {row.metric} | " + " | ".join(cells) + " |")
    lines += ["", "## Not mapped, on purpose", ""]
    lines += [f"- {fields}: {why}" for fields, why in NOT_MAPPED]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    PAGE.write_text(render())
