"""Kong AI Gateway log adapter: every fixture record, field by field, then the mapping rules and
the attribute-path filter."""

from __future__ import annotations

import json

import msgspec
import pytest

from exporter.adapters import build_adapter
from exporter.event import GatewayEvent, GuardrailEvaluation, Rejection
from tests.conformance.kong.fixtures import NO_AI_SECTION
from tests.paths import KONG_FIXTURE

PATHS = ("consumer.username", "consumer_group", "request.headers.x-data-classification")
FLOATS = ("reported_cost_usd", "duration_seconds", "ttft_seconds")


def rounded(event: GatewayEvent | Rejection) -> GatewayEvent | Rejection:
    if isinstance(event, Rejection):
        return event
    return msgspec.structs.replace(
        event, **{f: round(v, 6) for f in FLOATS if (v := getattr(event, f)) is not None}
    )


def lines() -> list[bytes]:
    return [line for line in KONG_FIXTURE.read_bytes().splitlines() if line.strip()]


# One per fixture line, in order, worked out by hand. Kong counts milliseconds.
EXPECTED = [
    # 1. llm_latency 2670 ms -> 2.67 s; time_to_first_token 631 ms -> 0.631 s
    GatewayEvent(
        id="kreq-000001", timestamp=1790000000.0, attributes={"consumer.username": "search-svc"},
        model="gpt-4o", provider="openai", operation="chat", outcome="success",
        input_tokens=14, output_tokens=21, reported_cost_usd=0.00037, duration_seconds=2.67, ttft_seconds=0.631,
    ),
    # 2. legacy ai["ai-proxy"] and usage.cost_request
    GatewayEvent(
        id="kreq-000002", timestamp=1790000001.0, attributes={"consumer.username": "search-svc"},
        model="gpt-4o", provider="openai", operation="chat", outcome="success",
        input_tokens=120, output_tokens=60, reported_cost_usd=0.0009, duration_seconds=1.2,
    ),
    # 3. semantic-cache hit: no llm_latency, so latencies.request 5 ms
    GatewayEvent(
        id="kreq-000003", timestamp=1790000002.0, attributes={"consumer.username": "support-bot"},
        model="gpt-4o-mini", provider="openai", operation="chat", outcome="success", cache_hit=True,
        input_tokens=300, output_tokens=80, reported_cost_usd=0.0, duration_seconds=0.005,
    ),
    # 4. streaming with 0 completion tokens; a stream lasts Kong's whole request, latencies.request 4100 ms
    GatewayEvent(
        id="kreq-000004", timestamp=1790000003.0, attributes={"consumer.username": "support-bot"},
        model="claude-sonnet-4", provider="anthropic", operation="chat", outcome="success", streaming=True,
        input_tokens=900, output_tokens=0, reported_cost_usd=0.0027, duration_seconds=4.1, ttft_seconds=0.8,
    ),
    # 5. the sanitizer masked two emails
    GatewayEvent(
        id="kreq-000005", timestamp=1790000004.0, attributes={"consumer.username": "support-bot"},
        model="claude-sonnet-4", provider="anthropic", operation="chat", outcome="success",
        input_tokens=410, output_tokens=150, reported_cost_usd=0.00348, duration_seconds=3.0,
        guardrails=(GuardrailEvaluation(name="sanitizer", stage="input", result="masked"),),
        sensitive_entities={"email": 2},
    ),
    # 6. lakera-guard blocked the prompt: HTTP 400, guardrail_blocked rather than client_error
    GatewayEvent(
        id="kreq-000006", timestamp=1790000005.0, attributes={"consumer.username": "intern-app"},
        model="gpt-4o", provider="openai", operation="chat", outcome="guardrail_blocked",
        reported_cost_usd=0.0, duration_seconds=0.04,
        guardrails=(GuardrailEvaluation(name="lakera-guard", stage="input", result="blocked"),),
    ),
]


