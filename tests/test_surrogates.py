"""Lone UTF-16 surrogate escapes: valid JSON that must cost nothing where it is not read.

Unit tests pin the escape rewriting; a property test puts lone surrogates anywhere in the
prompt text of a real LiteLLM sample record (a field the adapter never reads) and demands the
event of the clean record; a field the adapter does read rejects that record only, never its
batch, through a real exporter over HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.adapters import build_adapter
from exporter.batch import split_body
from exporter.event import GatewayEvent, Rejection
from exporter.surrogates import REASON, replace_lone_surrogates
from tests.support.processes import Exporter


@pytest.mark.parametrize(("given_text", "expected"), [
    (rb'"\ud83d"', rb'"\ufdd0"'),  # a lone high surrogate
    (rb'"\uDE00x"', rb'"\ufdd0x"'),  # a lone low surrogate, upper case
    (rb'"\ud83d\ude00"', rb'"\ud83d\ude00"'),  # a valid pair stays
    (rb'"\ud83d\ud83d\ude00"', rb'"\ufdd0\ud83d\ude00"'),  # a high one before a pair
    (rb'"\\ud83d"', rb'"\\ud83d"'),  # an escaped backslash, then plain text
    (rb'"\\\ud83d"', rb'"\\\ufdd0"'),  # an escaped backslash, then a lone surrogate
    (rb'"\u00e9\n"', rb'"\u00e9\n"'),  # other escapes stay
])
def test_only_lone_surrogate_escapes_are_replaced_and_lengths_are_kept(given_text: bytes, expected: bytes) -> None:
    assert replace_lone_surrogates(given_text) == expected
    assert len(replace_lone_surrogates(given_text)) == len(given_text)


def _encoded(record: dict[str, Any], lone: str, where: Callable[[dict[str, Any], str], None]) -> bytes:
    """The record as JSON with a lone surrogate escape written where ``where`` puts a marker."""
    marker = f"MARK{uuid.uuid4().hex}"
    where(record, marker)
    return json.dumps(record).encode().replace(marker.encode(), lone.encode())


def _in_prompt(record: dict[str, Any], marker: str) -> None:
    record["messages"] = [{"role": "user", "content": f"broken emoji {marker} here"}]


def _in_provider(record: dict[str, Any], marker: str) -> None:
    record["custom_llm_provider"] = f"openai{marker}"


_LONE = st.builds(lambda high, n: f"\\u{n:04x}" if high else f"\\u{n:04X}",
                  st.booleans(), st.integers(0xD800, 0xDFFF))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lone=_LONE)
def test_a_lone_surrogate_in_text_never_read_costs_nothing(lone: str, litellm_record: dict[str, Any]) -> None:
    adapter = build_adapter("litellm", ())
    clean = adapter(json.dumps(litellm_record).encode())
    assert type(clean) is GatewayEvent
    body = _encoded(json.loads(json.dumps(litellm_record)), lone, _in_prompt)
    assert adapter(body) == clean
    # ... and inside a batch, where the whole array used to be refused.
    records = split_body(b"[" + body + b"," + json.dumps(litellm_record).encode() + b"]")
    assert records is not None and len(records) == 2
    assert [adapter(r) for r in records] == [clean, clean]


def test_a_lone_surrogate_in_a_field_read_rejects_that_record_only(litellm_record: dict[str, Any]) -> None:
    adapter = build_adapter("litellm", ())
    bad = _encoded(json.loads(json.dumps(litellm_record)), r"\ud83d", _in_provider)
    records = split_body(b"[" + json.dumps(litellm_record).encode() + b"," + bad + b"]")
    assert records is not None
    assert [type(adapter(r)) for r in records] == [GatewayEvent, Rejection]
    assert adapter(records[1]) == Rejection(REASON)
    assert adapter(bad) == Rejection(REASON)  # the same on its own (NDJSON, a tailed line)


@pytest.fixture
def litellm_record(litellm_records: list[dict[str, Any]]) -> dict[str, Any]:
    return json.loads(json.dumps(litellm_records[0]))


def test_a_batch_over_http_keeps_every_record_but_the_one_with_a_broken_field_read(
    exporter_factory: Callable[..., Exporter], litellm_records: list[dict[str, Any]],
) -> None:
    exporter = exporter_factory()
    records = [json.loads(json.dumps(r)) for r in litellm_records[:3]]
    for record in records:
        record["id"] = f"chatcmpl-{uuid.uuid4()}"
    prompt = _encoded(records[0], r"\udead", _in_prompt)
    provider = _encoded(records[1], r"\ud83d", _in_provider)
    body = b"[" + b",".join([prompt, provider, json.dumps(records[2]).encode()]) + b"]"
    status, answer = exporter.post("litellm", body)
    assert status == 202
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert answer["errors"] == [{"index": 1, "reason": REASON}]
