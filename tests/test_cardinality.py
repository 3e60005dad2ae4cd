"""Attacker-controlled values cannot grow the exposition; folding keeps every cent and token."""

from __future__ import annotations

import copy
import json

import orjson

from contract.spec import load
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from tests.paths import EXAMPLE_SPEC, LITELLM_FIXTURE

SPEC = load(EXAMPLE_SPEC)
BASE = json.loads(LITELLM_FIXTURE.read_text().splitlines()[0])  # gpt-4o, team search, cost 0.00367


def sample_lines(body: bytes) -> list[str]:
    return [line for line in body.decode().splitlines() if line and not line.startswith("#")]


def values(body: bytes, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in sample_lines(body):
        series, _, value = line.rpartition(" ")
        if series.split("{", 1)[0] == name:
            out[series] = float(value)
    return out


def test_50k_distinct_keys_and_end_users_stay_bounded_with_cost_unchanged() -> None:
    pipeline = Pipeline(SPEC, recorder=Recorder(max_series_per_metric=SPEC.ingest.cardinality.max_series_per_metric))
    records = []
    for i in range(50_000):
        record = copy.deepcopy(BASE)
        record["id"] = f"req-{i}"
        record["metadata"]["user_api_key_alias"] = f"key-{i}"
        record["metadata"]["user_api_key_team_alias"] = f"team-x{i}"
        record["metadata"]["user_api_key_team_id"] = None
        record["metadata"]["user_api_key_end_user_id"] = f"end-user-{i}"
        record["end_user"] = f"end-user-{i}"
        records.append(orjson.dumps(record))
    for start in range(0, len(records), 1000):
        result = pipeline.ingest(records[start:start + 1000], "litellm", "http")
        assert result.accepted == 1000

    body = pipeline.scrape()
    limits = SPEC.ingest.cardinality
    requests = values(body, "genai_requests_total")
    # spec apps + the admitted unknown ones + __other__, for one team/model/provider/outcome each
    assert len(requests) <= limits.apps + limits.teams + 2
    assert sum(requests.values()) == 50_000
    cost = values(body, "genai_cost_usd_total")
    assert abs(sum(cost.values()) - 50_000 * 0.00367) < 1e-6
    teams = {s.split('team="', 1)[1].split('"', 1)[0] for s in cost}
    assert len(teams - {t.name for t in SPEC.teams}) <= limits.teams + 1
    assert "__other__" in teams
    overflow = values(body, "genai_exporter_label_overflow_total")
    folded_apps = overflow['genai_exporter_label_overflow_total{label="app"}']
    folded_teams = overflow['genai_exporter_label_overflow_total{label="team"}']
    assert folded_teams == 50_000 - limits.teams
    # an app admitted from one record is its own; the rest fold
    assert folded_apps == 50_000 - limits.apps
    assert b"end-user-" not in body
    assert len(sample_lines(body)) < 5_000