def test_the_table_covers_every_fixture_record() -> None:
    assert len(lines()) == len(EXPECTED)


@pytest.mark.parametrize("line", range(len(EXPECTED)), ids=lambda i: f"record{i + 1}")
def test_fixture_record(line: int) -> None:
    assert rounded(build_adapter("kong", PATHS)(lines()[line])) == EXPECTED[line]


def base() -> dict:
    return json.loads(lines()[0])


def adapt(record: dict, paths: tuple[str, ...] = PATHS) -> GatewayEvent | Rejection:
    return rounded(build_adapter("kong", paths)(json.dumps(record).encode()))


def with_status(status: int, upstream: object) -> dict:
    return base() | {"response": {"status": status}, "upstream_status": upstream}


@pytest.mark.parametrize(
    ("record", "outcome"),
    [
        (with_status(429, 429), "rate_limited"),
        (with_status(429, None), "quota_exceeded"),  # Kong's own ai-rate-limiting answered
        (with_status(504, 504), "timeout"),
        (with_status(408, None), "timeout"),
        (with_status(502, 502), "provider_error"),
        (with_status(502, "504, 502"), "provider_error"),  # nginx lists every try
        (with_status(500, "502, 200"), "gateway_error"),  # the last try answered fine
        (with_status(503, None), "gateway_error"),
        (with_status(401, None), "client_error"),
        (with_status(499, None), "client_error"),
        (with_status(301, None), "success"),
        (base() | {"response": None, "upstream_status": "429"}, "rate_limited"),
    ],
)
def test_outcome(record: dict, outcome: str) -> None:
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.outcome == outcome


@pytest.mark.parametrize(
    ("uri", "meta", "operation"),
    [
        ("/v1/embeddings", {}, "embeddings"),
        ("/openai/v1/chat/completions?x=1", {}, "chat"),
        ("/anthropic/v1/messages", {}, "chat"),
        ("/v1/responses", {}, "chat"),
        ("/v1/completions", {}, "text_completion"),
        ("/llm", {}, "chat"),  # request_mode says an LLM route answered
        ("/llm", {"request_mode": None}, "other"),
        ("/llm", {"route_type": "llm/v1/embeddings"}, "embeddings"),
        ("/v1/chat/completions", {"route_type": "llm/v1/completions"}, "text_completion"),
        ("/v1/chat/completions", {"route_type": "preserve"}, "chat"),
    ],
)
def test_operation(uri: str, meta: dict, operation: str) -> None:
    record = base()
    record["request"]["uri"] = uri
    record["ai"]["proxy"]["meta"] |= meta
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.operation == operation


def test_guardrail_plugins_under_ai_or_under_the_proxy_section() -> None:
    record = base()
    record["ai"]["aws-guardrails"] = {"input_processing_latency": 20, "output_processing_latency": 31,
                                      "output_block_reason": "denied topic"}
    record["ai"]["proxy"]["lakera-guard"] = {"input_processing_latency": 12, "input_block_reason": None}
    record["ai"]["sanitizer"] = {"pii_identified": 3, "pii_sanitized": 0}
    record["response"]["status"] = 200
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.guardrails == (
        GuardrailEvaluation(name="lakera-guard", stage="input", result="passed"),
        GuardrailEvaluation(name="aws-guardrails", stage="input", result="passed"),
        GuardrailEvaluation(name="aws-guardrails", stage="output", result="blocked"),
        GuardrailEvaluation(name="sanitizer", stage="input", result="passed"),
    )
    assert event.sensitive_entities == {"unknown": 3}  # no sanitized_items: counted, type unknown
    assert event.outcome == "success"  # the status said so; the block is still recorded

    record["response"]["status"] = 400
    assert adapt(record).outcome == "guardrail_blocked"  # type: ignore[union-attr]


