"""The traffic simulator: record shapes, determinism, what each scenario does, and live posting.

Scenario effects are measured on the raw records with plain tallies written here (team and app
mapped through the spec's aliases by hand), and, where the exporter's view matters, through the
real pipeline.
"""

from __future__ import annotations

import functools
import itertools
import re
import statistics
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import orjson
import pytest

from contract import catalog
from contract import spec as spec_model
from drills.stack import free_port
from exporter.adapters import build_adapter
from exporter.event import GatewayEvent
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from simulate import SCENARIOS, SimRecord, generate
from simulate.__main__ import main
from simulate.post import Poster, run
from simulate.traffic import diurnal_factor
from tests.paths import EXAMPLE_SPEC
from tests.support.processes import clean_env, parse_metrics, total

SPEC = spec_model.load(EXAMPLE_SPEC)
START = 1_790_000_000.0  # a Monday, 14:13 UTC
HOUR = 3600.0

# ops.yaml's price table, USD per million tokens: (input, output, cached input).
PRICES = {
    "gpt-4o": (2.50, 10.00, 1.25),
    "gpt-4o-mini": (0.15, 0.60, 0.075),
    "o3": (2.00, 8.00, 0.50),
    "claude-sonnet-4": (3.00, 15.00, 0.30),
    "claude-haiku-3-5": (0.80, 4.00, 0.08),
    "gemini-2.5-pro": (1.25, 10.00, 0.31),
    "gemini-2.5-flash": (0.30, 2.50, 0.075),
    "text-embedding-3-small": (0.02, 0.0, 0.02),
}
TEAM_OF_ALIAS = {alias: t.name for t in SPEC.teams for alias in (t.name, *t.aliases)}
APP_OF_ALIAS = {alias: a.name for a in SPEC.apps for alias in (a.name, *a.aliases)}
TEAM_OF_APP = {a.name: a.team for a in SPEC.apps}
EMAIL = re.compile(r"[\w.]+@example\.(?:com|net|org)")


@functools.cache
def records(scenario: str = "normal", *, duration: float = 900.0, rate: float = 20.0, seed: int = 1,
            incident_after: float = 0.0, text: bool = False) -> list[SimRecord]:
    """Generated records, shared between tests (which must not change them)."""
    return list(generate(SPEC, scenario, start=START, duration=duration, rate=rate, seed=seed,
                         incident_after=incident_after, text=text))


# -- plain readings of raw records ---------------------------------------------------------------

def _proxy(p: dict[str, Any]) -> dict[str, Any]:
    return p["ai"].get("proxy") or p["ai"]["ai-proxy"]


def app_of(r: SimRecord) -> str | None:
    raw = r.payload["metadata"]["user_api_key_alias"] if r.fmt == "litellm" else r.payload["consumer"]["username"]
    return APP_OF_ALIAS.get(raw, raw)


def team_of(r: SimRecord) -> str | None:
    if r.fmt == "litellm":
        meta = r.payload["metadata"]
        for raw in (meta["user_api_key_team_alias"], meta["user_api_key_team_id"]):
            if raw in TEAM_OF_ALIAS:
                return TEAM_OF_ALIAS[raw]
    return TEAM_OF_APP.get(app_of(r) or "")


def provider_of(r: SimRecord) -> str:
    return r.payload["custom_llm_provider"] if r.fmt == "litellm" else _proxy(r.payload)["meta"]["provider_name"]


def model_of(r: SimRecord) -> str:
    return r.payload["model_group"] if r.fmt == "litellm" else _proxy(r.payload)["meta"]["request_model"]


def failed(r: SimRecord) -> bool:
    return r.payload["status"] == "failure" if r.fmt == "litellm" else r.payload["response"]["status"] >= 400


def cache_hit(r: SimRecord) -> bool:
    return r.payload["cache_hit"] if r.fmt == "litellm" else _proxy(r.payload)["cache"]["cache_status"] == "Hit"


