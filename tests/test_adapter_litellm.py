"""LiteLLM StandardLoggingPayload adapter: every fixture record, field by field, and the mapping
rules one at a time."""

from __future__ import annotations

import json

import msgspec
import pytest

from exporter.adapters import build_adapter
from exporter.event import GatewayEvent, GuardrailEvaluation, Rejection
from tests.paths import LITELLM_FIXTURE

PATHS = (
    "metadata.user_api_key_team_alias",
    "metadata.user_api_key_team_id",
    "metadata.user_api_key_alias",
    "tag.data-classification",
    "metadata.requester_metadata.data_classification",
    "metadata.spend_logs_metadata.cost_center",
)
FLOATS = ("reported_cost_usd", "reported_cache_saved_usd", "duration_seconds", "ttft_seconds")


def rounded(event: GatewayEvent | Rejection) -> GatewayEvent | Rejection:
    """Floats to the microsecond: 1790000002.41 - 1790000000.0 is 2.4100000858 in binary."""
    if isinstance(event, Rejection):
        return event
    return msgspec.structs.replace(
        event, **{f: round(v, 6) for f in FLOATS if (v := getattr(event, f)) is not None}
    )


def records() -> list[dict]:
    return [json.loads(line) for line in LITELLM_FIXTURE.read_bytes().splitlines() if line.strip()]


def search(alias: str = "svc-search") -> dict[str, str]:
    return {
        "metadata.user_api_key_team_alias": "search",
        "metadata.user_api_key_team_id": "team-1",
        "metadata.user_api_key_alias": alias,
    }


SUPPORT = {
    "metadata.user_api_key_team_alias": "support-bot",
    "metadata.user_api_key_team_id": "team-2",
    "metadata.user_api_key_alias": "zendesk-assist",
}
ANALYTICS = {
    "metadata.user_api_key_team_alias": "analytics",
    "metadata.user_api_key_team_id": "team-3",
    "metadata.user_api_key_alias": "nightly-batch",
}

