"""The pipeline over every fixture record, against ops.yaml: the metrics a person works out by hand.

Fixture records (tests/fixtures/README.md numbers them):
LiteLLM 1 search gpt-4o stream ok 0.00367 | 2 search 429 | 3 support claude PII masked 0.013824 |
4 support blocked by lakera | 5 analytics cache hit gpt-4o-mini | 6 no team, embeddings 2.4e-05 |
7 analytics timeout | 8 search o3 lakera fail-open 0.0222 | 9 support azure gpt-4o old shape 0.0036 |
10 search 503.  Kong 1 search-svc 0.00037 | 2 legacy cost_request 0.0009 | 3 support-bot cache hit |
4 support-bot stream 0.0027 | 5 support-bot sanitizer 2 emails 0.00348 | 6 intern-app blocked.
search requires lakera-prompt-injection, support presidio-pii; research may use neither gpt-4o.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract.spec import load
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from exporter.state import StateStore
from tests.paths import EXAMPLE_SPEC, KONG_FIXTURE, LITELLM_FIXTURE
from tests.support.processes import Metrics, by_label, parse_metrics, total

SPEC = load(EXAMPLE_SPEC)
NOW = 1_790_000_100.0


def ingest_fixtures() -> tuple[Pipeline, Metrics]:
    pipeline = Pipeline(SPEC, recorder=Recorder(), clock=lambda: NOW)
    litellm = LITELLM_FIXTURE.read_bytes().splitlines()
    kong = KONG_FIXTURE.read_bytes().splitlines()
    assert pipeline.ingest(litellm, "litellm", "http").accepted == 10
    assert pipeline.ingest(kong, "kong", "http").accepted == 6
    return pipeline, parse_metrics(pipeline.scrape().decode())


PIPELINE, METRICS = ingest_fixtures()


def test_requests_and_cost_per_team() -> None:
    assert by_label(METRICS, "genai_requests_total", "team") == {
        "search": 6, "support": 6, "analytics": 2, "research": 1, "__unassigned__": 1,
    }
    cost = by_label(METRICS, "genai_cost_usd_total", "team")
    expected = {
        "search": 0.00367 + 0.0222 + 0.00037 + 0.0009,
        "support": 0.013824 + 0.0036 + 0.0027 + 0.00348,
        "analytics": 0.0,
        "research": 0.0,
        "__unassigned__": 2.4e-05,
    }
    assert cost.keys() == expected.keys()
    for team, usd in expected.items():
        assert cost[team] == pytest.approx(usd, rel=1e-12, abs=1e-15), team


def test_tokens_by_type() -> None:
    assert by_label(METRICS, "genai_tokens_total", "type") == {
        "input": 6550 + 1744, "output": 3366 + 311, "cached_input": 1024, "reasoning": 1900,
    }


def test_outcomes() -> None:
    assert by_label(METRICS, "genai_requests_total", "outcome") == {
        "success": 11, "rate_limited": 1, "guardrail_blocked": 2, "timeout": 1, "provider_error": 1,
    }


@pytest.mark.parametrize(
    ("labels", "value"),
    [
        # Kong consumers are apps, and a known app implies its team.
        # LiteLLM 1, 2, 10 and Kong 1, 2
        ({"team": "search", "app": "search-api", "provider": "openai", "model": "gpt-4o"}, 5),
        ({"team": "support", "app": "zendesk-assist", "provider": "azure", "model": "gpt-4o"}, 1),
        ({"team": "research", "app": "intern-app", "outcome": "guardrail_blocked"}, 1),
        ({"team": "__unassigned__", "app": "__unassigned__", "operation": "embeddings"}, 1),
        ({"team": "analytics", "app": "nightly-batch", "cache": "hit"}, 1),
        ({"team": "support", "app": "zendesk-assist", "cache": "hit", "model": "gpt-4o-mini"}, 1),
    ],
)
def test_attribution_of_requests(labels: dict[str, str], value: float) -> None:
    assert total(METRICS, "genai_requests_total", **labels) == value


def test_cache_savings_are_priced_when_the_gateway_reports_none() -> None:
    saved = by_label(METRICS, "genai_cache_saved_usd_total", "team")
    # 350 x 0.15 + 90 x 0.60 per million; Kong 3: 300 x 0.15 + 80 x 0.60 per million
    assert saved["analytics"] == pytest.approx(0.0001065, rel=1e-12)
    assert saved["support"] == pytest.approx(0.000093, rel=1e-12)


@pytest.mark.parametrize(
    ("labels", "value"),
    [
        # search requires lakera: five records without it, one where it failed open
        ({"team": "search", "guardrail": "lakera-prompt-injection", "result": "not_run"}, 5),
        ({"team": "search", "guardrail": "lakera-prompt-injection", "result": "failed_open"}, 1),
        ({"team": "support", "guardrail": "presidio-pii", "result": "masked"}, 1),
        ({"team": "support", "guardrail": "presidio-pii", "result": "not_run"}, 4),
        ({"team": "support", "guardrail": "lakera-prompt-injection", "result": "blocked"}, 1),
        ({"team": "support", "guardrail": "sanitizer", "result": "masked"}, 1),
        # Kong's lakera-guard is an alias of lakera-prompt-injection in the spec
        ({"team": "research", "app": "intern-app", "guardrail": "lakera-prompt-injection", "result": "blocked"}, 1),
    ],
)
def test_guardrail_evaluations(labels: dict[str, str], value: float) -> None:
    assert total(METRICS, "genai_guardrail_evaluations_total", **labels) == value


def test_policy_violations() -> None:
    violations = {
        (dict(labels)["team"], dict(labels)["policy"]): value
        for (name, labels), value in METRICS.items()
        if name == "genai_policy_violations_total"
    }
    # search: 6 requests reached a provider without lakera answering (fail-open included);
    # support: LiteLLM 9 and Kong 3-5 had no presidio (record 4 was blocked before the provider);
    # research asked for gpt-4o, which it is not approved for.
    assert violations == {
        ("search", "guardrail_bypass"): 6,
        ("support", "guardrail_bypass"): 4,
        ("research", "unapproved_model"): 1,
    }


def test_sensitive_entities_are_counts_by_type() -> None:
    assert by_label(METRICS, "genai_sensitive_entities_total", "entity", team="support") == {
        "email": 3, "phone_number": 1,
    }


def test_latency_histograms() -> None:
    # TTFT: LiteLLM 1, 3, 8 (streaming) and Kong 1, 4 (reported time_to_first_token)
    assert total(METRICS, "genai_time_to_first_token_seconds_count") == 5
    # differences of epoch seconds near 1.79e9 carry about 1e-7 s of float error each
    assert total(METRICS, "genai_time_to_first_token_seconds_sum") == pytest.approx(
        0.38 + 0.9 + 14.2 + 0.631 + 0.8, abs=1e-6
    )
    # every record has a duration; Kong 3, a cache hit without llm_latency, uses latencies.request
    assert total(METRICS, "genai_request_duration_seconds_count") == 16
    assert total(METRICS, "genai_request_duration_seconds_bucket", team="support", le="0.05") == 2  # L4, K3


def test_spec_gauges_and_adoption() -> None:
    assert by_label(METRICS, "genai_team_budget_usd", "team")["analytics"] == 9000
    starts = by_label(METRICS, "genai_team_budget_period_start_timestamp_seconds", "team")
    ends = by_label(METRICS, "genai_team_budget_period_end_timestamp_seconds", "team")
    assert set(starts.values()) == {1_788_220_800.0}  # 2026-09-01T00:00:00Z
    assert set(ends.values()) == {1_790_812_800.0}  # 2026-10-01T00:00:00Z
    assert total(METRICS, "genai_team_info", team="search", owner="priya-natarajan", tier="critical") == 1
    assert by_label(METRICS, "genai_team_first_seen_timestamp_seconds", "team") == {
        t: NOW for t in ("search", "support", "analytics", "research")
    }
    # research's only request was blocked: seen, never successful
    assert set(by_label(METRICS, "genai_team_first_success_timestamp_seconds", "team")) == {
        "search", "support", "analytics",
    }


def test_exporter_self_metrics() -> None:
    assert by_label(METRICS, "genai_exporter_events_total", "format", result="accepted") == {"litellm": 10, "kong": 6}
    assert by_label(METRICS, "genai_exporter_last_event_timestamp_seconds", "source") == {"http": NOW}


def test_the_counters_start_survives_a_restart_with_the_state_directory_only(tmp_path: Path) -> None:
    def start(clock: float, state: StateStore | None) -> float:
        pipeline = Pipeline(SPEC, recorder=Recorder(clock=lambda: clock), state=state, clock=lambda: clock)
        value = total(parse_metrics(pipeline.scrape().decode()), "genai_exporter_counters_start_timestamp_seconds")
        pipeline.save()
        return value

    state = StateStore(tmp_path / "state")
    assert start(1_000.0, state) == 1_000.0
    assert start(2_000.0, state) == 1_000.0  # restored: the counters go on
    assert start(3_000.0, StateStore(tmp_path / "lost")) == 3_000.0  # state lost: counting from 0 again


def test_retried_record_is_a_duplicate_not_a_second_charge() -> None:
    pipeline = Pipeline(SPEC, recorder=Recorder(), clock=lambda: NOW)
    line = LITELLM_FIXTURE.read_bytes().splitlines()[0]
    first = pipeline.ingest([line], "litellm", "http")
    again = pipeline.ingest([line, line], "litellm", "http")
    assert (first.accepted, again.accepted, again.duplicates) == (1, 0, 2)
    metrics = parse_metrics(pipeline.scrape().decode())
    assert total(metrics, "genai_cost_usd_total") == pytest.approx(0.00367)
    assert total(metrics, "genai_exporter_events_total", result="duplicate") == 2


def test_bad_records_are_counted_and_the_good_ones_around_them_kept() -> None:
    pipeline = Pipeline(SPEC, recorder=Recorder(), clock=lambda: NOW)
    lines = LITELLM_FIXTURE.read_bytes().splitlines()
    batch = [lines[0], b"{not json", json.dumps({"id": "x", "prompt_tokens": -5}).encode(), lines[2]]
    result = pipeline.ingest(batch, "litellm", "http")
    assert (result.accepted, result.rejected) == (2, 2)
    assert [index for index, _ in result.errors] == [1, 2]
    assert all(reason for _, reason in result.errors)
    metrics = parse_metrics(pipeline.scrape().decode())
    assert total(metrics, "genai_exporter_events_total", result="rejected") == 2
    assert total(metrics, "genai_requests_total") == 2


def test_unpriced_traffic_is_counted_not_silently_free() -> None:
    pipeline = Pipeline(SPEC, recorder=Recorder(), clock=lambda: NOW)
    event = {"id": "e1", "timestamp": NOW, "team": "platform", "app": "eval-harness", "model": "mystery-9",
             "provider": "acme", "outcome": "success", "input_tokens": 100, "output_tokens": 10}
    assert pipeline.ingest([json.dumps(event).encode()], "events", "http").accepted == 1
    metrics = parse_metrics(pipeline.scrape().decode())
    assert total(metrics, "genai_exporter_unpriced_requests_total", model="mystery-9") == 1
    assert total(metrics, "genai_cost_usd_total", team="platform") == 0


def test_guardrail_time_error_kinds_and_rate_limits() -> None:
    # Durations of fixture records 3 (presidio 0.012 s), 4 and 8 (lakera 0.034 s and 5 s).
    seconds = by_label(METRICS, "genai_guardrail_seconds_total", "guardrail")
    assert seconds.keys() == {"presidio-pii", "lakera-prompt-injection"}
    assert seconds["presidio-pii"] == pytest.approx(0.012)
    assert seconds["lakera-prompt-injection"] == pytest.approx(5.034)
    assert by_label(METRICS, "genai_guardrail_timed_evaluations_total", "guardrail") == {
        "presidio-pii": 1, "lakera-prompt-injection": 2}
    # Record 2 is the provider's 429; no fixture record carries a normalised error kind.
    assert by_label(METRICS, "genai_rate_limited_requests_total", "source") == {"provider": 1}
    assert total(METRICS, "genai_request_errors_total") == 0


def test_unreadable_parts_are_counted_by_reason_and_the_record_still_counts() -> None:
    pipeline = Pipeline(SPEC, recorder=Recorder(), clock=lambda: NOW)
    record = json.loads(LITELLM_FIXTURE.read_bytes().splitlines()[0])
    odd = record | {"id": "odd-1", "call_type": "a_new_endpoint", "custom_llm_provider": None, "endTime": None}
    failed = record | {"id": "odd-2", "status": "failure",
                       "error_information": {"error_code": "418", "normalized_error": "418_TEAPOT"}}
    result = pipeline.ingest([json.dumps(odd).encode(), json.dumps(failed).encode()], "litellm", "http")
    assert result.accepted == 2
    metrics = parse_metrics(pipeline.scrape().decode())
    assert total(metrics, "genai_requests_total") == 2
    assert by_label(metrics, "genai_exporter_record_gaps_total", "reason", format="litellm") == {
        "unknown_operation": 1, "no_provider": 1, "no_duration": 1, "unknown_error_kind": 1}
    assert by_label(metrics, "genai_request_errors_total", "error") == {"other": 1}


def test_a_bug_costs_only_its_records_and_logs_once_with_a_count(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = Pipeline(SPEC, recorder=Recorder(), clock=lambda: NOW)

    def boom(*_args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(pipeline, "_new_route", boom)
    first = json.loads(LITELLM_FIXTURE.read_bytes().splitlines()[0])
    records = [json.dumps(first | {"id": f"bug-{i}"}).encode() for i in range(50)]
    with caplog.at_level("ERROR", logger="gatewatch.pipeline"):
        result = pipeline.ingest(records, "litellm", "http")
    assert (result.accepted, result.rejected) == (0, 50)
    lines = [r for r in caplog.records if "could not route" in r.getMessage()]
    assert len(lines) == 1  # the other 49 wait for the next interval, then are counted in its line