def test_sanitized_items_are_counted_by_type_and_their_text_never_read() -> None:
    record = base()
    record["ai"]["proxy"]["sanitizer"] = {"pii_identified": 3, "pii_sanitized": 3, "sanitized_items": [
        {"entity_type": "PHONE_NUMBER", "original": "+1 555 0100"},
        {"entity_type": "IBAN_CODE", "original": "DE00"}, {"original": "x"}, None,
    ]}
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.sensitive_entities == {"phone_number": 1, "iban": 1, "unknown": 1}
    assert "555" not in repr(event)


def test_only_requested_headers_and_fields_are_copied() -> None:
    record = base()
    record["request"]["headers"] = {
        "authorization": "Bearer sk-live-secret",
        "x-data-classification": ["confidential", "public"],
        "x-team": "search",
        "cookie": "session=abc",
    }
    record["consumer"]["custom_id"] = "cust-9"
    record["consumer_groups"] = [{"name": "search-team"}, {"name": "other"}]
    asked = (*PATHS, "request.headers.authorization", "request.headers.Cookie", "route.name", "workspace_name")
    event = adapt(record, asked)
    assert isinstance(event, GatewayEvent)
    assert event.attributes == {
        "consumer.username": "search-svc",
        "consumer_group": "search-team",
        "request.headers.x-data-classification": "confidential",  # a repeated header: the first
        "route.name": "llm-chat",
        "workspace_name": "default",
    }
    text = repr(event)
    for secret in ("sk-live-secret", "session=abc", "10.1.0.9", "cust-9"):
        assert secret not in text


def test_every_attribute_field() -> None:
    record = base() | {"consumer_group": {"name": "g1"}}
    record["consumer"]["custom_id"] = "cust-9"
    record["request"]["headers"] = {"x-data-classification": "internal"}
    paths = ("consumer.username", "consumer.id", "consumer.custom_id", "consumer_group", "workspace_name",
             "route.name", "service.name", "request.headers.X-Data-Classification")
    event = adapt(record, paths)
    assert isinstance(event, GatewayEvent)
    assert event.attributes == {
        "consumer.username": "search-svc", "consumer.id": "c-search-svc", "consumer.custom_id": "cust-9",
        "consumer_group": "g1", "workspace_name": "default", "route.name": "llm-chat",
        "service.name": "openai", "request.headers.X-Data-Classification": "internal",
    }
    assert adapt(record, ()).attributes == {}  # type: ignore[union-attr]


def test_cached_and_reasoning_tokens_and_fallbacks() -> None:
    record = base()
    usage = record["ai"]["proxy"]["usage"]
    usage |= {"prompt_tokens_details": {"cached_tokens": 99}, "completion_tokens_details": {"reasoning_tokens": 9}}
    del usage["cost"], usage["time_to_first_token"]
    del record["ai"]["proxy"]["meta"]["request_model"], record["ai"]["proxy"]["meta"]["llm_latency"]
    del record["latencies"], record["ai"]["proxy"]["cache"]
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert (event.cached_input_tokens, event.reasoning_tokens) == (14, 9)  # clamped to the totals
    assert event.model == "gpt-4o-2024-08-06"
    assert (event.reported_cost_usd, event.duration_seconds, event.ttft_seconds, event.cache_hit) == (
        None, None, None, False)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ai": {"prompt-guard": {}}}, NO_AI_SECTION.reason),
        ({"ai": None}, NO_AI_SECTION.reason),
        ({"started_at": None}, "no start time: expected unix milliseconds at `$.started_at`"),
        ({"response": {}, "upstream_status": None},
         "no HTTP status: expected an integer 100-999 at `$.response.status`"),
        ({"response": {"status": "teapot"}}, "Expected `int | null`, got `str` - at `$.response.status`"),
        ({"started_at": -1}, "Expected `float` >= 0.0 - at `$.started_at`"),
    ],
)
def test_rejections_say_what_and_where(change: dict, reason: str) -> None:
    assert adapt(base() | change) == Rejection(reason)


