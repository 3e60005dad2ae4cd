"""Label bounds, attribution, pricing, policy and duplicate detection, each against the example spec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.spec import load
from exporter.attribution import Attributor
from exporter.dedupe import SLICES, Deduplicator
from exporter.event import GatewayEvent
from exporter.labels import LabelBound, is_label_safe
from exporter.periods import month_bounds
from exporter.policy import PolicyChecker
from exporter.pricing import PriceBook
from tests.paths import EXAMPLE_SPEC

SPEC = load(EXAMPLE_SPEC)


def event(**fields: object) -> GatewayEvent:
    base: dict[str, object] = {
        "id": "r1", "timestamp": 0.0, "attributes": {}, "model": "gpt-4o", "provider": "openai",
        "operation": "chat", "outcome": "success",
    }
    base.update(fields)
    return GatewayEvent(**base)  # type: ignore[arg-type]


# --- label bounds --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("search-api", True),
        ("gpt-4o-2024-08-06", True),
        ("vertex_ai/gemini-2.5-pro", True),
        ("ft:gpt-4o:acme:custom", True),
        ("alice@example.com", False),
        ("10.0.3.3", False),
        ("2001:db8::1", False),
        ("sk-live-abc123", False),
        ("Bearer abc", False),
        ("eyJhbGciOiJIUzI1NiJ9", False),
        ("000000009e3779b1000000009e3779b1", False),
        ("a" * 65, False),
        ("has space", False),
        ("", False),
        ("line\nbreak", False),
    ],
)
def test_label_safety(value: str, safe: bool) -> None:
    assert is_label_safe(value) is safe


def test_bound_admits_known_then_first_n_then_folds_and_counts() -> None:
    folds: list[str] = []
    bound = LabelBound("app", ["search-api"], limit=2, on_fold=folds.append)
    assert [bound(v) for v in ["search-api", "x1", "x2", "x3", "x1", "alice@example.com"]] == [
        "search-api", "x1", "x2", "__other__", "x1", "__other__",
    ]
    assert folds == ["app", "app"]
    assert bound.admitted == ("x1", "x2")


def test_bound_restores_admitted_values_in_order() -> None:
    bound = LabelBound("app", [], limit=2, on_fold=lambda _: None, admitted=["b", "a", "c"])
    assert bound.admitted == ("b", "a")
    assert bound("c") == "__other__"


@given(st.lists(st.text(max_size=80), max_size=300))
def test_bound_never_exceeds_its_limit_nor_exposes_unsafe_values(values: list[str]) -> None:
    bound = LabelBound("app", ["known"], limit=5, on_fold=lambda _: None)
    exposed = {bound(v) for v in values}
    assert len(exposed - {"known", "__other__"}) <= 5
    assert all(v in {"known", "__other__", "__unassigned__"} or is_label_safe(v) for v in exposed)


# --- attribution ---------------------------------------------------------------------------

def attributor() -> Attributor:
    noop = lambda _label: None  # noqa: E731
    return Attributor(SPEC, LabelBound("team", [t.name for t in SPEC.teams], 2, noop),
                      LabelBound("app", [a.name for a in SPEC.apps], 2, noop))


TEAM = "metadata.user_api_key_team_alias"
TEAM_ID = "metadata.user_api_key_team_id"
KEY = "metadata.user_api_key_alias"

ATTRIBUTION = [
    # (format, attributes, team, app, classification, known team)
    ("litellm", {TEAM: "search", TEAM_ID: "team-1", KEY: "svc-search"}, "search", "search-api", "internal", True),
    ("litellm", {TEAM: "support-bot", KEY: "zendesk-assist"}, "support", "zendesk-assist", "internal", True),
    ("litellm", {TEAM_ID: "team-3"}, "analytics", "__unassigned__", "internal", True),
    ("litellm", {KEY: "nightly-batch"}, "analytics", "nightly-batch", "internal", True),
    ("litellm", {}, "__unassigned__", "__unassigned__", "internal", False),
    ("litellm", {TEAM: "growth", KEY: "svc-growth"}, "growth", "svc-growth", "internal", False),
    ("litellm", {TEAM: "search", "tag.data-classification": "Confidential"}, "search", "__unassigned__",
     "confidential", True),
    ("litellm", {TEAM: "search", "tag.data-classification": "top-secret"}, "search", "__unassigned__",
     "restricted", True),
    ("kong", {"consumer.username": "search-svc"}, "search", "search-api", "internal", True),
    ("kong", {"consumer.username": "intern-app", "request.headers.x-data-classification": "public"},
     "research", "intern-app", "public", True),
    ("kong", {"consumer.username": "unknown-consumer"}, "__unassigned__", "unknown-consumer", "internal", False),
    ("events", {"team": "legal", "app": "contract-review", "classification": "restricted"}, "legal",
     "contract-review", "restricted", True),
]


@pytest.mark.parametrize(("fmt", "attributes", "team", "app", "level", "known"), ATTRIBUTION)
def test_attribution(fmt: str, attributes: dict[str, str], team: str, app: str, level: str, known: bool) -> None:
    who = attributor().resolve(fmt, attributes)
    assert (who.team, who.app, who.classification, who.known_team) == (team, app, level, known)


def test_attribution_reads_only_the_paths_the_spec_names() -> None:
    paths = attributor().attribute_paths()
    assert TEAM in paths and "consumer.username" in paths and "request.headers.x-data-classification" in paths
    assert "metadata.user_api_key_end_user_id" not in paths


# --- pricing -------------------------------------------------------------------------------

PRICES = PriceBook(SPEC)

PRICING = [
    # (event fields, cost, cache saved, unpriced) — worked out from ops.yaml's per-million prices
    ({"reported_cost_usd": 0.00367, "input_tokens": 812, "output_tokens": 164}, 0.00367, 0.0, False),
    # no reported cost: 1000 in x 2.50 + 500 out x 10.00 per million
    ({"input_tokens": 1000, "output_tokens": 500}, 0.0075, 0.0, False),
    # cached input at its own rate: 976 x 2.50 + 24 x 1.25 + 0 out
    ({"input_tokens": 1000, "cached_input_tokens": 24}, 0.00247, 0.0, False),
    # reported 0 with tokens: the gateway did not know the price, the table does
    ({"reported_cost_usd": 0.0, "input_tokens": 1000, "output_tokens": 0}, 0.0025, 0.0, False),
    # failure with no tokens: a reported 0 is right
    ({"reported_cost_usd": 0.0, "outcome": "rate_limited"}, 0.0, 0.0, False),
    # cache hit: costs what the gateway says (0) and saves what the tokens would have cost
    ({"cache_hit": True, "reported_cost_usd": 0.0, "model": "gpt-4o-mini", "input_tokens": 350,
      "output_tokens": 90}, 0.0, 0.0001065, False),
    ({"cache_hit": True, "reported_cache_saved_usd": 0.5, "input_tokens": 10}, 0.0, 0.5, False),
    # a model the table does not know, with tokens and no reported cost: unpriced
    ({"model": "mystery-1", "input_tokens": 10}, 0.0, 0.0, True),
    ({"model": "mystery-1", "reported_cost_usd": 0.2, "input_tokens": 10}, 0.2, 0.0, False),
    # provider-prefixed and dated aliases
    ({"model": "anthropic/claude-sonnet-4", "input_tokens": 2048, "output_tokens": 512}, 0.013824, 0.0, False),
    ({"model": "OPENAI/GPT-4O", "input_tokens": 1_000_000}, 2.5, 0.0, False),
]


@pytest.mark.parametrize(("fields", "cost", "saved", "unpriced"), PRICING)
def test_pricing(fields: dict[str, object], cost: float, saved: float, unpriced: bool) -> None:
    ev = event(**fields)
    got_cost, got_saved, got_unpriced = PRICES.price(ev, PRICES.canonical(ev.model))
    assert got_cost == pytest.approx(cost, rel=1e-12, abs=1e-15)
    assert got_saved == pytest.approx(saved, rel=1e-12, abs=1e-15)
    assert got_unpriced is unpriced


# --- policy --------------------------------------------------------------------------------

POLICY = PolicyChecker(SPEC)
LAKERA_PASSED = (("lakera-prompt-injection", "input", "passed"),)

POLICIES = [
    # (team, model, classification, outcome, guardrails, violations, not_run rows)
    ("search", "gpt-4o", "internal", "success", LAKERA_PASSED, (), ()),
    ("research", "gpt-4o", "public", "success", (), ("unapproved_model",), ()),
    ("analytics", "gemini-2.5-pro", "internal", "success", (), (), ()),
    ("analytics", "gpt-4o-mini", "confidential", "success", (), ("classification_breach",), ()),
    ("search", "gpt-4o", "internal", "success", (), ("guardrail_bypass",),
     (("lakera-prompt-injection", "input", "not_run"),)),
    ("search", "o3", "internal", "success", (("lakera-prompt-injection", "input", "failed_open"),),
     ("guardrail_bypass",), ()),
    ("search", "o3", "internal", "success", (("lakera-prompt-injection", "input", "failed_closed"),), (), ()),
    # a request stopped by a guardrail or the gateway's own quota reached no provider
    ("search", "gpt-4o", "internal", "quota_exceeded", (), (), ()),
    ("legal", "gpt-4o-mini", "restricted", "success",
     (("presidio-pii", "input", "masked"), ("lakera-prompt-injection", "input", "passed")), ("unapproved_model",), ()),
    ("__unassigned__", "mystery-1", "restricted", "success", (), (), ()),
    ("growth", "gpt-4o", "internal", "success", (), (), ()),
]


@pytest.mark.parametrize(("team", "model", "level", "outcome", "guardrails", "violations", "missing"), POLICIES)
def test_policy(team: str, model: str, level: str, outcome: str, guardrails: tuple, violations: tuple,
                missing: tuple) -> None:
    result = POLICY.check(team, model, level, outcome, guardrails)
    assert result.violations == violations
    assert result.missing_guardrails == missing


# --- duplicates ----------------------------------------------------------------------------

def test_duplicate_within_window_then_forgotten() -> None:
    now = [1000.0]
    dedupe = Deduplicator(60, lambda: now[0])
    assert dedupe.is_duplicate("litellm", "a") is False
    assert dedupe.is_duplicate("litellm", "a") is True
    assert dedupe.is_duplicate("kong", "a") is False, "ids are per format"
    now[0] += 59
    assert dedupe.is_duplicate("litellm", "a") is True, "still inside the window"
    # remembered for the window plus at most one slice
    now[0] += 1 + 60 / SLICES
    assert dedupe.is_duplicate("litellm", "a") is False


def test_duplicate_window_survives_dump_and_load() -> None:
    now = [1000.0]
    first = Deduplicator(60, lambda: now[0])
    first.is_duplicate("litellm", "req-canary-7781")
    now[0] += 30
    second = Deduplicator(60, lambda: now[0])
    second.load(first.dump())
    assert second.is_duplicate("litellm", "req-canary-7781") is True
    assert second.is_duplicate("litellm", "other") is False
    now[0] += 30 + 60 / SLICES + 1  # the first id's window and slice are over, the second's are not
    assert second.is_duplicate("litellm", "req-canary-7781") is False, "expired on its original schedule"
    assert second.is_duplicate("litellm", "other") is True
    assert "canary" not in repr(first.dump()), "raw ids are never stored"


def test_zero_window_disables_duplicate_detection() -> None:
    dedupe = Deduplicator(0, lambda: 0.0)
    assert not dedupe.is_duplicate("litellm", "a")
    assert not dedupe.is_duplicate("litellm", "a")


# --- budget period -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ("2026-11-29T05:30:00", "2026-11-01T00:00:00", "2026-12-01T00:00:00"),
        ("2026-12-31T23:59:59", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
        ("2028-02-29T12:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),
        ("2026-03-01T00:00:00", "2026-03-01T00:00:00", "2026-04-01T00:00:00"),
    ],
)
def test_month_bounds_are_the_utc_calendar_month(now: str, start: str, end: str) -> None:
    ts = lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()  # noqa: E731
    assert month_bounds(ts(now)) == (ts(start), ts(end))
