"""The recorder: what each event adds to which series, the exposition, snapshots and the cap.

Expected values are worked out by hand from the events; the exposition is read back with a
small parser written here, so a test never trusts the code's own output format.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from contract import catalog as c
from exporter.event import GatewayEvent, Measured
from exporter.histogram import HistogramValue
from exporter.recorder import SERIES_CAP_LABEL, Recorder

ROOT = Path(__file__).resolve().parent.parent
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: bytes) -> Samples:
    """Sample lines of a text exposition -> {(name, labels): value}; checks HELP/TYPE order."""
    samples: Samples = {}
    typed: set[str] = set()
    for line in text.decode().splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, body, value = match.groups()
        labels: dict[str, str] = {}
        rest = body or ""
        while rest:
            pair = _PAIR.match(rest)
            assert pair, f"bad labels in {line!r}"
            labels[pair[1]] = re.sub(r"\\[\\\"n]", lambda e: _UNESCAPE[e[0]], pair[2])
            rest = rest[pair.end():]
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed, f"{name} has no # TYPE line before it"
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(value)
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def event(**fields: object) -> GatewayEvent:
    base: dict[str, object] = {"id": "r1", "timestamp": 1_790_000_000.0, "attributes": {}, "model": "gpt-4o",
                               "provider": "openai", "operation": "chat", "outcome": "success"}
    return GatewayEvent(**(base | fields))  # type: ignore[arg-type]


def measured(ev: GatewayEvent | None = None, **fields: object) -> Measured:
    base: dict[str, object] = {"event": ev or event(), "team": "search", "app": "search-api", "model": "gpt-4o",
                               "provider": "openai", "operation": "chat", "cost_usd": 0.0, "cache_saved_usd": 0.0}
    return Measured(**(base | fields))  # type: ignore[arg-type]


WHO = {"team": "search", "app": "search-api", "model": "gpt-4o", "provider": "openai"}
REQ = WHO | {"operation": "chat", "outcome": "success", "cache": "miss"}
DUR = {"team": "search", "model": "gpt-4o", "provider": "openai", "operation": "chat", "outcome": "success"}
DUR_LE = ("0.05", "0.1", "0.25", "0.5", "1.0", "2.0", "4.0", "8.0", "15.0", "30.0", "60.0", "120.0", "+Inf")
TTFT_LE = ("0.1", "0.2", "0.3", "0.5", "0.75", "1.0", "1.5", "2.0", "3.0", "5.0", "10.0", "+Inf")
PROMPT_LE = ("64.0", "256.0", "1024.0", "4096.0", "16384.0", "65536.0", "262144.0", "1.048576e+06", "+Inf")


def rendered(*events: Measured) -> Samples:
    recorder = Recorder()
    for m in events:
        recorder.record(m)
    return parse(recorder.render())


# -- what one event adds ---------------------------------------------------------------------------


def test_streaming_success_fills_every_request_metric() -> None:
    ev = event(input_tokens=812, output_tokens=164, duration_seconds=2.41, ttft_seconds=0.38, streaming=True)
    s = rendered(measured(ev, cost_usd=0.00367))
    assert value(s, "genai_requests_total", **REQ) == 1
    assert value(s, "genai_tokens_total", **WHO, type="input") == 812
    assert value(s, "genai_tokens_total", **WHO, type="output") == 164
    assert value(s, "genai_cost_usd_total", **WHO) == 0.00367
    # 2.41 s: above 2.0, so every bucket from le=4.0 up holds it.
    for le, want in zip(DUR_LE, [0] * 6 + [1] * 7, strict=True):
        assert value(s, "genai_request_duration_seconds_bucket", **DUR, le=le) == want, le
    assert value(s, "genai_request_duration_seconds_sum", **DUR) == 2.41
    assert value(s, "genai_request_duration_seconds_count", **DUR) == 1
    ttft = {"team": "search", "model": "gpt-4o", "provider": "openai"}
    for le, want in zip(TTFT_LE, [0, 0, 0] + [1] * 9, strict=True):
        assert value(s, "genai_time_to_first_token_seconds_bucket", **ttft, le=le) == want, le
    assert value(s, "genai_time_to_first_token_seconds_sum", **ttft) == 0.38
    for le, want in zip(PROMPT_LE, [0, 0] + [1] * 7, strict=True):
        assert value(s, "genai_prompt_tokens_bucket", team="search", model="gpt-4o", le=le) == want, le
    assert value(s, "genai_prompt_tokens_sum", team="search", model="gpt-4o") == 812
    # Subset token types only appear once something was counted in them.
    assert ("genai_tokens_total", frozenset((WHO | {"type": "cached_input"}).items())) not in s
    assert names(s) == {
        "genai_requests_total", "genai_tokens_total", "genai_cost_usd_total",
        *(f"genai_request_duration_seconds_{k}" for k in ("bucket", "sum", "count")),
        *(f"genai_time_to_first_token_seconds_{k}" for k in ("bucket", "sum", "count")),
        *(f"genai_prompt_tokens_{k}" for k in ("bucket", "sum", "count")),
    }


def test_zero_token_error_still_shows_its_input_output_and_cost_series() -> None:
    ev = event(outcome="rate_limited", duration_seconds=0.21)
    s = rendered(measured(ev))
    assert value(s, "genai_requests_total", **REQ | {"outcome": "rate_limited"}) == 1
    assert value(s, "genai_tokens_total", **WHO, type="input") == 0
    assert value(s, "genai_tokens_total", **WHO, type="output") == 0
    assert value(s, "genai_cost_usd_total", **WHO) == 0
    assert "genai_prompt_tokens_count" not in names(s)  # no prompt was sent
    assert "genai_time_to_first_token_seconds_count" not in names(s)
    assert value(s, "genai_request_duration_seconds_bucket", **DUR | {"outcome": "rate_limited"}, le="0.25") == 1
    assert value(s, "genai_request_duration_seconds_bucket", **DUR | {"outcome": "rate_limited"}, le="0.1") == 0


@pytest.mark.parametrize(
    ("seconds", "first_bucket_holding_it"),
    [(0.0, "0.05"), (0.05, "0.05"), (0.0500001, "0.1"), (4.0, "4.0"), (120.0, "120.0"), (120.5, "+Inf")],
)
def test_a_duration_on_a_bound_counts_in_that_bucket(seconds: float, first_bucket_holding_it: str) -> None:
    s = rendered(measured(event(duration_seconds=seconds)))
    first = DUR_LE.index(first_bucket_holding_it)
    got = [value(s, "genai_request_duration_seconds_bucket", **DUR, le=le) for le in DUR_LE]
    assert got == [0] * first + [1] * (len(DUR_LE) - first)


def test_events_add_up_per_label_set() -> None:
    cheap = measured(event(input_tokens=100, output_tokens=10, duration_seconds=0.3), cost_usd=0.25)
    dear = measured(event(input_tokens=3000, output_tokens=500, cached_input_tokens=2048, reasoning_tokens=400,
                          duration_seconds=6.0), cost_usd=0.5)
    other_app = measured(event(input_tokens=7, duration_seconds=1.0), app="query-rewriter", cost_usd=0.125)
    s = rendered(cheap, dear, other_app)
    assert value(s, "genai_requests_total", **REQ) == 2
    assert value(s, "genai_cost_usd_total", **WHO) == 0.75
    assert value(s, "genai_cost_usd_total", **WHO | {"app": "query-rewriter"}) == 0.125
    assert value(s, "genai_tokens_total", **WHO, type="input") == 3100
    assert value(s, "genai_tokens_total", **WHO, type="output") == 510
    assert value(s, "genai_tokens_total", **WHO, type="cached_input") == 2048
    assert value(s, "genai_tokens_total", **WHO, type="reasoning") == 400
    assert value(s, "genai_tokens_total", **WHO | {"app": "query-rewriter"}, type="input") == 7
    # Duration has no app label: all three requests land in one series (0.3, 6.0 and 1.0 s).
    got = [value(s, "genai_request_duration_seconds_bucket", **DUR, le=le) for le in DUR_LE]
    assert got == [0, 0, 0, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    assert value(s, "genai_request_duration_seconds_sum", **DUR) == 7.3
    assert value(s, "genai_request_duration_seconds_count", **DUR) == 3
    got = [value(s, "genai_prompt_tokens_bucket", team="search", model="gpt-4o", le=le) for le in PROMPT_LE]
    assert got == [1, 2, 2, 3, 3, 3, 3, 3, 3]  # 7, 100, 3000 tokens
    assert value(s, "genai_prompt_tokens_sum", team="search", model="gpt-4o") == 3107


def test_cache_hits_count_savings_even_when_zero() -> None:
    hit = measured(event(cache_hit=True, input_tokens=500, duration_seconds=0.02), cache_saved_usd=0.0125)
    free_hit = measured(event(cache_hit=True, duration_seconds=0.02), app="query-rewriter")
    s = rendered(hit, free_hit)
    assert value(s, "genai_requests_total", **REQ | {"cache": "hit"}) == 1
    assert value(s, "genai_cache_saved_usd_total", team="search", app="search-api", model="gpt-4o") == 0.0125
    assert value(s, "genai_cache_saved_usd_total", team="search", app="query-rewriter", model="gpt-4o") == 0
    assert value(s, "genai_cost_usd_total", **WHO) == 0


def test_a_miss_has_no_cache_savings_series() -> None:
    assert "genai_cache_saved_usd_total" not in names(rendered(measured(cache_saved_usd=0.5)))


def test_guardrails_entities_and_violations() -> None:
    m = measured(
        guardrails=(("presidio-pii", "input", "masked"), ("lakera-prompt-injection", "input", "not_run")),
        entities=(("email", 2), ("phone_number", 1), ("iban", 0)),
        violations=("guardrail_bypass", "unapproved_model"),
    )
    s = rendered(m, m)
    who = {"team": "search", "app": "search-api"}
    assert value(s, "genai_guardrail_evaluations_total", **who, guardrail="presidio-pii", stage="input",
                 result="masked") == 2
    assert value(s, "genai_guardrail_evaluations_total", **who, guardrail="lakera-prompt-injection",
                 stage="input", result="not_run") == 2
    assert value(s, "genai_sensitive_entities_total", **who, entity="email") == 4
    assert value(s, "genai_sensitive_entities_total", **who, entity="phone_number") == 2
    assert ("genai_sensitive_entities_total", frozenset((who | {"entity": "iban"}).items())) not in s
    assert value(s, "genai_policy_violations_total", **who, policy="guardrail_bypass") == 2
    assert value(s, "genai_policy_violations_total", **who, policy="unapproved_model") == 2


def test_label_values_are_escaped_in_the_text_and_read_back_intact() -> None:
    team = 'quote " back \\ slash'
    app = "two\nlines"
    recorder = Recorder()
    recorder.record(measured(event(duration_seconds=1.0), team=team, app=app))
    text = recorder.render()
    assert b'team="quote \\" back \\\\ slash",app="two\\nlines"' in text
    s = parse(text)
    assert value(s, "genai_requests_total", **REQ | {"team": team, "app": app}) == 1
    assert value(s, "genai_request_duration_seconds_count", **DUR | {"team": team}) == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"cost_usd": -0.01},
        {"cost_usd": float("nan")},
        {"cost_usd": float("inf")},
        {"event": event(input_tokens=-1)},
        {"event": event(duration_seconds=float("nan"))},
        {"event": event(ttft_seconds=-0.1)},
        {"event": event(cache_hit=True), "cache_saved_usd": float("nan")},
        {"entities": (("email", -2),)},
    ],
)
def test_bad_amounts_raise_and_change_nothing(bad: dict[str, object]) -> None:
    recorder = Recorder()
    recorder.record(measured(event(input_tokens=5, duration_seconds=1.0), cost_usd=0.5))
    before = recorder.render()
    with pytest.raises(ValueError, match="finite and not negative"):
        recorder.record(measured(**({"event": event(duration_seconds=1.0)} | bad)))
    assert recorder.render() == before


# -- counters and gauges by hand -------------------------------------------------------------------


def test_inc_self_metrics_and_unlabelled_counter() -> None:
    recorder = Recorder()
    recorder.inc(c.EXPORTER_EVENTS, ("http", "litellm", "accepted"), 512)
    recorder.inc(c.EXPORTER_EVENTS, ("http", "litellm", "accepted"))
    recorder.inc(c.EXPORTER_UNPRICED, ("mystery-model",))
    recorder.inc(c.EXPORTER_STATE_WRITE_FAILURES, ())
    text = recorder.render()
    assert b"\ngenai_exporter_state_write_failures_total 1.0\n" in text
    s = parse(text)
    assert value(s, "genai_exporter_events_total", source="http", format="litellm", result="accepted") == 513
    assert value(s, "genai_exporter_unpriced_requests_total", model="mystery-model") == 1
    assert recorder.line_count() == 3


def test_inc_reaches_the_request_cost_and_token_series_too() -> None:
    recorder = Recorder()
    recorder.record(measured(event(input_tokens=10), cost_usd=0.5))
    recorder.inc(c.COST, tuple(WHO.values()), 0.25)
    recorder.inc(c.TOKENS, (*WHO.values(), "reasoning"), 3)
    recorder.inc(c.REQUESTS, tuple(REQ.values()))
    s = parse(recorder.render())
    assert value(s, "genai_cost_usd_total", **WHO) == 0.75
    assert value(s, "genai_tokens_total", **WHO, type="reasoning") == 3
    assert value(s, "genai_requests_total", **REQ) == 2


@pytest.mark.parametrize(
    ("metric", "labels", "amount", "message"),
    [
        (c.EXPORTER_UNPRICED, ("m",), -1.0, "finite and >= 0"),
        (c.EXPORTER_UNPRICED, ("m",), float("nan"), "finite and >= 0"),
        (c.EXPORTER_UNPRICED, ("m", "extra"), 1.0, "takes string values"),
        (c.EXPORTER_UNPRICED, (3,), 1.0, "takes string values"),
        (c.TEAM_BUDGET, ("search", "month"), 1.0, "is a gauge, not a counter"),
        (c.REQUEST_DURATION, ("a", "b", "c", "d", "e"), 1.0, "is a histogram"),
        (c.TOKENS, ("t", "a", "m", "p", "completion"), 1.0, "type must be one of"),
        (c.Metric("genai_made_up_total", c.MetricType.COUNTER, "", (), "x"), (), 1.0, "not the catalog's"),
    ],
)
def test_inc_refuses_misuse(metric: c.Metric, labels: tuple[str, ...], amount: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Recorder().inc(metric, labels, amount)


def test_gauges_set_replace_and_drop_stale_series() -> None:
    recorder = Recorder()
    recorder.replace_gauge(c.TEAM_BUDGET, {("search", "month"): 18000, ("legal", "month"): 6000})
    recorder.set(c.TEAM_FIRST_SEEN, ("search",), 1_790_000_000.5)
    recorder.set(c.SPEC_INFO, ("abc",), float("nan"))
    s = parse(recorder.render())
    assert value(s, "genai_team_budget_usd", team="legal", period="month") == 6000
    assert value(s, "genai_team_first_seen_timestamp_seconds", team="search") == 1_790_000_000.5
    assert b'genai_spec_info{hash="abc"} NaN\n' in recorder.render()
    recorder.replace_gauge(c.TEAM_BUDGET, {("search", "month"): 20000})
    s = parse(recorder.render())
    assert value(s, "genai_team_budget_usd", team="search", period="month") == 20000
    assert ("genai_team_budget_usd", frozenset({"team": "legal", "period": "month"}.items())) not in s
    recorder.replace_gauge(c.TEAM_BUDGET, {})
    assert b"genai_team_budget_usd" not in recorder.render()
    with pytest.raises(ValueError, match="is a counter, not a gauge"):
        recorder.set(c.REQUESTS, tuple(REQ.values()), 1.0)
    with pytest.raises(ValueError, match="takes string values"):
        recorder.replace_gauge(c.TEAM_BUDGET, {("search",): 1.0})


def test_an_empty_recorder_renders_nothing() -> None:
    assert Recorder().render() == b""
    assert Recorder().line_count() == 0


# -- readers for the OTLP sink ----------------------------------------------------------------------


def test_series_gives_plain_values_and_non_cumulative_histograms() -> None:
    recorder = Recorder()
    for seconds in (0.3, 6.0, 1.0, 200.0):
        recorder.record(measured(event(duration_seconds=seconds, input_tokens=10, cached_input_tokens=4),
                                 cost_usd=0.5))
    assert list(recorder.series(c.COST)) == [(tuple(WHO.values()), 2.0)]
    assert list(recorder.series(c.TOKENS)) == [
        ((*WHO.values(), "input"), 40.0), ((*WHO.values(), "output"), 0.0), ((*WHO.values(), "cached_input"), 16.0),
    ]
    assert list(recorder.series(c.REQUESTS)) == [(tuple(REQ.values()), 4.0)]
    [(labels, hist)] = recorder.series(c.REQUEST_DURATION)
    assert labels == tuple(DUR.values())
    assert hist == HistogramValue((0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1), 207.3, 4)
    assert list(recorder.series(c.TEAM_BUDGET)) == []


def test_token_usage_histogram_is_internal_and_off_by_default() -> None:
    m = measured(event(input_tokens=812, output_tokens=164, duration_seconds=1.0))
    off = Recorder()
    off.record(m)
    assert list(off.token_usage()) == []
    on = Recorder(token_usage_histogram=True)
    on.record(m)
    on.record(measured(event(outcome="rate_limited")))  # no tokens used: nothing observed
    assert b"gen_ai" not in on.render()
    usage = dict(on.token_usage())
    # OTel GenAI buckets 1, 4, 16, 64, 256, 1024, ...: 812 falls in (256, 1024], 164 in (64, 256].
    assert usage[("chat", "openai", "gpt-4o", "input")] == HistogramValue(
        (0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0), 812, 1)
    assert usage[("chat", "openai", "gpt-4o", "output")] == HistogramValue(
        (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 164, 1)


def test_start_time_comes_from_the_clock() -> None:
    assert Recorder(clock=lambda: 1234.5).start_time == 1234.5


# -- snapshots --------------------------------------------------------------------------------------


def _busy_recorder(**kwargs: object) -> Recorder:
    recorder = Recorder(clock=lambda: 1_790_000_000.0, **kwargs)  # type: ignore[arg-type]
    for i in range(40):
        recorder.record(measured(
            event(input_tokens=10 * i, output_tokens=i, reasoning_tokens=i % 3, duration_seconds=i / 7,
                  ttft_seconds=0.1 if i % 2 else None, cache_hit=i % 5 == 0,
                  outcome="success" if i % 4 else "timeout"),
            team=f"team-{i % 3}", app=f'app "{i % 4}"\n', cost_usd=i / 1000, cache_saved_usd=0.001,
            guardrails=(("presidio-pii", "input", "passed"),), entities=(("email", i % 2),),
        ))
    recorder.inc(c.EXPORTER_EVENTS, ("http", "litellm", "accepted"), 40)
    recorder.set(c.TEAM_FIRST_SEEN, ("team-1",), 1_790_000_100.0)
    return recorder


def test_snapshot_restore_gives_a_byte_identical_exposition_and_keeps_counting() -> None:
    original = _busy_recorder(token_usage_histogram=True)
    restored = Recorder(token_usage_histogram=True, clock=lambda: 0.0)
    assert restored.restore(original.snapshot()) == ()
    assert restored.render() == original.render()
    assert restored.start_time == 1_790_000_000.0
    assert list(restored.token_usage()) == list(original.token_usage())
    again = Recorder()
    again.restore(restored.snapshot())
    assert again.render() == original.render()
    more = measured(event(input_tokens=5, duration_seconds=1.0), team="team-0", app='app "0"\n', cost_usd=0.5)
    original.record(more)
    restored.record(more)
    assert restored.render() == original.render()


def test_restore_skips_a_metric_whose_definition_changed() -> None:
    from exporter.recorder_snapshot import decode, encode

    original = _busy_recorder()
    state = decode(original.snapshot())
    # As if the snapshot came from a version whose duration buckets were different.
    family = next(f for f in state.families if f.name == c.REQUEST_DURATION.name)
    family.buckets = (1.0, 2.0)
    restored = Recorder()
    assert restored.restore(encode(state)) == (c.REQUEST_DURATION.name,)
    before, after = parse(original.render()), parse(restored.render())
    assert "genai_request_duration_seconds_count" not in names(after)
    assert {k: v for k, v in before.items() if not k[0].startswith("genai_request_duration")} == after


def _corruptions(data: bytes) -> list[bytes]:
    middle = len(data) // 2
    return [
        b"",
        b"not a snapshot at all",
        data[:-1],
        data[: len(data) // 3],
        data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:],
        data[:-1] + bytes([data[-1] ^ 0x80]),
        data.replace(b"gatewatch-recorder", b"gatewatch-recordeR", 1),
    ]


def test_a_corrupt_snapshot_raises_value_error_and_loads_nothing() -> None:
    data = _busy_recorder().snapshot()
    for broken in _corruptions(data):
        recorder = Recorder()
        with pytest.raises(ValueError):
            recorder.restore(broken)
        assert recorder.render() == b""


@pytest.mark.parametrize(
    "damage", ["slot out of range", "repeated series", "negative value", "infinite value", "short key", "width"])
def test_a_well_sealed_but_inconsistent_snapshot_is_refused(damage: str) -> None:
    from exporter.recorder_snapshot import decode, encode

    state = decode(_busy_recorder().snapshot())
    family = next(f for f in state.families if f.name == "cost+tokens")
    if damage == "slot out of range":
        family.slots[0] = len(state.values) // 8 - 2
    elif damage == "repeated series":
        family.keys[1] = family.keys[0]
    elif damage == "negative value":
        state.values = struct.pack("<d", -1.0) + state.values[8:]
    elif damage == "infinite value":
        state.values = state.values[:-8] + struct.pack("<d", math.inf)
    elif damage == "short key":
        family.keys[0] = family.keys[0][:2]
    else:
        family.width = 4
    with pytest.raises(ValueError, match="recorder snapshot"):
        Recorder().restore(encode(state))  # a valid digest around a payload crafted here


def test_restore_wants_a_fresh_recorder() -> None:
    data = _busy_recorder().snapshot()
    used = Recorder()
    used.inc(c.EXPORTER_UNPRICED, ("m",))
    with pytest.raises(RuntimeError, match="fresh"):
        used.restore(data)


# -- the series cap ---------------------------------------------------------------------------------


def test_series_cap_folds_new_label_sets_into_other_without_losing_counts() -> None:
    recorder = Recorder(max_series_per_metric=10)
    for i in range(50):
        recorder.record(measured(
            event(input_tokens=100, output_tokens=10, duration_seconds=0.3, ttft_seconds=0.2),
            team=f"team-{i:02d}", cost_usd=0.25,
        ))
    s = parse(recorder.render())

    def series_of(name: str, drop: str = "") -> set[frozenset[tuple[str, str]]]:
        return {frozenset((k, v) for k, v in labels if k != drop) for n, labels in s if n == name}

    for name in ("genai_requests_total", "genai_cost_usd_total", "genai_request_duration_seconds_count",
                 "genai_time_to_first_token_seconds_count", "genai_prompt_tokens_count"):
        assert len(series_of(name)) == 11, name
    assert len(series_of("genai_tokens_total", drop="type")) == 11
    other = {"team": "__other__", "app": "__other__", "model": "__other__", "provider": "__other__"}
    # Fixed-vocabulary labels survive the fold, so a folded error is still an error.
    assert value(s, "genai_requests_total", **other, operation="__other__", outcome="success", cache="miss") == 40
    assert value(s, "genai_cost_usd_total", **other) == 10.0
    assert value(s, "genai_tokens_total", **other, type="input") == 4000
    assert sum(v for (n, _), v in s.items() if n == "genai_cost_usd_total") == 12.5
    assert sum(v for (n, _), v in s.items() if n == "genai_requests_total") == 50
    assert sum(v for (n, _), v in s.items() if n == "genai_request_duration_seconds_count") == 50
    # Five families (requests, cost/tokens, duration, TTFT, prompt) folded 40 label sets each.
    assert value(s, "genai_exporter_label_overflow_total", label=SERIES_CAP_LABEL) == 200


def test_a_folded_label_set_is_counted_once_however_often_it_comes_back() -> None:
    recorder = Recorder(max_series_per_metric=1)
    for _ in range(3):
        for team in ("a", "b"):
            recorder.record(measured(team=team))
    s = parse(recorder.render())
    assert value(s, "genai_exporter_label_overflow_total", label=SERIES_CAP_LABEL) == 2  # requests, cost
    assert value(s, "genai_requests_total", **REQ | {"team": "a"}) == 3


def test_series_cap_applies_to_inc_and_keeps_the_overflow_counter_itself_uncapped() -> None:
    recorder = Recorder(max_series_per_metric=2)
    for model in ("m1", "m2", "m3", "m4"):
        recorder.inc(c.EXPORTER_UNPRICED, (model,), 2)
    s = parse(recorder.render())
    assert {dict(labels)["model"] for n, labels in s if n == "genai_exporter_unpriced_requests_total"} == {
        "m1", "m2", "__other__"}
    assert value(s, "genai_exporter_unpriced_requests_total", model="__other__") == 4
    for label in ("team", "app", "model", "entity"):
        recorder.inc(c.EXPORTER_LABEL_OVERFLOW, (label,))
    assert len([n for n, _ in parse(recorder.render()) if n == "genai_exporter_label_overflow_total"]) == 5


# -- real consumers of the text ---------------------------------------------------------------------


def test_render_passes_promtool_check_metrics(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing on CI")
        pytest.skip("promtool is not installed")
    recorder = _busy_recorder(token_usage_histogram=True)
    recorder.inc(c.EXPORTER_STATE_WRITE_FAILURES, ())
    recorder.replace_gauge(c.TEAM_INFO, {("team-1", "owner-1", 'CC "9"', "critical"): 1.0})
    result = subprocess.run([promtool, "check", "metrics"], input=recorder.render(), capture_output=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_line_count_matches_the_rendered_sample_lines() -> None:
    recorder = _busy_recorder()
    recorder.replace_gauge(c.TEAM_BUDGET, {("team-1", "month"): 5.0})
    lines = [line for line in recorder.render().splitlines() if line and not line.startswith(b"#")]
    assert recorder.line_count() == len(lines) == len(parse(recorder.render()))


@pytest.mark.slow
def test_the_ingest_benchmark_runs_and_prints_every_figure() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "ingest.py"), "--quick"], capture_output=True,
                            text=True, check=True, cwd=ROOT, timeout=600)
    table = result.stdout
    for figure in ("F: read + orjson.loads", "request label sets", "pipeline (adapter", "pipeline with OTLP on",
                   "Recorder.record()", "prometheus_client, .labels() per update", "Recorder.render()",
                   "generate_latest", "snapshot", "RSS per exposed line, Recorder",
                   "RSS per exposed line, prometheus_client"):
        assert figure in table, figure
    assert "not measured" not in table


def test_counter_slots_add_to_the_series_they_name_and_refuse_routed_metrics() -> None:
    rec = Recorder()
    slot = rec.counter_slot(c.GUARDRAIL_SECONDS, ("pii", "input"))
    assert rec.counter_slot(c.GUARDRAIL_SECONDS, ("pii", "input")) == slot
    rec.add(slot, 0.25)
    rec.add(slot, 0.5)
    rec.inc(c.GUARDRAIL_SECONDS, ("pii", "input"), 0.25)
    assert 'genai_guardrail_seconds_total{guardrail="pii",stage="input"} 1.0' in rec.render().decode()
    for metric in (c.REQUESTS, c.TOKENS, c.COST):
        with pytest.raises(ValueError, match="routes"):
            rec.counter_slot(metric, ("x",) * len(metric.labels))
    with pytest.raises(ValueError):
        rec.counter_slot(c.GUARDRAIL_SECONDS, ("only-one-label",))