@pytest.mark.parametrize("meta", [{}, {"request_model": "UNSPECIFIED", "response_model": "UNSPECIFIED"}])
def test_no_model_is_a_rejection(meta: dict) -> None:
    record = base()
    record["ai"]["proxy"]["meta"] = {"provider_name": "openai"} | meta
    assert adapt(record) == Rejection(
        "no model: expected ai.proxy.meta.request_model or response_model (`UNSPECIFIED` is none)"
    )


@pytest.mark.parametrize(("status", "upstream", "ttft"), [(200, 200, 0.631), (502, 502, None), (504, 504, None)])
def test_time_to_first_token_only_for_an_answer(status: int, upstream: int, ttft: float | None) -> None:
    # The first record reports time_to_first_token 631 ms; a failed request had no first token.
    event = adapt(with_status(status, upstream))
    assert isinstance(event, GatewayEvent)
    assert event.ttft_seconds == ttft


@pytest.mark.parametrize(
    ("guard", "evaluations"),
    [
        # Masking wins over a block reason: the content went on, masked.
        ({"input_masked": True, "input_block_reason": "PII", "output_masked": False, "output_block_reason": ""},
         (("input", "masked"), ("output", "passed"))),
        ({"mode": "INPUT", "input_block_reason": "", "output_block_reason": ""}, (("input", "passed"),)),
        ({"mode": "OUTPUT", "input_block_reason": "", "output_block_reason": "x"}, (("output", "blocked"),)),
        ({"mode": "BOTH", "input_processing_latency": 3, "output_block_reason": "x"},
         (("input", "passed"), ("output", "blocked"))),
        ({"input_masked": "yes"}, (("input", "passed"),)),  # only a JSON true says masked
        ({"guardrails_id": "gr-1", "mode": "BOTH"}, ()),  # configuration alone: no stage ran
    ],
)
@pytest.mark.parametrize("name", ["lakera-guard", "aws-guardrails", "gcp-model-armor", "azure-content-safety",
                                  "custom-guardrail"])
def test_every_guard_plugin_reads_stage_mode_and_masking(name: str, guard: dict, evaluations: tuple) -> None:
    record = base()
    record["ai"]["proxy"][name] = guard
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.guardrails == tuple(GuardrailEvaluation(name=name, stage=s, result=r) for s, r in evaluations)


@pytest.mark.parametrize(
    ("uri", "upstream_uri", "operation"),
    [
        ("/openai/llm/v1/chat/good", None, "chat"),  # Kong's route paths name the route type
        ("/ai", "/v1/chat/completions", "chat"),  # the provider path ai-proxy chose
        ("/ai", "/v1beta/models/gemini-1.5-flash:generateContent", "chat"),
        ("/ai", "/model/anthropic.claude-3/converse", "chat"),
        ("/ai", "/v1/embeddings", "embeddings"),
        ("/ai", "/v1/completions", "text_completion"),
        ("/v1/embeddings", "/v1/chat/completions", "embeddings"),  # the client's path first
        ("/ai", "/v1/images/generations", "chat"),  # base() has request_mode
    ],
)
def test_operation_from_the_upstream_path(uri: str, upstream_uri: str | None, operation: str) -> None:
    record = base() | {"upstream_uri": upstream_uri}
    record["request"]["uri"] = uri
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.operation == operation


@pytest.mark.parametrize(
    ("request_mode", "content_type", "latencies", "streaming", "duration"),
    [
        ("stream", None, {"request": 2675}, True, 2.675),  # whole request, not llm_latency 2670
        (None, "text/event-stream; charset=utf-8", {"request": 2675}, True, 2.675),
        (None, ["text/event-stream"], {"request": 2675}, True, 2.675),  # a repeated header
        (None, "application/json", {"request": 2675}, False, 2.67),
        ("oneshot", "text/event-stream", {"request": 2675}, False, 2.67),  # request_mode says so
        ("stream", None, None, True, 2.67),  # no whole-request time: the LLM's
    ],
)
def test_streaming_and_its_duration(request_mode: str | None, content_type: object, latencies: dict | None,
                                    streaming: bool, duration: float) -> None:
    record = base() | {"latencies": latencies}
    record["response"]["headers"] = {"content-type": content_type}
    record["ai"]["proxy"]["meta"]["request_mode"] = request_mode
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert (event.streaming, event.duration_seconds) == (streaming, duration)


