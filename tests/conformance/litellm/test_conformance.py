"""The real LiteLLM proxy, each pinned release, each batch format of its generic logger: every
figure on /metrics equals the ground truth computed from the records the proxy really posted."""

from __future__ import annotations

import math

import pytest

from tests.conformance.litellm.conftest import Run
from tests.conformance.litellm.proxy import INGEST_TOKEN, LOG_FORMATS
from tests.conformance.litellm.releases import LOSSY_LOGGER
from tests.conformance.litellm.truth import scenario_of, truth
from tests.support.processes import by_label, total

FORMAT = pytest.mark.parametrize("log_format", LOG_FORMATS)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@FORMAT
def test_posted_as_the_logger_sends_it(run: Run, log_format: str) -> None:
    posts = run.posts[log_format]
    assert posts, "the proxy posted nothing"
    for post in posts:
        assert post.headers["authorization"] == f"Bearer {INGEST_TOKEN}"
        assert post.headers["content-type"] == "application/json"
        assert post.headers["user-agent"].startswith("litellm/")
        assert post.status == 202
    if log_format == "single":
        assert all(post.body.lstrip()[:1] == b"{" for post in posts)
    elif log_format == "json_array":
        assert all(post.body.lstrip()[:1] == b"[" for post in posts)


@FORMAT
def test_every_record_accepted_and_duplicates_recognised(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    events = by_label(metrics, "genai_exporter_events_total", "result", format="litellm")
    assert events.get("accepted", 0) == expected.unique
    assert events.get("duplicate", 0) == expected.duplicates
    assert events.get("rejected", 0) == 0


@FORMAT
def test_every_scenario_was_logged(run: Run, log_format: str) -> None:
    # The proxy logs every request it answered, whether it succeeded or refused it; a lossy
    # logger (releases.LOSSY_LOGGER) drops some, so there every record must still be one we sent.
    logged = {scenario_of(r).name for r in run.records[log_format]}
    sent = {s.name for s in run.scenarios}
    assert logged <= sent if run.release in LOSSY_LOGGER else logged == sent


@FORMAT
def test_requests_by_outcome_and_team(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    assert by_label(metrics, "genai_requests_total", "outcome") == dict(expected.outcomes)
    assert by_label(metrics, "genai_requests_total", "team") == dict(expected.teams)


@FORMAT
def test_tokens_by_type(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    assert by_label(metrics, "genai_tokens_total", "type") == {
        kind: float(n) for kind, n in expected.tokens.items() if n}
    if run.release not in LOSSY_LOGGER:  # the traffic has both; a lossy logger may drop them
        assert expected.tokens["cached_input"] > 0 and expected.tokens["reasoning"] > 0


@FORMAT
def test_cost_and_cache_savings(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    assert close(total(metrics, "genai_cost_usd_total"), expected.cost)
    assert close(total(metrics, "genai_cache_saved_usd_total"), expected.saved)
    assert total(metrics, "genai_requests_total", cache="hit") == expected.cache_hits
    if run.release not in LOSSY_LOGGER:
        assert expected.saved > 0


@FORMAT
def test_guardrail_results_and_entities(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    found: dict[tuple[str, str], float] = {}
    for (name, labels), value in metrics.items():
        if name == "genai_guardrail_evaluations_total":
            found[(dict(labels)["guardrail"], dict(labels)["result"])] = (
                found.get((dict(labels)["guardrail"], dict(labels)["result"]), 0) + value)
    # Spec-required guardrails that left no evaluation are counted not_run by policy, not by the
    # adapter: compare the guardrails the proxy ran.
    ran = {key: value for key, value in found.items() if key[0] in {g for g, _ in expected.guardrails}}
    assert ran == {key: float(n) for key, n in expected.guardrails.items()}
    assert by_label(metrics, "genai_sensitive_entities_total", "entity") == {
        kind: float(n) for kind, n in expected.entities.items()}


@FORMAT
def test_time_to_first_token_only_for_successful_streams(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    assert total(metrics, "genai_time_to_first_token_seconds_count") == expected.ttft_count
    if run.release not in LOSSY_LOGGER:
        assert expected.ttft_count >= 2


@FORMAT
def test_what_could_not_be_read_is_counted(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    gaps = by_label(metrics, "genai_exporter_record_gaps_total", "reason", format="litellm")
    assert gaps.get("no_provider", 0) == expected.no_provider
    assert gaps.get("status_unreadable", 0) == 0


@FORMAT
def test_apps(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    assert by_label(metrics, "genai_requests_total", "app") == dict(expected.apps)


@FORMAT
def test_models_providers_operations(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    assert by_label(metrics, "genai_requests_total", "model") == dict(expected.models)
    assert by_label(metrics, "genai_requests_total", "provider") == dict(expected.providers)
    assert by_label(metrics, "genai_requests_total", "operation") == dict(expected.operations)


@FORMAT
def test_error_kinds(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    assert by_label(metrics, "genai_request_errors_total", "error") == dict(expected.errors)


@FORMAT
def test_rate_limits(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    # The proxy's own refusals (quota_exceeded) and the provider's 429s (rate_limited).
    by_source = {"gateway": expected.outcomes["quota_exceeded"], "provider": expected.outcomes["rate_limited"]}
    assert by_label(metrics, "genai_rate_limited_requests_total", "source") == {
        source: n for source, n in by_source.items() if n}


@FORMAT
def test_guardrail_latency(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    seconds = by_label(metrics, "genai_guardrail_seconds_total", "guardrail")
    assert seconds.keys() == expected.guardrail_seconds.keys()
    assert all(close(seconds[g], expected.guardrail_seconds[g]) for g in seconds)
    assert by_label(metrics, "genai_guardrail_timed_evaluations_total", "guardrail") == dict(expected.guardrail_timed)


@FORMAT
def test_request_durations(run: Run, log_format: str) -> None:
    expected = truth(run.records[log_format], run.release)
    metrics = run.exporters[log_format].scrape()
    assert total(metrics, "genai_request_duration_seconds_count") == expected.durations