# One per fixture line, in order, worked out by hand from the record.
EXPECTED = [
    # 1. streaming success; TTFT = completionStartTime - startTime = 0.38 s
    GatewayEvent(
        id="chatcmpl-000001", timestamp=1790000000.0, attributes=search(), model="gpt-4o",
        provider="openai", operation="chat", outcome="success", streaming=True,
        input_tokens=812, output_tokens=164, reported_cost_usd=0.00367,
        duration_seconds=2.41, ttft_seconds=0.38,
    ),
    # 2. provider 429: rate_limited (llm_provider is set, so not the proxy's own limiter)
    GatewayEvent(
        id="chatcmpl-000002", timestamp=1790000001.0, attributes=search(), model="gpt-4o",
        provider="openai", operation="chat", outcome="rate_limited", reported_cost_usd=0.0,
        duration_seconds=0.21, rate_limit_source="provider", rate_limit_type="unknown",
    ),
    # 3. presidio masked an email and a phone number; the request went on
    GatewayEvent(
        id="chatcmpl-000003", timestamp=1790000002.0, attributes=SUPPORT, model="claude-sonnet-4",
        provider="anthropic", operation="chat", outcome="success", streaming=True,
        input_tokens=2048, output_tokens=512, reported_cost_usd=0.013824,
        duration_seconds=6.8, ttft_seconds=0.9,
        guardrails=(GuardrailEvaluation(name="presidio-pii", stage="input", result="masked"),),
        sensitive_entities={"email": 1, "phone_number": 1}, guardrail_seconds=(0.012,),
    ),
    # 4. prompt injection blocked before the model was called
    GatewayEvent(
        id="chatcmpl-000004", timestamp=1790000003.0, attributes=SUPPORT, model="claude-sonnet-4",
        provider="anthropic", operation="chat", outcome="guardrail_blocked", reported_cost_usd=0.0,
        duration_seconds=0.05,
        guardrails=(GuardrailEvaluation(name="lakera-prompt-injection", stage="input", result="blocked"),),
        guardrail_seconds=(0.034,),
    ),
    # 5. cache hit; saved_cache_cost 0.0 is "not reported", not "saved nothing"
    GatewayEvent(
        id="chatcmpl-000005", timestamp=1790000004.0, attributes=ANALYTICS, model="gpt-4o-mini",
        provider="openai", operation="chat", outcome="success", cache_hit=True,
        input_tokens=350, output_tokens=90, reported_cost_usd=0.0, duration_seconds=0.02,
    ),
    # 6. embedding with no team and no key alias: no attributes at all
    GatewayEvent(
        id="chatcmpl-000006", timestamp=1790000005.0, attributes={}, model="text-embedding-3-small",
        provider="openai", operation="embeddings", outcome="success",
        input_tokens=1200, reported_cost_usd=0.000024, duration_seconds=0.3,
    ),
    # 7. provider timeout (408)
    GatewayEvent(
        id="chatcmpl-000007", timestamp=1790000006.0, attributes=ANALYTICS, model="gemini-2.5-pro",
        provider="vertex_ai", operation="chat", outcome="timeout", reported_cost_usd=0.0,
        duration_seconds=30.0,
    ),
    # 8. reasoning model, cached input, and a guardrail that did not answer on a success: fail-open
    GatewayEvent(
        id="chatcmpl-000008", timestamp=1790000007.0, attributes=search(), model="o3",
        provider="openai", operation="chat", outcome="success", streaming=True,
        input_tokens=1500, output_tokens=2400, cached_input_tokens=1024, reasoning_tokens=1900,
        reported_cost_usd=0.0222, duration_seconds=21.0, ttft_seconds=14.2,
        guardrails=(GuardrailEvaluation(name="lakera-prompt-injection", stage="input", result="failed_open"),),
        guardrail_seconds=(5.0,),
    ),
    # 9. old payload: no status_fields, no guardrail_information
    GatewayEvent(
        id="chatcmpl-000009", timestamp=1790000008.0, attributes=SUPPORT, model="gpt-4o",
        provider="azure", operation="chat", outcome="success",
        input_tokens=640, output_tokens=200, reported_cost_usd=0.0036, duration_seconds=3.3,
    ),
    # 10. provider 503
    GatewayEvent(
        id="chatcmpl-000010", timestamp=1790000009.0, attributes=search(), model="gpt-4o",
        provider="openai", operation="chat", outcome="provider_error", reported_cost_usd=0.0,
        duration_seconds=1.2,
    ),
]


def adapt(record: dict, paths: tuple[str, ...] = PATHS) -> GatewayEvent | Rejection:
    return rounded(build_adapter("litellm", paths)(json.dumps(record).encode()))


def test_the_table_covers_every_fixture_record() -> None:
    assert len(records()) == len(EXPECTED)


@pytest.mark.parametrize("line", range(len(EXPECTED)), ids=lambda i: f"record{i + 1}")
def test_fixture_record(line: int) -> None:
    raw = [x for x in LITELLM_FIXTURE.read_bytes().splitlines() if x.strip()][line]
    assert rounded(build_adapter("litellm", PATHS)(raw)) == EXPECTED[line]


def base() -> dict:
    return records()[0]


def failure(code: object, error_class: str, provider: str | None = "openai", **extra: object) -> dict:
    record = base() | {"status": "failure"} | extra
    record["error_information"] = {"error_code": code, "error_class": error_class, "llm_provider": provider}
    return record