@pytest.mark.parametrize(
    ("usage", "tokens"),
    [
        ({"prompt_token": 7, "completion_token": 3}, (7, 3)),  # 3.7
        ({"input_tokens": 50, "output_tokens": 4160}, (50, 4160)),  # images and audio, 3.11+
        ({"prompt_tokens": 0, "prompt_token": 9, "completion_tokens": 2, "output_tokens": 8}, (0, 2)),
        ({}, (0, 0)),
    ],
)
def test_token_names_across_releases(usage: dict, tokens: tuple[int, int]) -> None:
    record = base()
    record["ai"]["proxy"]["usage"] = usage
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert (event.input_tokens, event.output_tokens) == tokens


def test_which_section_is_the_request() -> None:
    proxy = base()["ai"]["proxy"]
    transformer = {"meta": {"request_model": "gpt-4", "provider_name": "openai"}, "usage": {"prompt_tokens": 5}}
    cases = [
        ({"proxy": proxy, "ai-request-transformer": transformer}, "gpt-4o", 14, "chat"),
        ({"ai-proxy": proxy, "usage": {"prompt_tokens": 1}, "meta": {"request_model": "m"}}, "gpt-4o", 14, "chat"),
        ({"usage": {"prompt_tokens": 1}, "meta": {"request_model": "m"}}, "m", 1, "chat"),  # 3.6
        ({"ai-response-transformer": transformer}, "gpt-4", 5, "chat"),
    ]
    for ai, model, input_tokens, operation in cases:
        event = adapt(base() | {"ai": ai})
        assert isinstance(event, GatewayEvent)
        assert (event.model, event.input_tokens, event.operation) == (model, input_tokens, operation)


def test_unresolved_provider_is_unknown() -> None:
    record = base()
    record["ai"]["proxy"]["meta"]["provider_name"] = "UNSPECIFIED"
    assert adapt(record).provider == "unknown"  # type: ignore[union-attr]


def _guarded(guard: dict) -> dict:
    record = base()
    record["ai"]["proxy"]["aws-guardrails"] = guard
    return record


def _without_latency() -> dict:
    record = base()
    record["ai"]["proxy"]["meta"].pop("llm_latency", None)
    record.pop("latencies", None)
    return record


def _meta(**changes: object) -> dict:
    record = base()
    record["ai"]["proxy"]["meta"] |= changes
    return record


# What Kong's entry left unreadable is counted as a gap; the request still counts.
@pytest.mark.parametrize(
    ("record", "gaps"),
    [
        (base(), ()),
        (_meta(provider_name="UNSPECIFIED"), ("no_provider",)),
        (_meta(provider_name=None), ("no_provider",)),
        (_meta(request_mode=None) | {"request": base()["request"] | {"uri": "/llm"}}, ("unknown_operation",)),
        (with_status(502, None), ("status_unreadable",)),  # 3.6/3.7 buffering: upstream_status ""
        (with_status(502, 502), ()),
        (with_status(404, None), ()),  # a client error needs no upstream status to be read right
        (_guarded({"mode": "SOMETIMES", "input_block_reason": ""}), ("unknown_guardrail_status",)),
        (_guarded({"input_masked": "yes"}), ("unknown_guardrail_status",)),
        (_guarded({"mode": "BOTH", "input_masked": True}), ()),
        (_without_latency(), ("no_duration",)),
    ],
)
def test_gaps(record: dict, gaps: tuple[str, ...]) -> None:
    event = adapt(record)
    assert isinstance(event, GatewayEvent)
    assert event.gaps == gaps