def cost_of(r: SimRecord) -> float:
    if r.fmt == "litellm":
        return r.payload["response_cost"]
    usage = _proxy(r.payload)["usage"]
    return usage.get("cost", usage.get("cost_request"))


def ttft_of(r: SimRecord) -> float | None:
    if r.fmt == "litellm":
        p = r.payload
        return p["completionStartTime"] - p["startTime"] if p["stream"] and p["status"] == "success" else None
    ms = _proxy(r.payload)["usage"].get("time_to_first_token")
    return ms / 1000 if ms is not None else None


def split(rs: list[SimRecord], at: float) -> tuple[list[SimRecord], list[SimRecord]]:
    return [r for r in rs if r.at < at], [r for r in rs if r.at >= at]


def pipeline_of(rs: list[SimRecord]) -> Pipeline:
    pipeline = Pipeline(SPEC, recorder=Recorder(clock=lambda: START), clock=lambda: START)
    for fmt in ("litellm", "kong"):
        result = pipeline.ingest([orjson.dumps(r.payload) for r in rs if r.fmt == fmt], fmt, "http")
        assert result.rejected == 0, result.errors[:5]
    return pipeline


# -- shape ---------------------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_records_and_another_seed_other_records() -> None:
    def fresh(seed: int) -> list[SimRecord]:  # not the shared cache: two separate runs
        return list(generate(SPEC, "cost_runaway", start=START, duration=120, rate=20, seed=seed, incident_after=60,
                             text=True))

    first = fresh(1)
    assert first == fresh(1)
    other = fresh(2)
    assert [r.at for r in other] != [r.at for r in first]


def test_record_ids_are_unique_and_differ_between_runs_started_at_different_times() -> None:
    rs = records("key_compromise", duration=600)
    ids = [r.payload["id"] if r.fmt == "litellm" else r.payload["request"]["id"] for r in rs]
    assert len(ids) == len(set(ids))
    later = list(generate(SPEC, "normal", start=START + 1, duration=60, rate=20))
    assert not {r.payload["id"] for r in later if r.fmt == "litellm"} & set(ids)


def test_an_unknown_scenario_is_refused_when_asked_for() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'outage'; expected one of normal, provider_outage"):
        generate(SPEC, "outage", start=START, duration=10, rate=1)


def test_records_come_in_time_order_within_the_duration() -> None:
    ats = [r.at for r in records(duration=300)]
    assert ats == sorted(ats)
    assert ats[0] >= START and ats[-1] < START + 300