@pytest.mark.parametrize(
    ("record", "outcome"),
    [
        (failure("429", "RateLimitError"), "rate_limited"),
        (failure(429, "RateLimitError", provider=""), "quota_exceeded"),  # the proxy's own limiter
        (failure("400", "BudgetExceededError", provider=""), "quota_exceeded"),
        (failure("504", "APIError"), "timeout"),
        (failure(None, "litellm.Timeout"), "timeout"),
        (failure("500", "InternalServerError"), "provider_error"),
        (failure("500", "InternalServerError", provider=""), "gateway_error"),
        (failure("502.0", "BadGateway"), "gateway_error"),  # not a code we can read: no usable info
        (failure("404", "NotFoundError"), "client_error"),
        (failure("400", "GuardrailRaisedException", provider=""), "guardrail_blocked"),
        (base() | {"status": "failure", "error_information": None}, "gateway_error"),
        (base() | {"status": None}, "gateway_error"),
        # Older versions raise a plain HTTPException from the proxy when a guardrail blocks.
        (
            failure("400", "HTTPException", provider="", status_fields={"guardrail_status": "guardrail_intervened"}),
            "guardrail_blocked",
        ),
        # A guardrail masked PII, then the provider refused the request: not a guardrail block.
        (
            failure("429", "RateLimitError", status_fields={"guardrail_status": "guardrail_intervened"}),
            "rate_limited",
        ),
    ],
)
def test_outcome(record: dict, outcome: str) -> None:
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.outcome == outcome


@pytest.mark.parametrize(
    ("call_type", "operation"),
    [
        ("completion", "chat"), ("acompletion", "chat"), ("aresponses", "chat"),
        ("atext_completion", "text_completion"), ("embedding", "embeddings"),
        ("aimage_generation", "image_generation"), ("atranscription", "audio_transcription"),
        ("speech", "speech"), ("arerank", "rerank"), ("pass_through_endpoint", "other"), (None, "other"),
    ],
)
def test_operation(call_type: str | None, operation: str) -> None:
    event = adapt(base() | {"call_type": call_type})
    assert isinstance(event, GatewayEvent)
    assert event.operation == operation


def guardrail(status: str, mode: object = "pre_call", **extra: object) -> dict:
    return {"guardrail_name": "g", "guardrail_mode": mode, "guardrail_status": status} | extra


@pytest.mark.parametrize(
    ("entry", "succeeded", "stage", "result"),
    [
        (guardrail("success"), True, "input", "passed"),
        (guardrail("guardrail_intervened", "post_call"), True, "output", "flagged"),
        (guardrail("guardrail_intervened", masked_entity_count={"EMAIL": 0}), True, "input", "flagged"),
        (guardrail("guardrail_intervened", masked_entity_count={"EMAIL": 2}), True, "input", "masked"),
        (guardrail("guardrail_intervened", guardrail_action="BLOCKED"), True, "input", "blocked"),
        (guardrail("guardrail_intervened"), False, "input", "blocked"),
        (guardrail("guardrail_failed_to_respond", "during_call"), True, "input", "failed_open"),
        (guardrail("guardrail_failed_to_respond", "logging_only"), False, "output", "failed_closed"),
        (guardrail("not_run"), True, "input", "not_run"),
        (guardrail("some_future_status"), True, "input", "not_run"),
        (guardrail("success", ["post_call", "pre_call"]), True, "output", "passed"),
        (guardrail("success", {"tags": {"x": "post_call"}, "default": "post_call"}), True, "output", "passed"),
        (guardrail("success", None), True, "input", "passed"),
    ],
)
def test_guardrail_result(entry: dict, succeeded: bool, stage: str, result: str) -> None:
    record = base() | {"guardrail_information": [entry]}
    if not succeeded:
        record = record | {"status": "failure", "error_information": None}
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.guardrails == (GuardrailEvaluation(name="g", stage=stage, result=result),)


def test_guardrail_information_as_a_single_dict_and_entities_summed_across_guardrails() -> None:
    one = adapt(base() | {"guardrail_information": guardrail("success")})
    assert isinstance(one, GatewayEvent)
    assert one.guardrails == (GuardrailEvaluation(name="g", stage="input", result="passed"),)

    both = adapt(base() | {"guardrail_information": [
        guardrail("guardrail_intervened", masked_entity_count={"EMAIL_ADDRESS": 1, "US_SSN": 2}),
        None,
        guardrail("guardrail_intervened", masked_entity_count={"email": 3, "Credit-Card": 1, "PHONE": 0}),
    ]})
    assert isinstance(both, GatewayEvent)
    assert both.sensitive_entities == {"email": 4, "ssn": 2, "credit_card": 1}
    assert [g.result for g in both.guardrails] == ["masked", "masked"]


