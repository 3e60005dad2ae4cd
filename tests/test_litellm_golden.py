"""Records the real LiteLLM proxy posted (tests/fixtures/litellm/proxy-<release>.jsonl, captured
by the conformance suite with text and identifying values taken out), adapted offline: each
record means what the scenario that caused it means."""

from __future__ import annotations

import json

import pytest

from exporter.adapters import build_adapter
from exporter.event import GatewayEvent
from tests.conformance.litellm import golden
from tests.conformance.litellm.releases import RELEASES
from tests.conformance.litellm.truth import expected_outcome, scenario_of

CASES = [
    (release, line)
    for release in RELEASES
    for line in golden.path(release).read_text().splitlines()
    if line.strip()
]
ADAPTER = build_adapter("litellm", ("metadata.user_api_key_team_alias",))


def _ids(case: tuple[str, str]) -> str:
    record = json.loads(case[1])
    return f"{case[0]}-{scenario_of(record).name}-{record.get('status')}"


def test_every_release_has_its_golden_records() -> None:
    assert {release for release, _ in CASES} == set(RELEASES)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_golden_record(case: tuple[str, str]) -> None:
    release, line = case
    record = json.loads(line)
    scenario = scenario_of(record)
    event = ADAPTER(line.encode())
    assert isinstance(event, GatewayEvent), event
    assert event.outcome == expected_outcome(scenario, record, release)
    usage = record["metadata"].get("usage_object") or {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    assert (event.input_tokens, event.output_tokens, event.cached_input_tokens, event.reasoning_tokens) == (
        record["prompt_tokens"], record["completion_tokens"], cached, reasoning)
    verdicts = dict(scenario.verdicts)
    for evaluation in event.guardrails:
        assert evaluation.result in (verdicts.get(evaluation.name, "passed"), "passed"), evaluation
    for name, result in verdicts.items():
        assert any((g.name, g.result) == (name, result) for g in event.guardrails), (name, result)
    assert "status_unreadable" not in event.gaps
