"""gatewatch's own event format: the adapter, the committed JSON Schema and the doc's examples."""

from __future__ import annotations

import json
import re

import msgspec
import pytest

from contract import catalog
from exporter.adapters import build_adapter
from exporter.adapters.events import NormalizedEvent, schema_json
from exporter.event import GatewayEvent, GuardrailEvaluation, Rejection
from tests.paths import ROOT

DOC = ROOT / "docs" / "events.md"
SCHEMA = ROOT / "docs" / "event-schema.json"
PATHS = ("team", "app", "classification")


def adapt(event: dict, paths: tuple[str, ...] = PATHS) -> GatewayEvent | Rejection:
    return build_adapter("events", paths)(json.dumps(event).encode())


def doc_examples() -> list[dict]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


MINIMAL = {"timestamp": 1790000002.0, "model": "gpt-4o-mini", "provider": "openai", "outcome": "rate_limited"}


def test_committed_schema_is_what_the_struct_produces() -> None:
    assert SCHEMA.read_bytes() == schema_json(), (
        "docs/event-schema.json is stale: regenerate it with "
        "python -c 'import sys; from exporter.adapters.events import schema_json; "
        "sys.stdout.buffer.write(schema_json())' > docs/event-schema.json"
    )


def test_the_doc_describes_every_field() -> None:
    text = DOC.read_text()
    for field in NormalizedEvent.__struct_fields__:
        assert f"| `{field}` |" in text, f"docs/events.md has no row for {field}"


def test_the_doc_examples_are_accepted() -> None:
    full, minimal, response = doc_examples()
    assert adapt(full) == GatewayEvent(
        id="req-7f3a9c", timestamp=1790000002.0,
        attributes={"team": "support", "app": "zendesk-assist", "classification": "confidential"},
        model="claude-sonnet-4", provider="anthropic", operation="chat", outcome="success", streaming=True,
        input_tokens=2048, output_tokens=512, cached_input_tokens=1024, reported_cost_usd=0.013824,
        duration_seconds=6.8, ttft_seconds=0.9,
        guardrails=(GuardrailEvaluation(name="presidio-pii", stage="input", result="masked"),),
        sensitive_entities={"email": 2},
    )
    assert minimal == MINIMAL
    assert adapt(minimal) == GatewayEvent(
        id=None, timestamp=1790000002.0, attributes={}, model="gpt-4o-mini", provider="openai",
        operation="chat", outcome="rate_limited",
    )
    assert set(response) == {"accepted", "rejected", "duplicates", "errors"}


def test_attributes_only_when_asked_and_not_empty() -> None:
    event = adapt(MINIMAL | {"team": "search", "app": "", "classification": None}, ("team", "app"))
    assert isinstance(event, GatewayEvent)
    assert event.attributes == {"team": "search"}


def test_unknown_fields_are_ignored_and_values_normalised() -> None:
    event = adapt(MINIMAL | {
        "provider": "OpenAI", "future_field": {"nested": [1, 2]},
        "input_tokens": 10, "cached_input_tokens": 50, "output_tokens": 3, "reasoning_tokens": 7,
        "sensitive_entities": {"EMAIL_ADDRESS": 1, "email": 2, "PHONE": 0},
    })
    assert isinstance(event, GatewayEvent)
    assert event.provider == "openai"
    assert (event.cached_input_tokens, event.reasoning_tokens) == (10, 3)
    assert event.sensitive_entities == {"email": 3}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"outcome": "kaboom-value"}, f"Expected one of {', '.join(catalog.OUTCOMES)} - at `$.outcome`"),
        ({"guardrails": [{"name": "g", "stage": "middle", "result": "passed"}]},
         "Expected one of input, output - at `$.guardrails[0].stage`"),
        ({"guardrails": [{"name": "g", "stage": "input", "result": "meh"}]},
         f"Expected one of {', '.join(catalog.GUARDRAIL_RESULTS)} - at `$.guardrails[0].result`"),
        ({"input_tokens": -1}, "Expected `int` >= 0 - at `$.input_tokens`"),
        ({"input_tokens": "12"}, "Expected `int`, got `str` - at `$.input_tokens`"),
        ({"cost_usd": -0.5}, "Expected `float` >= 0.0 - at `$.cost_usd`"),
        ({"sensitive_entities": {"my-secret-key": -1}}, "Expected `int` >= 0 - at `$.sensitive_entities[...]`"),
        ({"model": ""}, "Expected `str` of length >= 1 - at `$.model`"),
    ],
)
def test_rejections_say_what_and_where_never_the_value(change: dict, reason: str) -> None:
    assert adapt(MINIMAL | change) == Rejection(reason)


def test_no_nan_or_infinity_gets_in() -> None:
    adapter = build_adapter("events", PATHS)
    head = json.dumps(MINIMAL)[:-1].encode()
    assert adapter(head + b', "ttft_seconds": 1e999}') == Rejection("Number out of range - at `$.ttft_seconds`")
    assert adapter(head + b', "cost_usd": NaN}') == Rejection("JSON is malformed: invalid character (byte 113)")
    assert adapter(head + b', "cost_usd": "Infinity"}') == Rejection(
        "Expected `float | null`, got `str` - at `$.cost_usd`")


def test_required_fields() -> None:
    for field in ("timestamp", "model", "provider", "outcome"):
        event = dict(MINIMAL)
        del event[field]
        assert adapt(event) == Rejection(f"Object missing required field `{field}`")


def test_schema_enumerations_follow_the_catalog() -> None:
    defs = msgspec.json.decode(schema_json())["$defs"]
    assert tuple(defs["NormalizedEvent"]["properties"]["outcome"]["enum"]) == tuple(sorted(catalog.OUTCOMES))
    assert set(defs["GuardrailResult"]["properties"]["result"]["enum"]) == set(catalog.GUARDRAIL_RESULTS)