def test_applied_guardrails_without_information_are_not_listed() -> None:
    event = adapt(base() | {"metadata": base()["metadata"] | {"applied_guardrails": ["presidio-pii"]}})
    assert isinstance(event, GatewayEvent)
    assert event.guardrails == ()


def test_attributes_come_only_from_requested_paths() -> None:
    record = base()
    record["request_tags"] = ["prod", "data-classification: confidential", "data-classification:public", "x:"]
    record["metadata"] = record["metadata"] | {
        "spend_logs_metadata": {"cost_center": "CC-1040", "note": "not asked for"},
        "requester_metadata": {"data_classification": "restricted", "user_email": "a@b.example"},
    }
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.attributes == search() | {
        "tag.data-classification": "confidential",  # first tag wins
        "metadata.requester_metadata.data_classification": "restricted",
        "metadata.spend_logs_metadata.cost_center": "CC-1040",
    }
    only_team = adapt(record, ("metadata.user_api_key_team_alias",))
    assert isinstance(only_team, GatewayEvent)
    assert only_team.attributes == {"metadata.user_api_key_team_alias": "search"}
    assert adapt(record, ()).attributes == {}  # type: ignore[union-attr]


def test_attribute_sources_of_another_shape_are_ignored_not_fatal() -> None:
    record = base()
    record["request_tags"] = "data-classification:public"
    record["metadata"] = record["metadata"] | {
        "user_api_key_team_alias": 7, "user_api_key_alias": "",
        "spend_logs_metadata": ["cost_center"], "requester_metadata": "restricted",
    }
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.attributes == {"metadata.user_api_key_team_id": "team-1"}


@pytest.mark.parametrize(("status", "ttft"), [("success", 0.5), ("failure", None)])
def test_time_to_first_token_only_when_a_first_token_came(status: str, ttft: float | None) -> None:
    # LiteLLM puts the end time in completionStartTime when a stream fails before its first chunk.
    record = base() | {"stream": True, "status": status, "startTime": 100.0, "completionStartTime": 100.5,
                       "endTime": 130.0}
    if status == "failure":
        record["error_information"] = {"error_code": "504", "error_class": "APIError", "llm_provider": "openai"}
        record["completionStartTime"] = 130.0
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert (event.duration_seconds, event.ttft_seconds) == (30.0, ttft)


def test_token_details_larger_than_the_totals_are_clamped() -> None:
    record = base()
    record["hidden_params"]["usage_object"]["prompt_tokens_details"]["cached_tokens"] = 5000
    record["hidden_params"]["usage_object"]["completion_tokens_details"]["reasoning_tokens"] = 999
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert (event.cached_input_tokens, event.reasoning_tokens) == (812, 164)


def test_drifted_types_that_still_mean_the_same_are_accepted() -> None:
    event = adapt(base() | {"id": 42, "prompt_tokens": "812", "completion_tokens": 164.0, "response_cost": "0.5"})
    assert isinstance(event, GatewayEvent)
    assert (event.id, event.input_tokens, event.output_tokens, event.reported_cost_usd) == ("42", 812, 164, 0.5)


