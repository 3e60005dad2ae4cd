"""The spec model: the example loads, and every kind of broken spec names file, line, path and expectation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from contract import spec as spec_model
from tests.paths import EXAMPLE_SPEC, ROOT

EXAMPLE = EXAMPLE_SPEC.read_text()


def test_example_spec_loads_with_the_organisation_it_describes() -> None:
    spec = spec_model.load(EXAMPLE_SPEC)
    assert len(spec.teams) >= 6
    assert spec.team("analytics").budget.monthly_usd == 9000
    assert spec.team("support").aliases == ("team-2", "support-bot")
    for team in spec.teams:
        assert team.owner and team.budget_owner.email and team.cost_center


def test_price_table_covers_every_fixture_model() -> None:
    spec = spec_model.load(EXAMPLE_SPEC)
    names = {m.name for m in spec.models}
    assert {"gpt-4o", "gpt-4o-mini", "o3", "claude-sonnet-4", "gemini-2.5-pro", "text-embedding-3-small"} <= names


# (what to change in the example, the path the error must name, a fragment of the expectation)
BROKEN = [
    ("monthly_usd: 9000", "monthly_usd: -5", "teams[2].budget.monthly_usd", "expected float >= 0.0"),
    ("monthly_usd: 9000", "monthly_usd: lots", "teams[2].budget.monthly_usd", "expected float, got str"),
    ("{name: intern-app, team: research}", "{name: intern-app, team: reserch}", "apps[9].team", "got 'reserch'"),
    ("owner: tom-becker", "owner: tom@northwind.example", "teams[4]", "not an email"),
    ("  max_body_bytes: 10485760", "  max_body_byts: 10485760", "ingest", "unknown key max_body_byts"),
    ("required_guardrails: [presidio-pii]\n", "required_guardrails: [presidio]\n",
     "teams[1].required_guardrails[0]", "expected a guardrail declared under guardrails"),
    ("claude-haiku-3-5]\n    classifications: [public, internal]", "claude-haiku-3-5]\n    classifications: [secret]",
     "teams[6].classifications[0]", "got 'secret'"),
    ("approved_models: [claude-sonnet-4, gpt-4o]", "approved_models: [claude-sonet-4, gpt-4o]",
     "teams[3].approved_models[0]", "matching a model in models"),
    ("app: [consumer.username]", "app: [consumer.email]", "attribution.kong.app[0]", "a field the kong adapter reads"),
    ("aliases: [team-3]", "aliases: [team-2]", "teams[2].aliases[0]", "already names team 'support'"),
    ("  name: Northwind Labs\n", "", "organization", "missing required key name"),
    ("version: 1", "version: 2", "version", "expected 1"),
    ("  token_env: GATEWATCH_INGEST_TOKEN", "  token_env: s3cr3t-t0ken", "ingest.token_env", "expected str matching"),
    ("  default: internal", "  default: secret", "classification.default", "expected one of the levels"),
    # alerting and SLOs
    ("    research: {cost_anomaly_factor: 8}", "    reserch: {cost_anomaly_factor: 8}",
     "alerting.team_overrides.reserch", "expected one of the teams"),
    ("receiver: search-oncall-chat}", "receiver: search-chat}", "alerting.team_overrides.search.receiver",
     "expected a receiver from alerting.receivers"),
    ("  security_receiver: secops", "  security_receiver: sec-ops", "alerting.security_receiver", "got 'sec-ops'"),
    ("provider: vertex_ai, target_percent: 99.0}", "provider: vertex_ai, target_percent: 100.5}",
     "slos.objectives[2].target_percent", "expected float <= 100.0"),
    # 14.4 x (1 - 0.93) = 1.008: the fast-burn page would need more than every request to fail
    ("provider: vertex_ai, target_percent: 99.0}", "provider: vertex_ai, target_percent: 93.0}",
     "slos.objectives[2].target_percent", "expected a target above 93.06 %"),
    ("threshold_seconds: 1.5", "threshold_seconds: 1.7", "slos.objectives[4].threshold_seconds",
     "expected one of the TTFT histogram bounds"),
    ("{name: openai-availability, kind: availability, provider: openai,",
     "{name: openai-availability, kind: availability, provider: openai, model: gpt-4o,",
     "slos.objectives[0]", "exactly one of provider or model"),
    ("      pagerduty: {routing_key_file: /etc/alertmanager/secrets/pagerduty-routing-key}",
     "      pagerduty: {routing_key_file: /etc/alertmanager/secrets/pagerduty-routing-key}\n"
     "      email: {to: oncall@northwind.example}", "alerting.receivers[0]", "exactly one of email"),
    # the audit trail's retention: a minimum above the maximum could never be honoured
    ("  retention_min_days: 180", "  retention_min_days: 401", "audit.retention_min_days",
     "expected at most audit.retention_max_days (400), got 401"),
    ("  retention_max_days: 400", "  retention_max_days: 0", "audit.retention_max_days", "expected int >= 1"),
    # per-record amount bounds and snapshot generations
    ("    max_tokens: 100000000", "    max_tokens: 0", "ingest.bounds.max_tokens", "expected int >= 1"),
    ("    max_cost_usd: 10000", "    max_cost_usd: -1", "ingest.bounds.max_cost_usd", "expected float > 0.0"),
    ("    max_duration_seconds: 86400", "    max_duration_secs: 86400", "ingest.bounds",
     "unknown key max_duration_secs"),
    ("  snapshot_generations: 2", "  snapshot_generations: 0", "ingest.snapshot_generations", "expected int >= 1"),
]


@pytest.mark.parametrize(("old", "new", "path", "expectation"), BROKEN, ids=[b[2] for b in BROKEN])
def test_broken_spec_names_file_path_and_expectation(old: str, new: str, path: str, expectation: str) -> None:
    assert old in EXAMPLE, "the table must change something that exists"
    with pytest.raises(spec_model.SpecError) as caught:
        spec_model.parse(EXAMPLE.replace(old, new, 1), "ops.yaml")
    error = caught.value
    assert error.file == "ops.yaml"
    assert error.path == path
    assert expectation in error.message
    assert str(error).startswith("ops.yaml:")


def test_error_line_points_at_the_offending_key() -> None:
    broken = EXAMPLE.replace("monthly_usd: 9000", "monthly_usd: -5")
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "monthly_usd: -5" in text)
    with pytest.raises(spec_model.SpecError) as caught:
        spec_model.parse(broken, "ops.yaml")
    assert caught.value.line == line


@pytest.mark.parametrize(
    ("text", "expectation"),
    [
        ("teams: [", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("", "expected a mapping"),
    ],
)
def test_unparseable_spec(text: str, expectation: str) -> None:
    with pytest.raises(spec_model.SpecError, match=expectation):
        spec_model.parse(text, "ops.yaml")


def test_missing_file_is_a_spec_error(tmp_path) -> None:
    with pytest.raises(spec_model.SpecError, match="cannot read the spec"):
        spec_model.load(tmp_path / "absent.yaml")


def test_hash_ignores_comments_but_not_meaning() -> None:
    base = spec_model.spec_hash(spec_model.parse(EXAMPLE))
    commented = spec_model.parse("# a new comment\n" + EXAMPLE)
    changed = spec_model.parse(EXAMPLE.replace("monthly_usd: 9000", "monthly_usd: 9001"))
    assert spec_model.spec_hash(commented) == base
    assert spec_model.spec_hash(changed) != base


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("monthly_usd: 9000", "monthly_usd: -5", "teams[2].budget.monthly_usd: expected float >= 0.0"),
        ("    research: {cost_anomaly_factor: 8}", "    ghost-team: {cost_anomaly_factor: 8}",
         "alerting.team_overrides.ghost-team: expected one of the teams"),
        ("target_percent: 99.0}", "target_percent: 101}", "slos.objectives[2].target_percent: expected float <= 100.0"),
        ("target_percent: 99.0}", "target_percent: 90}", "slos.objectives[2].target_percent: expected a target above"),
    ],
)
def test_generate_refuses_a_broken_spec_and_writes_nothing(tmp_path, old: str, new: str, message: str) -> None:
    broken = tmp_path / "ops.yaml"
    broken.write_text(EXAMPLE.replace(old, new, 1))
    out = tmp_path / "build"
    run = subprocess.run(
        [sys.executable, "generate.py", "--spec", str(broken), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert run.returncode == 2
    assert message in run.stderr
    assert str(broken) in run.stderr
    assert not out.exists()



def _without_alerting(text: str) -> str:
    start = text.index("\nalerting:\n")
    end = text.index("\n# Service-level objectives")
    return text[:start] + text[end:]


def test_thresholds_keep_their_defaults_without_an_alerting_section() -> None:
    spec = spec_model.parse(_without_alerting(EXAMPLE), "ops.yaml")
    assert spec.alerting is None
    assert spec.thresholds == spec_model.AlertThresholds()
    assert spec.thresholds.stale_after_seconds == 600.0
    assert spec.thresholds.team_budget_percents("search") == (50, 75, 90, 100)


def test_thresholds_are_the_alerting_sections_with_team_overrides() -> None:
    spec = spec_model.load(EXAMPLE_SPEC)
    assert spec.thresholds is spec.alerting
    assert spec.thresholds.team_budget_percents("search") == (25, 50, 75, 90, 100)
    assert spec.thresholds.team_budget_percents("analytics") == spec.thresholds.budget_thresholds_percent
    assert spec.thresholds.team_anomaly_factor("research") == 8
    assert spec.thresholds.team_anomaly_factor("analytics") == spec.thresholds.cost_anomaly_factor


GENERATOR_FOLDERS = ("alerts", "dashboards", "runbooks", "reports", "portal", "deploy", "mixin", "docsgen", "collector")


def test_no_generator_keeps_a_fallback_copy_of_a_threshold() -> None:
    fallbacks = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in GENERATOR_FOLDERS
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(f"alerting.{name} if" in line for name in spec_model.AlertThresholds.__struct_fields__)
    ]
    assert fallbacks == []