def _nested_keys(record: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in record.items():
        keys.add(prefix + key)
        if isinstance(value, dict) and key not in ("masked_entity_count",):
            keys |= _nested_keys(value, f"{prefix}{key}.")
    return keys


def test_litellm_records_have_every_field_of_the_fixture_records(litellm_records: list[dict[str, Any]]) -> None:
    current, legacy = _nested_keys(litellm_records[0]), _nested_keys(litellm_records[8])
    assert "status_fields" not in legacy  # fixture 9 is the old payload shape
    rs = [r for s in SCENARIOS for r in records(s, duration=120, incident_after=30) if r.fmt == "litellm"]
    shapes = Counter()
    for r in rs:
        keys = _nested_keys(r.payload)
        if current <= keys:
            shapes["current"] += 1
        else:
            assert legacy <= keys, sorted(current - keys)
            shapes["legacy"] += 1
    assert shapes["current"] > 20 * shapes["legacy"] > 0


def test_kong_records_have_every_field_of_the_fixture_records(kong_records: list[dict[str, Any]]) -> None:
    top = set(kong_records[0])
    proxy = set(kong_records[0]["ai"]["proxy"])
    rs = [r for s in SCENARIOS for r in records(s, duration=120, incident_after=30) if r.fmt == "kong"]
    sections = Counter()
    for r in rs:
        assert top <= set(r.payload), sorted(top - set(r.payload))
        section = "proxy" if "proxy" in r.payload["ai"] else "ai-proxy"
        sections[section] += 1
        assert proxy <= set(r.payload["ai"][section])
        assert {"prompt_tokens", "completion_tokens", "total_tokens"} <= set(r.payload["ai"][section]["usage"])
    assert sections["proxy"] > 5 * sections["ai-proxy"] > 0


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_record_of_every_scenario_parses_with_the_real_adapter(scenario: str) -> None:
    adapters = {fmt: build_adapter(fmt, ()) for fmt in ("litellm", "kong")}
    for r in records(scenario, duration=120, incident_after=30, text=True):
        event = adapters[r.fmt](orjson.dumps(r.payload))
        assert isinstance(event, GatewayEvent), event


def test_records_weigh_three_to_four_kilobytes_and_carry_fake_text() -> None:
    rs = records(duration=300, text=True)
    for fmt in ("litellm", "kong"):
        sizes = [len(orjson.dumps(r.payload)) for r in rs if r.fmt == fmt]
        assert 2800 <= statistics.mean(sizes) <= 4200, (fmt, statistics.mean(sizes))
    messages = [r.payload["messages"] for r in rs if r.fmt == "litellm"]
    assert sum(bool(EMAIL.search(orjson.dumps(m).decode())) for m in messages) > len(messages) / 10


def test_records_carry_the_fields_that_must_never_leak_and_the_exporter_drops_them() -> None:
    rs = records(duration=600, text=True)
    secrets: set[str] = set()
    for r in rs:
        p = r.payload
        if r.fmt == "litellm":
            secrets |= {p["requester_ip_address"], p["metadata"]["requester_ip_address"]}
            secrets |= {p[k] for k in ("user_agent", "end_user") if p.get(k)}
            secrets |= set(EMAIL.findall(orjson.dumps(p["messages"]).decode()))
            if p["metadata"]["user_api_key_end_user_id"]:
                secrets.add(p["metadata"]["user_api_key_end_user_id"])
        else:
            secrets |= {p["client_ip"], p["request"]["headers"]["user-agent"]}
    assert sum(s.startswith("cust-") for s in secrets) > 50
    assert sum("@" in s for s in secrets) > 50
    exposed = pipeline_of(rs).scrape().decode()
    assert [s for s in secrets if s in exposed] == []


def test_costs_are_the_tokens_times_the_spec_price() -> None:
    checked = 0
    for r in records(duration=600):
        if failed(r) or cache_hit(r):
            assert cost_of(r) == 0.0
            continue
        input_price, output_price, cached_price = PRICES[model_of(r)]
        if r.fmt == "litellm":
            p = r.payload
            cached = p["hidden_params"]["usage_object"]["prompt_tokens_details"]["cached_tokens"]
            prompt, completion = p["prompt_tokens"], p["completion_tokens"]
        else:
            usage = _proxy(r.payload)["usage"]
            cached, prompt, completion = 0, usage["prompt_tokens"], usage["completion_tokens"]
        expected = ((prompt - cached) * input_price + cached * cached_price + completion * output_price) / 1e6
        assert cost_of(r) == pytest.approx(expected, rel=1e-9)
        checked += 1
    assert checked > 10_000


def test_cache_hits_cost_nothing_and_say_what_they_saved() -> None:
    hits = [r for r in records(duration=600) if cache_hit(r)]
    assert len(hits) > 100
    for r in hits:
        assert cost_of(r) == 0.0
        if r.fmt == "litellm":
            p = r.payload
            input_price, output_price, _ = PRICES[p["model_group"]]
            saved = (p["prompt_tokens"] * input_price + p["completion_tokens"] * output_price) / 1e6
            assert p["saved_cache_cost"] == pytest.approx(saved, rel=1e-9) and saved > 0


# The ordinary error mix, worked out from world.py's thresholds: of the requests no guardrail
# blocked, 0.06 % rate-limited, 0.04 % timed out, 0.05 % provider errors (0.15 % that burn an
# availability budget), and 1 % client errors, which count neither way.
ORDINARY_BAD = {"rate_limited": 0.0006, "timeout": 0.0004, "provider_error": 0.0005}
ORDINARY_CLIENT_ERRORS = 0.01
# ops.yaml's availability objectives as error budgets: 99.5 %, 99.5 %, 99 %.
BUDGETS = {"openai": 0.005, "anthropic": 0.005, "vertex_ai": 0.01}


def test_ordinary_traffic_has_every_error_kind_rarely_and_stays_well_inside_every_budget() -> None:
    # An hour at 20 per second, ~72,000 requests: ~29 of the rarest kind (timeouts), so a factor of
    # two either way is more than three standard deviations. Not the shared cache: it is large.
    rs = list(generate(SPEC, "normal", start=START, duration=HOUR, rate=20.0, seed=1, text=False))
    pipeline = pipeline_of(rs)
    outcomes = Counter()
    counted, bad = Counter(), Counter()  # per provider: requests the SLI counts, and its errors
    for key, value in pipeline.recorder.series(catalog.REQUESTS):
        provider, outcome = key[3], key[5]
        outcomes[outcome] += value
        if outcome == "success" or outcome in catalog.BAD_OUTCOMES:
            counted[provider] += value
        if outcome in catalog.BAD_OUTCOMES:
            bad[provider] += value
    n = sum(outcomes.values())
    assert n == len(rs) > 60_000
    for outcome, share in ORDINARY_BAD.items():
        assert share / 2 < outcomes[outcome] / n < share * 2, (outcome, outcomes[outcome] / n)
    assert outcomes["gateway_error"] == 0
    assert 0.7 * ORDINARY_CLIENT_ERRORS < outcomes["client_error"] / n < 1.3 * ORDINARY_CLIENT_ERRORS
    assert sum(bad.values()) / n < 0.0025  # 0.15 % expected: half the tightest budget at most
    assert counted.keys() == BUDGETS.keys()
    for provider, budget in BUDGETS.items():
        assert bad[provider] / counted[provider] < budget / 2, (provider, bad[provider] / counted[provider])


def test_ordinary_traffic_breaks_no_policy_and_no_guardrail_fails_open() -> None:
    pipeline = pipeline_of(records())
    assert dict(pipeline.recorder.series(catalog.POLICY_VIOLATIONS)) == {}
    results = Counter()
    for (*_who, result), value in pipeline.recorder.series(catalog.GUARDRAIL_EVALUATIONS):
        results[result] += value
    # Every required guardrail answered: passed, masked PII, or blocked an injection attempt.
    assert set(results) == {"passed", "masked", "blocked"}
    assert results["passed"] > 1000


def test_about_one_percent_has_no_team_and_a_few_keys_are_unknown_to_the_spec() -> None:
    rs = records()
    requests = Counter()
    apps = set()
    for (team, app, *_), value in pipeline_of(rs).recorder.series(catalog.REQUESTS):
        requests[team] += value
        apps.add(app)
    assert 0.006 < requests["__unassigned__"] / len(rs) < 0.015
    unknown = apps - {a.name for a in SPEC.apps} - {"__unassigned__"}
    assert 2 <= len(unknown) <= 10
    assert requests.keys() - {"__unassigned__"} == {t.name for t in SPEC.teams}


def test_teams_use_their_apps_and_approved_models_through_both_gateways() -> None:
    rs = records(duration=600)
    kong = [r for r in rs if r.fmt == "kong"]
    assert 0.15 < len(kong) / len(rs) < 0.6
    # Kong consumers are app aliases, so the exporter attributes them through the spec.
    assert {r.payload["consumer"]["username"] for r in kong} <= set(APP_OF_ALIAS)
    team_ids = {r.payload["metadata"]["user_api_key_team_id"] for r in rs if r.fmt == "litellm"}
    assert {"team-1", "team-2", "team-3"} <= team_ids


def test_teams_that_require_guardrails_get_them_evaluated() -> None:
    rs = [r for r in records() if r.fmt == "litellm"]
    pii = [g for r in rs if team_of(r) == "support" for g in (r.payload.get("guardrail_information") or ())]
    assert {g["guardrail_name"] for g in pii} == {"presidio-pii"}
    masked = [g for g in pii if g.get("masked_entity_count")]
    assert 0.05 < len(masked) / len(pii) < 0.2
    assert all(g["guardrail_status"] == "guardrail_intervened" for g in masked)
    injection = [g for r in rs if team_of(r) == "search" for g in (r.payload.get("guardrail_information") or ())]
    statuses = Counter(g["guardrail_status"] for g in injection)
    # 0.3 % block an injection attempt, the rest pass; none fails to answer (a fail-open).
    assert set(statuses) == {"success", "guardrail_intervened"}
    assert 0.001 < statuses["guardrail_intervened"] / sum(statuses.values()) < 0.01
    analytics = [r for r in rs if team_of(r) == "analytics"]
    assert all(not r.payload.get("guardrail_information") for r in analytics)


def test_the_diurnal_curve_peaks_in_the_afternoon_and_averages_one_over_a_week() -> None:
    week = [diurnal_factor(START + m * 60) for m in range(7 * 24 * 60)]
    assert statistics.mean(week) == pytest.approx(1.0, abs=0.01)
    monday = START - (START % 86_400)
    assert diurnal_factor(monday + 15 * HOUR) == pytest.approx(1.1 * 1.6)
    assert diurnal_factor(monday + 3 * HOUR) == pytest.approx(1.1 * 0.4)
    rs = list(generate(SPEC, "normal", start=monday, duration=86_400, rate=0.25, diurnal=True, text=False))
    peak = sum(monday + 14 * HOUR <= r.at < monday + 16 * HOUR for r in rs)
    trough = sum(monday + 2 * HOUR <= r.at < monday + 4 * HOUR for r in rs)
    assert 3.0 < peak / trough < 5.5  # 1.6 / 0.4 = 4 at the centre of each window


# -- scenarios -----------------------------------------------------------------------------------

INCIDENT = 1200.0  # seconds of ordinary traffic, then as long again with the incident


def incident(scenario: str, *, text: bool = False) -> tuple[list[SimRecord], list[SimRecord]]:
    """(records before the incident, records after it) at 10 ordinary records per second."""
    rs = records(scenario, duration=2 * INCIDENT, rate=10.0, incident_after=INCIDENT, text=text)
    return split(rs, START + INCIDENT)


@pytest.mark.parametrize("scenario", SCENARIOS[1:])
def test_before_the_incident_every_scenario_is_ordinary_traffic(scenario: str) -> None:
    ordinary = records(duration=300)
    assert records(scenario, duration=300, incident_after=300) == ordinary


def test_provider_outage_fails_about_70_percent_of_openai_requests() -> None:
    before, after = incident("provider_outage")

    def error_share(rs: list[SimRecord], provider: str) -> float:
        reached = [r for r in rs if provider_of(r) == provider and not cache_hit(r)]
        return sum(failed(r) for r in reached) / len(reached)

    # Ordinarily ~1.2 % fail: 1 % client errors, 0.15 % provider-side, a few blocked attempts.
    assert error_share(before, "openai") < 0.03
    # 0.7, plus the ordinary ~1.2 % of the other 0.3: ~0.704 (+-0.005 over ~7,000 requests).
    assert 0.68 < error_share(after, "openai") < 0.73
    assert error_share(after, "anthropic") < 0.03
    statuses = Counter(r.payload["response"]["status"] for r in after if r.fmt == "kong" and provider_of(r) == "openai")
    assert {503, 502, 504} <= set(statuses)
    classes = Counter(r.payload["error_information"]["error_class"] for r in after
                      if r.fmt == "litellm" and provider_of(r) == "openai" and failed(r))
    assert {"ServiceUnavailableError", "BadGatewayError", "Timeout"} <= set(classes)


def test_cost_runaway_raises_analytics_spend_rate_about_twentyfold() -> None:
    before, after = incident("cost_runaway")

    def spend(rs: list[SimRecord], team: str) -> float:
        return sum(cost_of(r) for r in rs if team_of(r) == team)

    ratio = spend(after, "analytics") / spend(before, "analytics")
    assert 15 < ratio < 26
    volume = sum(team_of(r) == "analytics" for r in after) / sum(team_of(r) == "analytics" for r in before)
    assert 4.5 < volume < 5.5
    assert 0.8 < spend(after, "search") / spend(before, "search") < 1.25
    # Legitimate traffic: still only approved models.
    assert {model_of(r) for r in after if team_of(r) == "analytics"} <= {
        "gpt-4o-mini", "gemini-2.5-pro", "gemini-2.5-flash", "text-embedding-3-small"}


def test_prompt_injection_burst_blocks_many_requests_of_one_app_in_both_gateway_shapes() -> None:
    before, after = incident("prompt_injection_burst")

    def blocked(r: SimRecord) -> bool:
        if r.fmt == "litellm":
            info = r.payload["error_information"] or {}
            return info.get("error_class") == "GuardrailRaisedException"
        guard = r.payload["ai"].get("proxy", {}).get("lakera-guard") or {}
        return r.payload["response"]["status"] == 400 and guard.get("input_block_reason") == "prompt_attack"

    app_before = [r for r in before if app_of(r) == "search-api"]
    hits = [r for r in after if blocked(r)]
    burst = [r for r in hits if app_of(r) == "search-api"]
    assert len(hits) - len(burst) < 0.01 * len(after)  # the ordinary background of attempts elsewhere
    assert len(burst) > 8 * len(app_before)
    assert 0.4 < sum(r.fmt == "kong" for r in burst) / len(burst) < 0.6
    assert sum(blocked(r) for r in app_before) < 0.01 * len(app_before)
    pipeline = pipeline_of(after)
    metrics = parse_metrics(pipeline.scrape().decode())
    assert total(metrics, "genai_requests_total", app="search-api", outcome="guardrail_blocked") == len(burst)


def test_pii_leak_finds_pii_in_the_output_of_one_app_repeatedly() -> None:
    before, after = incident("pii_leak", text=True)

    def output_findings(r: SimRecord) -> list[dict[str, Any]]:
        info = r.payload.get("guardrail_information") if r.fmt == "litellm" else None
        return [g for g in info or () if g["guardrail_mode"] == "post_call"]

    assert not any(output_findings(r) for r in before)
    assert {app_of(r) for r in after if output_findings(r)} == {"zendesk-assist"}
    served = [r for r in after if app_of(r) == "zendesk-assist" and not failed(r) and not cache_hit(r)]
    leaking = [r for r in served if output_findings(r)]
    assert 0.5 < len(leaking) / len(served) < 0.7
    for r in leaking:
        (finding,) = output_findings(r)
        assert finding["guardrail_status"] == "guardrail_intervened" and finding["masked_entity_count"]
        assert EMAIL.search(r.payload["response"]["choices"][0]["message"]["content"])
    masked = {k[2:] : v for k, v in pipeline_of(after).recorder.series(catalog.GUARDRAIL_EVALUATIONS)
              if k[:2] == ("support", "zendesk-assist")}
    assert masked[("presidio-pii", "output", "masked")] == len(leaking)


def test_key_compromise_sends_huge_volume_to_unapproved_models_from_many_ips() -> None:
    before, after = incident("key_compromise")
    key = "svc-campaign-writer"
    mine_before = [r for r in before if app_of(r) == "campaign-writer"]
    mine_after = [r for r in after if app_of(r) == "campaign-writer"]
    assert 20 < len(mine_after) / len(mine_before) < 32  # ordinary plus 25x
    approved = {"gpt-4o-mini", "claude-haiku-3-5", "gemini-2.5-flash"}
    assert all(model_of(r) in approved for r in mine_before)
    abusive = [r for r in mine_after if r.payload["metadata"]["user_api_key_alias"] == key
               and model_of(r) not in approved]
    assert 0.75 < len(abusive) / len(mine_after) < 0.9
    assert len({r.payload["requester_ip_address"] for r in abusive}) > 200
    violations = {k: v for k, v in pipeline_of(after).recorder.series(catalog.POLICY_VIOLATIONS)}
    assert violations[("marketing", "campaign-writer", "unapproved_model")] == len(abusive)
    assert ("marketing", "campaign-writer", "unapproved_model") not in dict(
        pipeline_of(before).recorder.series(catalog.POLICY_VIOLATIONS))


def test_runaway_loop_repeats_one_request_evenly_at_twenty_times_the_app_rate() -> None:
    before, after = incident("runaway_loop", text=True)
    mine_before = [r for r in before if app_of(r) == "nightly-batch"]
    mine_after = [r for r in after if app_of(r) == "nightly-batch"]
    assert 17 < len(mine_after) / len(mine_before) < 23
    prompts = Counter(orjson.dumps(r.payload["messages"]) for r in mine_after)
    (prompt, repeats), = prompts.most_common(1)
    loop = [r for r in mine_after if orjson.dumps(r.payload["messages"]) == prompt]
    assert repeats > 0.9 * (len(mine_after) - len(mine_before))
    gaps = {round(b.at - a.at, 6) for a, b in itertools.pairwise(loop)}
    assert len(gaps) == 1
    served = [r for r in loop if not failed(r)]
    assert len({model_of(r) for r in loop}) == 1
    assert max(r.payload["prompt_tokens"] for r in served) - min(r.payload["prompt_tokens"] for r in served) <= 3
    assert all(12 <= r.payload["completion_tokens"] <= 16 for r in served)


def test_latency_degradation_slows_one_model_five_to_eight_times() -> None:
    before, after = incident("latency_degradation")

    def median_ttft(rs: list[SimRecord], model: str) -> float:
        return statistics.median(t for r in rs if model_of(r) == model and (t := ttft_of(r)) is not None)

    slow_before, slow_after = median_ttft(before, "claude-sonnet-4"), median_ttft(after, "claude-sonnet-4")
    assert 0.35 < slow_before < 0.7
    assert 5 < slow_after / slow_before < 8
    assert 2.5 < slow_after < 4.5
    assert 0.85 < median_ttft(after, "gpt-4o") / median_ttft(before, "gpt-4o") < 1.15


# -- posting -------------------------------------------------------------------------------------

class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def test_batches_flush_at_100_records_or_after_one_second_and_send_each_record_once() -> None:
    rs = [SimRecord("litellm", {"n": i}, 10.0 + i * 0.005) for i in range(250)]  # 200/s for 1.25 s
    rs += [SimRecord("kong", {"n": 1000 + i}, 10.0 + i * 0.3) for i in range(5)]  # 3 per second
    rs.sort(key=lambda r: r.at)
    sent: list[tuple[str, list[int], float]] = []
    fake = FakeTime(10.0)

    def send(fmt: str, batch: list[dict[str, Any]]) -> None:
        sent.append((fmt, [p["n"] for p in batch], fake.now))

    assert run(rs, send, clock=fake.clock, sleep=fake.sleep) is False
    litellm = [b for f, b, _ in sent if f == "litellm"]
    assert [len(b) for b in litellm] == [100, 100, 50]
    assert [n for batch in litellm for n in batch] == list(range(250))
    kong = [(b, t) for f, b, t in sent if f == "kong"]
    # Records at 10.0, 10.3, 10.6, 10.9 wait for the 1 s flush at 11.0; 11.2 for the final one.
    assert [b for b, _ in kong] == [[1000, 1001, 1002, 1003], [1004]]
    assert kong[0][1] == pytest.approx(11.0)
    assert fake.now >= rs[-1].at


class _Collector(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    batches: ClassVar[list[tuple[str, str | None, list[Any]]]] = []
    connections: ClassVar[set[int]] = set()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).batches.append((self.path, self.headers.get("Authorization"), orjson.loads(body)))
        type(self).connections.add(id(self.connection))
        answer = b'{"accepted": 1}'
        self.send_response(202)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.batches, _Collector.connections = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_poster_sends_json_arrays_with_the_bearer_token_over_one_connection(collector: str) -> None:
    poster = Poster(collector, token="s3cret")
    for i in range(5):
        poster.post("litellm" if i % 2 else "kong", [{"i": i}, {"i": i + 100}])
    poster.close()
    assert [(path, auth) for path, auth, _ in _Collector.batches] == [
        ("/ingest/kong", "Bearer s3cret"), ("/ingest/litellm", "Bearer s3cret"), ("/ingest/kong", "Bearer s3cret"),
        ("/ingest/litellm", "Bearer s3cret"), ("/ingest/kong", "Bearer s3cret")]
    assert _Collector.batches[3][2] == [{"i": 3}, {"i": 103}]
    assert len(_Collector.connections) == 1
    assert poster.summary.records_sent == 10 and poster.summary.http_errors == 0


def test_cli_without_a_token_sends_no_authorization_header(collector: str, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWATCH_INGEST_TOKEN", raising=False)
    assert main(["--target", collector, "--spec", str(EXAMPLE_SPEC), "--rate", "200", "--duration", "0.5"]) == 0
    assert _Collector.batches and {auth for _, auth, _ in _Collector.batches} == {None}
    sent = sum(len(batch) for _, _, batch in _Collector.batches)
    assert re.fullmatch(rf"sent {sent} records \(litellm \d+, kong \d+\) in \d+ batches to {collector}; "
                        r"0 HTTP errors, 0 connection failures\n", capsys.readouterr().out)


def test_cli_exits_non_zero_when_the_target_is_unreachable_throughout(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--target", url, "--spec", str(EXAMPLE_SPEC), "--rate", "100", "--duration", "0.3"]) == 1
    captured = capsys.readouterr()
    assert "sent 0 records" in captured.out and "unreachable throughout" in captured.err


@pytest.mark.slow
def test_live_run_against_the_real_exporter_is_counted_exactly(exporter_factory: Any,
                                                               capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    env = clean_env(GATEWATCH_INGEST_TOKEN="tok-123")
    exporter = exporter_factory(env=env)
    monkeypatch.setenv("SIM_TOKEN", "tok-123")
    code = main(["--target", exporter.url, "--spec", str(EXAMPLE_SPEC), "--rate", "150", "--duration", "2",
                 "--scenario", "key_compromise", "--token-env", "SIM_TOKEN"])
    assert code == 0
    line = capsys.readouterr().out
    sent = int(re.search(r"sent (\d+) records", line).group(1))
    assert sent > 200 and "0 HTTP errors" in line
    metrics = exporter.scrape()
    assert total(metrics, "genai_exporter_events_total", result="accepted") == sent
    assert total(metrics, "genai_requests_total") == sent
    assert total(metrics, "genai_policy_violations_total", app="campaign-writer", policy="unapproved_model") > 0
    monkeypatch.delenv("SIM_TOKEN")
    assert main(["--target", exporter.url, "--spec", str(EXAMPLE_SPEC), "--rate", "50", "--duration", "0.5",
                 "--token-env", "SIM_TOKEN"]) == 0
    assert re.search(r"sent 0 records .* [1-9]\d* HTTP errors", capsys.readouterr().out)