def test_missing_pieces() -> None:
    record = base()
    for key in ("model_group", "custom_llm_provider", "endTime", "hidden_params", "metadata", "cache_hit", "stream"):
        del record[key]
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert (event.model, event.provider, event.duration_seconds, event.ttft_seconds) == (
        "openai/gpt-4o", "unknown", None, None)
    no_start = adapt(base() | {"startTime": None})
    assert isinstance(no_start, GatewayEvent)
    assert (no_start.timestamp, no_start.duration_seconds) == (1790000002.41, None)
    assert adapt(base() | {"endTime": 1789999999.0}).duration_seconds is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"model_group": None, "model": ""}, "no model: expected model_group or model"),
        ({"startTime": None, "endTime": None}, "no start time: expected unix seconds at `$.startTime`"),
        ({"prompt_tokens": -5}, "Expected `int` >= 0 - at `$.prompt_tokens`"),
        ({"completion_tokens": "many"}, "Expected `int | null`, got `str` - at `$.completion_tokens`"),
        ({"response_cost": -0.01}, "Expected `float` >= 0.0 - at `$.response_cost`"),
        ({"response_cost": "NaN"}, "Expected `float` >= 0.0 - at `$.response_cost`"),
        ({"status_fields": "secret-looking-value"}, "Expected `object | null`, got `str` - at `$.status_fields`"),
    ],
)
def test_rejections_say_what_and_where(change: dict, reason: str) -> None:
    assert adapt(base() | change) == Rejection(reason)


def test_rejections_never_echo_record_values() -> None:
    secret = "sk-live-0123456789-do-not-log"
    record = base() | {"prompt_tokens": secret}
    record["guardrail_information"] = [{"guardrail_name": "g", "masked_entity_count": {secret: secret}}]
    event = build_adapter("litellm", PATHS)(json.dumps(record).encode())
    assert isinstance(event, Rejection)
    assert secret not in event.reason
    assert build_adapter("litellm", PATHS)(b'{"id": "\xff' + secret.encode() + b'"}') == Rejection(
        "JSON is malformed: a string is not valid UTF-8")
    assert build_adapter("litellm", PATHS)(b"[" * 100_000) == Rejection("Expected `object`, got `array`")
    deep = build_adapter("litellm", PATHS)(b'{"metadata": {"user_api_key_alias": ' + b'{"a":' * 100_000 + b"}")
    assert isinstance(deep, Rejection)
    assert deep.reason in ("JSON is malformed: nested too deeply", "Input data was truncated")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown record format 'envoy'"):
        build_adapter("envoy", ())


# -- shapes the real proxy logs (conformance suite, tests/conformance/litellm) ---------------------


def proxy_failure(code: object, error_class: str, provider: str = "openai", **info: object) -> dict:
    record = base() | {"status": "failure"}
    record["error_information"] = {"error_code": code, "error_class": error_class, "llm_provider": provider,
                                   "error_rate_limit_category": None, "error_rate_limit_type": None,
                                   "normalized_error": None} | info
    return record


def test_cached_and_reasoning_tokens_come_from_metadata_usage_object() -> None:
    record = base() | {"hidden_params": {"usage_object": None}, "prompt_tokens": 2048, "completion_tokens": 900}
    record["metadata"] = record["metadata"] | {"usage_object": {
        "prompt_tokens_details": {"cached_tokens": 1536}, "completion_tokens_details": {"reasoning_tokens": 700}}}
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert (event.cached_input_tokens, event.reasoning_tokens) == (1536, 700)


