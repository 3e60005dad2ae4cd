"""Properties every adapter keeps, whatever it is sent: it answers a GatewayEvent or a Rejection
and never raises; an event holds no negative, NaN or infinite number and only the attributes
asked for; a rejection never repeats a value from the record."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import catalog
from contract.fields import ATTRIBUTE_FIELDS
from contract.fields import FORMATS as RECORD_FORMATS
from exporter.adapters import build_adapter
from exporter.adapters._common import entity_name
from exporter.batch import split_body
from exporter.event import GatewayEvent, Rejection
from tests.conformance.kong.fixtures import FIXTURES_BY_RELEASE
from tests.conformance.litellm import golden
from tests.conformance.litellm.releases import RELEASES
from tests.paths import KONG_FIXTURE, LITELLM_FIXTURE

SENTINEL = "Sentinel-Value-7f3a"  # planted in records; must never come back in a reason

EVENT = {
    "id": "e-1", "timestamp": 1790000000.0, "team": "search", "app": "search-api", "classification": "internal",
    "model": "gpt-4o", "provider": "openai", "operation": "chat", "outcome": "success", "cache_hit": False,
    "streaming": True, "input_tokens": 10, "output_tokens": 5, "cached_input_tokens": 2, "reasoning_tokens": 1,
    "cost_usd": 0.01, "cache_saved_usd": 0.0, "duration_seconds": 1.5, "ttft_seconds": 0.2,
    "guardrails": [{"name": "presidio-pii", "stage": "input", "result": "masked"}],
    "sensitive_entities": {"EMAIL_ADDRESS": 2},
}


def _lines(path: Any) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


SAMPLES = {
    # The documented shapes and the real proxy's records, each pinned release.
    "litellm": _lines(LITELLM_FIXTURE) + [r for release in RELEASES for r in _lines(golden.path(release))],
    # Every Kong release's shape too (tests/conformance/kong), so mutations reach each one's fields.
    "kong": _lines(KONG_FIXTURE) + [f.load() for f in FIXTURES_BY_RELEASE if isinstance(f.expected, GatewayEvent)],
    "events": [EVENT],
}

# Every attribute path a spec may name, templates filled in with keys the records use.
_FILLED = {
    "metadata.spend_logs_metadata.<key>": "metadata.spend_logs_metadata.cost_center",
    "metadata.requester_metadata.<key>": "metadata.requester_metadata.data_classification",
    "tag.<key>": "tag.data-classification",
    "request.headers.<name>": "request.headers.x-data-classification",
}
PATHS = {
    fmt: frozenset(_FILLED.get(p, p) for p in paths)
    for fmt, paths in ATTRIBUTE_FIELDS.items() if fmt in RECORD_FORMATS
}
ADAPTERS = {fmt: build_adapter(fmt, PATHS[fmt]) for fmt in PATHS}

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["nan", "inf", "-inf", "-1", "1e400", "0", "429", "stream", "success", "Hit", SENTINEL])
)
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> bytes:
    """A sample record with a few fields deleted or replaced by random JSON values."""
    record = copy.deepcopy(draw(st.sampled_from(SAMPLES[fmt])))
    paths = list(_paths(record))
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=6)):
        parent: Any = record
        for key in path[:-1]:
            try:
                parent = parent[key]
            except (KeyError, IndexError, TypeError):
                break
        else:
            key = path[-1]
            # An earlier change may have replaced an ancestor with another shape.
            if isinstance(parent, dict) or (isinstance(parent, list) and isinstance(key, int) and key < len(parent)):
                if draw(st.booleans()) and isinstance(parent, dict):
                    parent.pop(key, None)
                else:
                    parent[key] = draw(json_values)
    return json.dumps(record).encode()


_ENTITY = re.compile(r"[a-z0-9_]{1,40}")


def check(fmt: str, result: object) -> None:
    assert type(result) in (GatewayEvent, Rejection)
    if isinstance(result, Rejection):
        assert isinstance(result.reason, str) and result.reason
        assert SENTINEL not in result.reason
        assert "internal error" not in result.reason  # a bug in the adapter, not bad input
        return
    assert isinstance(result, GatewayEvent)
    for field in ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"):
        value = getattr(result, field)
        assert type(value) is int and value >= 0, field
    assert result.cached_input_tokens <= result.input_tokens
    assert result.reasoning_tokens <= result.output_tokens
    for field in ("reported_cost_usd", "reported_cache_saved_usd", "duration_seconds", "ttft_seconds"):
        value = getattr(result, field)
        assert value is None or (type(value) is float and math.isfinite(value) and value >= 0), field
    assert type(result.timestamp) is float and math.isfinite(result.timestamp) and result.timestamp >= 0
    assert result.outcome in catalog.OUTCOMES
    assert isinstance(result.model, str) and result.model
    assert isinstance(result.provider, str) and result.provider
    assert isinstance(result.operation, str) and result.operation
    assert result.id is None or (isinstance(result.id, str) and result.id)
    assert type(result.cache_hit) is bool and type(result.streaming) is bool
    for g in result.guardrails:
        assert isinstance(g.name, str) and g.name
        assert g.stage in catalog.GUARDRAIL_STAGES and g.result in catalog.GUARDRAIL_RESULTS
    for entity, count in result.sensitive_entities.items():
        assert _ENTITY.fullmatch(entity) and type(count) is int and count > 0
    for path, value in result.attributes.items():
        assert path in PATHS[fmt] and isinstance(value, str) and value
    # What could not be read: closed sets only, each reason once.
    assert set(result.gaps) <= set(catalog.RECORD_GAP_REASONS) and len(set(result.gaps)) == len(result.gaps)
    assert result.error is None or (result.error in catalog.ERROR_KINDS and result.outcome != "success")
    assert result.rate_limit_source in (None, *catalog.RATE_LIMIT_SOURCES)
    assert result.rate_limit_type in (None, *catalog.RATE_LIMIT_TYPES)
    assert (result.rate_limit_source is None) == (result.rate_limit_type is None)
    assert len(result.guardrail_seconds) in (0, len(result.guardrails))
    for spent in result.guardrail_seconds:
        assert spent is None or (type(spent) is float and math.isfinite(spent) and spent >= 0)


FORMATS = st.sampled_from(sorted(ADAPTERS))
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(FORMATS, st.binary(max_size=400))
def test_random_bytes(fmt: str, data: bytes) -> None:
    check(fmt, ADAPTERS[fmt](data))


@EXAMPLES
@given(FORMATS, json_values)
def test_random_json_values(fmt: str, value: Any) -> None:
    check(fmt, ADAPTERS[fmt](json.dumps(value).encode()))


@EXAMPLES
@given(FORMATS, st.data())
def test_sample_records_with_fields_deleted_or_replaced(fmt: str, data: st.DataObject) -> None:
    check(fmt, ADAPTERS[fmt](data.draw(mutated(fmt))))


@EXAMPLES
@given(FORMATS, st.data())
def test_truncated_and_corrupted_records(fmt: str, data: st.DataObject) -> None:
    raw = bytearray(json.dumps(data.draw(st.sampled_from(SAMPLES[fmt]))).encode())
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        raw[data.draw(st.integers(min_value=0, max_value=len(raw) - 1))] = data.draw(st.integers(0, 255))
    check(fmt, ADAPTERS[fmt](bytes(raw[:cut])))


def test_unmutated_samples_are_events() -> None:
    for fmt, samples in SAMPLES.items():
        for sample in samples:
            result = ADAPTERS[fmt](json.dumps(sample).encode())
            assert isinstance(result, GatewayEvent)
            check(fmt, result)


NDJSON = st.lists(json_values, max_size=4).map(lambda values: "\n".join(map(json.dumps, values)).encode())


@EXAMPLES
@given(st.binary(max_size=300) | NDJSON)
def test_split_body_never_raises(body: bytes) -> None:
    records = split_body(body)
    assert records is None or all(isinstance(r, bytes) for r in records)


@pytest.mark.parametrize(("raw", "name"), [
    ("EMAIL_ADDRESS", "email"), ("EMAIL", "email"), ("US_SSN", "ssn"), ("Phone Number", "phone_number"),
    ("MEDICAL-LICENSE", "medical"), ("CREDIT_DEBIT_CARD_NUMBER", "credit_card"), ("US_ITIN", "national_id"),
    ("", "unknown"), ("SOMETHING_NEW", "unknown"),
    # Data where a type name belongs never becomes a label value.
    ("jane.canary@leak.example", "unknown"), ("10.1.2.3", "unknown"), ("enduser-canary-42", "unknown"),
])
def test_entity_type_names(raw: str, name: str) -> None:
    assert entity_name(raw) == name
