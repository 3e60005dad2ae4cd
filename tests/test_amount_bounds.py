"""A record is counted wholly or not at all, and nothing non-finite or negative is ever exposed.

Hypothesis draws batches of LiteLLM records whose amounts range over everything JSON can carry
(huge integers, 1e308, negative and fractional values, absurd timestamps); the expected totals
are computed here from the spec's bounds, independently of the exporter's code.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import catalog
from contract.spec import load
from exporter import snapshot as snap
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from exporter.recorder_snapshot import decode as decode_recorder
from exporter.state import StateStore
from tests.paths import EXAMPLE_SPEC, LITELLM_FIXTURE

SPEC = load(EXAMPLE_SPEC)
BOUNDS = SPEC.ingest.bounds
NOW = 1_790_000_100.0
TEMPLATE: dict[str, Any] = json.loads(LITELLM_FIXTURE.read_text().splitlines()[0])

tokens = st.one_of(st.integers(0, 5000), st.integers(-10, 10**400), st.just(BOUNDS.max_tokens),
                   st.just(BOUNDS.max_tokens + 1))
costs = st.one_of(st.floats(0, 1), st.floats(allow_nan=False, allow_infinity=False),
                  st.just(1.7e308), st.just(BOUNDS.max_cost_usd), st.integers(-5, 10**30))
starts = st.one_of(st.just(NOW - 10.0), st.floats(-1e300, 1e300, allow_nan=False))
durations = st.one_of(st.floats(0, 30), st.floats(0, 1e300), st.just(BOUNDS.max_duration_seconds + 1))


@st.composite
def records(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A record and whether the spec's bounds admit it (computed from the drawn values)."""
    record = json.loads(json.dumps(TEMPLATE))
    prompt, completion = draw(tokens), draw(tokens)
    cost, start, duration = draw(costs), draw(starts), draw(durations)
    record["prompt_tokens"], record["completion_tokens"] = prompt, completion
    record["total_tokens"] = prompt + completion
    record["response_cost"] = record["hidden_params"]["response_cost"] = cost
    record["startTime"] = start
    record["endTime"] = record["completionStartTime"] = start + duration
    for key in ("usage_object", "model_parameters"):
        record.pop(key, None)
    admitted = (
        0 <= prompt <= BOUNDS.max_tokens and 0 <= completion <= BOUNDS.max_tokens
        and 0 <= cost <= BOUNDS.max_cost_usd
        and NOW - BOUNDS.max_age_seconds <= start <= NOW + BOUNDS.max_future_seconds
        and math.isfinite(start + duration) and (start + duration) - start <= BOUNDS.max_duration_seconds
    )
    return record, admitted


def _assert_snapshot_clean(state: Path) -> None:
    """Every counter, histogram and gauge value in the newest snapshot is finite, and every
    counter and histogram value is >= 0."""
    saved = decode_recorder(snap.decode(snap.Generations(state).paths()[0].read_bytes()).recorder)
    assert all(math.isfinite(v) and v >= 0 for v in memoryview(saved.values).cast("d"))
    assert all(math.isfinite(v) for gauge in saved.gauges for v in gauge.values)


_SAMPLE = re.compile(rb"^(\w+)(\{[^}]*\})? (\S+)$")


def _values(exposition: bytes) -> dict[bytes, float]:
    out = {}
    for line in exposition.splitlines():
        found = _SAMPLE.match(line)
        if found:
            out[found.group(1) + (found.group(2) or b"")] = float(found.group(3))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(records(), min_size=1, max_size=12))
def test_each_record_counts_wholly_or_not_at_all(tmp_path: Path, batch: list[tuple[dict[str, Any], bool]]) -> None:
    for index, (record, _) in enumerate(batch):
        record["id"] = f"fuzz-{index}"  # distinct, so none is a duplicate
    with tempfile.TemporaryDirectory() as state:
        pipeline = Pipeline(SPEC, recorder=Recorder(clock=lambda: NOW), state=StateStore(state), clock=lambda: NOW)
        result = pipeline.ingest([json.dumps(r).encode() for r, _ in batch], "litellm", "http")
        pipeline.save()
        pipeline.close()
        _assert_snapshot_clean(Path(state))
    # A record the exporter accepts must be one the bounds admit; any it rejects, it rejects whole.
    assert result.accepted + result.rejected == len(batch)
    rejected_indexes = {index for index, _ in result.errors}
    for index, (record, admitted) in enumerate(batch):
        if not admitted:
            assert index in rejected_indexes, record
    accepted = [r for i, (r, _) in enumerate(batch) if i not in rejected_indexes]
    values = _values(pipeline.recorder.render())
    requests = sum(v for k, v in values.items() if k.startswith(b"genai_requests_total{"))
    inputs = sum(v for k, v in values.items() if k.startswith(b"genai_tokens_total{") and b'type="input"' in k)
    outputs = sum(v for k, v in values.items() if k.startswith(b"genai_tokens_total{") and b'type="output"' in k)
    assert requests == len(accepted)
    assert inputs == sum(r["prompt_tokens"] for r in accepted)
    assert outputs == sum(r["completion_tokens"] for r in accepted)
    assert all(math.isfinite(v) and v >= 0 for k, v in values.items()
               if not k.startswith(catalog.EXPORTER_COUNTERS_START.name.encode())), values


def test_absurd_amounts_reach_neither_metrics_nor_the_snapshot(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pipeline = Pipeline(SPEC, recorder=Recorder(clock=lambda: NOW), state=StateStore(state), clock=lambda: NOW)
    absurd = []
    for field, value in (("response_cost", 1.7e308), ("prompt_tokens", 10**400), ("completion_tokens", -1),
                         ("startTime", 1e300)):
        record = json.loads(json.dumps(TEMPLATE))
        record[field] = value
        if field == "response_cost":
            record["hidden_params"]["response_cost"] = value
        absurd.append(json.dumps(record).encode())
    for _ in range(2):  # twice: two 1.7e308 costs once summed to +Inf
        result = pipeline.ingest(absurd, "litellm", "http")
        assert (result.accepted, result.rejected) == (0, len(absurd))
        assert all("ingest.bounds" in reason or "Expected" in reason for _, reason in result.errors), result.errors
    pipeline.save()
    _assert_snapshot_clean(state)
    assert _values(pipeline.recorder.render()).get(b"genai_requests_total", 0.0) == 0.0