@pytest.mark.parametrize(
    ("record", "outcome", "error", "source", "limit"),
    [
        # The proxy's own limiter names the model's provider, yet it is the gateway's refusal.
        (proxy_failure("429", "ProxyRateLimitError", error_rate_limit_category="litellm_rate_limit",
                       error_rate_limit_type="requests", normalized_error="429_RATE_LIMIT_EXCEEDED"),
         "quota_exceeded", "rate_limit_exceeded", "gateway", "requests"),
        (proxy_failure("422", "BudgetExceededError", error_rate_limit_category="litellm_rate_limit",
                       error_rate_limit_type="budget", normalized_error="429_BUDGET_EXCEEDED"),
         "quota_exceeded", "budget_exceeded", "gateway", "budget"),
        (proxy_failure("429", "RateLimitError", error_rate_limit_category="vendor_rate_limit",
                       normalized_error="429_RATE_LIMIT_EXCEEDED"),
         "rate_limited", "rate_limit_exceeded", "provider", "unknown"),
        # Provider error codes are strings; the status is in normalized_error.
        (proxy_failure("context_length_exceeded", "ContextWindowExceededError",
                       normalized_error="400_CONTEXT_WINDOW_EXCEEDED"),
         "client_error", "context_window_exceeded", None, None),
        (proxy_failure("invalid_value", "BadRequestError", normalized_error="400_INVALID_REQUEST"),
         "client_error", "invalid_request", None, None),
        # A stream the provider cut: no status code, a connection error from the provider.
        (proxy_failure("", "APIConnectionError", provider="", normalized_error="500_PROVIDER_CONNECTION_ERROR"),
         "provider_error", "provider_connection_error", None, None),
        (proxy_failure("503", "ServiceUnavailableError", normalized_error="503_PROVIDER_OVERLOADED"),
         "provider_error", "provider_overloaded", None, None),
        (proxy_failure("408", "Timeout", normalized_error="408_UPSTREAM_TIMEOUT"),
         "timeout", "upstream_timeout", None, None),
    ],
)
def test_outcome_of_real_proxy_failures(record: dict, outcome: str, error: str, source: str | None,
                                        limit: str | None) -> None:
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert (event.outcome, event.error, event.rate_limit_source, event.rate_limit_type) == (
        outcome, error, source, limit)
    assert event.gaps == ()


def test_masking_logged_as_success_with_entities_is_masked() -> None:
    event = adapt(base() | {"guardrail_information": [
        guardrail("success", masked_entity_count={"email": 1}, duration=0.000115)]})
    assert isinstance(event, GatewayEvent)
    assert event.guardrails == (GuardrailEvaluation(name="g", stage="input", result="masked"),)
    assert event.sensitive_entities == {"email": 1}
    assert event.guardrail_seconds == (0.000115,)


def test_guardrail_flagged_is_flagged() -> None:
    event = adapt(base() | {"guardrail_information": [guardrail("guardrail_flagged", "logging_only")]})
    assert isinstance(event, GatewayEvent)
    assert event.guardrails == (GuardrailEvaluation(name="g", stage="output", result="flagged"),)
    assert event.guardrail_seconds == (None,)


@pytest.mark.parametrize(
    ("change", "gaps"),
    [
        ({"guardrail_information": [guardrail("some_future_status")]}, ("unknown_guardrail_status",)),
        ({"call_type": "a_new_endpoint"}, ("unknown_operation",)),
        ({"custom_llm_provider": None}, ("no_provider",)),
        ({"endTime": None}, ("no_duration",)),
        ({"status": "failure", "error_information": {"error_code": "weird", "error_class": "X"}},
         ("status_unreadable",)),
        ({"status": "failure", "error_information": {"error_code": "400", "normalized_error": "400_SOMETHING_NEW"}},
         ("unknown_error_kind",)),
    ],
)
def test_what_cannot_be_read_is_reported_as_a_gap(change: dict, gaps: tuple[str, ...]) -> None:
    event = adapt(base() | change)
    assert isinstance(event, GatewayEvent)
    assert event.gaps == gaps


def test_a_non_string_attribute_is_a_gap() -> None:
    record = base()
    record["metadata"] = record["metadata"] | {"user_api_key_team_alias": 7}
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.gaps == ("attribute_not_string",)


def test_a_block_the_summary_status_misses_is_still_a_block() -> None:
    # 1.83: HTTPException 403 from the proxy, status_fields "success", the guardrail's entry intervened.
    record = proxy_failure("403", "HTTPException", provider="") | {
        "status_fields": {"guardrail_status": "success"},
        "guardrail_information": [guardrail("success"), guardrail("guardrail_intervened")]}
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.outcome == "guardrail_blocked"
    assert [g.result for g in event.guardrails] == ["passed", "blocked"]
