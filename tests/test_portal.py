"""The portal's spec sections (support, deprecations, changes), its changelog from two specs,
its Backstage entities, and generate.py's handling of build/portal/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from alerts.model import Audience as AlertAudience  # the alerts take it from the spec model
from contract import spec as spec_model
from portal import changelog, support
from portal.text import usd
from tests.paths import EXAMPLE_SPEC, ROOT

EXAMPLE = EXAMPLE_SPEC.read_text()
PORTAL = ROOT / "build" / "portal"

# (what to change in the example, the path the error must name, a fragment of the expectation)
BROKEN = [
    ("timezone: Europe/Berlin}", "timezone: Europe/Bärlin}", "support.office_hours.timezone",
     "expected an IANA time zone"),
    ('start: "09:00", end: "17:30"', 'start: "18:00", end: "17:30"', "support.office_hours.end",
     "expected a time after start (18:00)"),
    ('start: "09:00"', 'start: "9am"', "support.office_hours.start", "expected str matching"),
    ("days: [mon, tue, wed, thu, fri]", "days: [mon, tue, wed, thu, fry]", "support.office_hours.days[4]",
     "got 'fry'"),
    ("{kind: chat, address:", "{kind: slack, address:", "support.channels[0].kind", "got 'slack'"),
    ("first_response_minutes: 15,", "first_response_minutes: 0,", "support.response_targets[0].first_response_minutes",
     "expected int >= 1"),
    ("{priority: P2,", "{priority: P1,", "support.response_targets[1].priority", "'P1' appears twice"),
    ("    budget_owner:\n      - {who: AI platform team", "    budget_ownr:\n      - {who: AI platform team",
     "support.escalation.budget_ownr", "expected an alert audience ['oncall', 'budget_owner', 'security']"),
    ("how: phone via PagerDuty, after_minutes: 45}", "how: phone via PagerDuty, after_minutes: 5}",
     "support.escalation.oncall", "expected steps in order of after_minutes, got [15, 5]"),
    ("  platform_team: platform", "  platform_team: platfrom", "support.platform_team", "got 'platfrom'"),
    ('retires: "2027-03-01"', 'retires: "2027-02-30"', "models[4].deprecation.retires", "expected a date YYYY-MM-DD"),
    ("replacement: gemini-2.5-flash,", "replacement: gemini-3-flash,", "models[4].deprecation.replacement",
     "got 'gemini-3-flash'"),
    ("replacement: gemini-2.5-flash,", "replacement: claude-haiku-3-5,", "models[4].deprecation.replacement",
     "cannot replace itself"),
    ('{date: "2026-11-20", kind: model_added', '{date: "20 Nov 2026", kind: model_added', "changes[0].date",
     "expected a date YYYY-MM-DD"),
    ("kind: model_added, model: o3,", "kind: model_added, model: o4,", "changes[0].model", "got 'o4'"),
    ("kind: budget, team: support,", "kind: budget, team: suport,", "changes[1].team", "got 'suport'"),
    ("kind: guardrail, team: legal,", "kind: policy, team: legal,", "changes[2].kind", "got 'policy'"),
]


@pytest.mark.parametrize(("old", "new", "path", "expectation"), BROKEN, ids=[b[2] for b in BROKEN])
def test_broken_portal_sections_name_path_and_expectation(old: str, new: str, path: str, expectation: str) -> None:
    assert EXAMPLE.count(old) == 1, "the table must change exactly one thing that exists"
    with pytest.raises(spec_model.SpecError) as caught:
        spec_model.parse(EXAMPLE.replace(old, new), "ops.yaml")
    assert caught.value.path == path
    assert expectation in caught.value.message
    assert caught.value.line is not None


def test_a_retired_model_may_be_gone_from_the_price_table() -> None:
    spec = spec_model.parse(EXAMPLE, "ops.yaml")
    retired = [c.model for c in spec.changes if c.kind == "model_retired"]
    assert retired and all(spec.model(name) is None for name in retired)


def test_a_spec_without_the_portal_sections_still_renders() -> None:
    data = yaml.safe_load(EXAMPLE)
    del data["support"], data["changes"]
    spec = spec_model.parse(yaml.safe_dump(data))
    from portal.render import render

    files = render(spec)
    assert "no `support` section" in files["portal/docs/support.md"]
    assert "records no changes" in files["portal/docs/changes.md"]


def test_escalation_covers_every_alert_audience() -> None:
    assert get_args(spec_model.Audience) == get_args(AlertAudience)
    assert set(support.AUDIENCES) == set(get_args(spec_model.Audience))


# --- What changed, from two specs ----------------------------------------------------------


def _edited(**edits: str) -> spec_model.Spec:
    text = EXAMPLE
    for old, new in edits.values():  # type: ignore[misc]
        assert old in text
        text = text.replace(old, new, 1)
    return spec_model.parse(text)


COMPARED = [
    ("price", ("price: {input_per_mtok: 2.00, output_per_mtok: 8.00, cached_input_per_mtok: 0.50}",
               "price: {input_per_mtok: 1.50, output_per_mtok: 8.00, cached_input_per_mtok: 0.50}"),
     "`o3` prices (input, output, cached input per million tokens): $2.00, $8.00, $0.50 → $1.50, $8.00, $0.50."),
    ("budget", ("budget: {monthly_usd: 9000}", "budget: {monthly_usd: 12000}"),
     "`analytics` monthly budget: $9,000.00 → $12,000.00."),
    ("approval", ("approved_models: [claude-sonnet-4, gpt-4o]", "approved_models: [claude-sonnet-4, gpt-4o, o3]"),
     "`legal` may now use `o3`."),
    ("guardrail", ("required_guardrails: [presidio-pii]\n", "required_guardrails: [presidio-pii, sanitizer]\n"),
     "`support` now requires guardrail `sanitizer`."),
]


@pytest.mark.parametrize(("what", "edit", "line"), COMPARED, ids=[c[0] for c in COMPARED])
def test_compare_names_what_a_developer_would_notice(what: str, edit: tuple[str, str], line: str) -> None:
    previous = spec_model.parse(EXAMPLE)
    assert changelog.compare(previous, _edited(change=edit)) == [line]


def test_compare_names_models_and_teams_added_and_removed() -> None:
    previous = yaml.safe_load(EXAMPLE)
    current = yaml.safe_load(EXAMPLE)
    current["models"].append({"name": "mistral-large", "provider": "mistral",
                              "price": {"input_per_mtok": 2, "output_per_mtok": 6}})
    current["models"] = [m for m in current["models"] if m["name"] != "gemini-2.5-pro"]
    current["teams"].append({**current["teams"][0], "name": "billing", "aliases": []})
    lines = changelog.compare(spec_model.parse(yaml.safe_dump(previous)), spec_model.parse(yaml.safe_dump(current)))
    assert "Model `mistral-large` (mistral) added." in lines
    assert "Model `gemini-2.5-pro` removed." in lines
    assert "Team `billing` joined the platform." in lines
    assert changelog.compare(spec_model.parse(EXAMPLE), spec_model.parse(EXAMPLE)) == []


def test_generate_previous_adds_the_comparison_to_what_changed(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text(EXAMPLE.replace("budget: {monthly_usd: 9000}", "budget: {monthly_usd: 7000}"))
    out = tmp_path / "build"
    result = subprocess.run(
        [sys.executable, "generate.py", "--out", str(out), "--previous", str(old)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    page = (out / "portal" / "docs" / "changes.md").read_text()
    assert "## Since the previous spec\n\n- `analytics` monthly budget: $7,000.00 → $9,000.00." in page
    assert "Since the previous spec" not in (PORTAL / "docs" / "changes.md").read_text()

    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\n")
    result = subprocess.run([sys.executable, "generate.py", "--out", str(out), "--previous", str(broken)],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "broken.yaml" in result.stderr


# --- Backstage ---------------------------------------------------------------------------

# Backstage's entity name rule (catalog-model's KubernetesValidatorFunctions.isValidObjectName).
BACKSTAGE_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def _entities(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_backstage_entities_describe_the_platform_and_every_team() -> None:
    spec = yaml.safe_load(EXAMPLE)
    system, location = _entities(PORTAL / "catalog-info.yaml")
    assert system["kind"] == "System"
    assert system["metadata"]["annotations"]["backstage.io/techdocs-ref"] == "dir:."
    assert (PORTAL / "mkdocs.yml").is_file()  # what dir:. points TechDocs at
    assert system["spec"]["owner"] == f"group:{spec['support']['platform_team']}"
    assert location["kind"] == "Location"
    targets = location["spec"]["targets"]
    assert targets == [f"./catalog/{t['name']}/catalog-info.yaml" for t in spec["teams"]]
    for team, target in zip(spec["teams"], targets, strict=True):
        (group,) = _entities(PORTAL / target)
        assert group["apiVersion"] == "backstage.io/v1alpha1"
        assert group["kind"] == "Group"
        assert group["metadata"]["name"] == team["name"]
        assert group["spec"]["type"] == "team"
        assert group["spec"]["children"] == []
        assert group["spec"]["profile"]["email"] == team["budget_owner"]["email"]
        assert group["metadata"]["annotations"]["gatewatch.io/cost-center"] == team["cost_center"]
        assert all(link["url"].startswith(spec["organization"]["grafana_base_url"])
                   for link in group["metadata"]["links"])
        assert BACKSTAGE_NAME.match(group["metadata"]["name"])
    for entity in (system, location):
        name = entity["metadata"]["name"]
        assert len(name) <= 63 and BACKSTAGE_NAME.match(name), name


def test_no_secret_reaches_the_portal() -> None:
    text = "\n".join(p.read_text() for p in PORTAL.rglob("*") if p.is_file())
    assert "/etc/alertmanager/secrets" not in text


# --- generate.py --check -----------------------------------------------------------------


def test_check_names_stale_and_leftover_portal_files(tmp_path: Path) -> None:
    out = tmp_path / "build"
    shutil.copytree(ROOT / "build", out)
    team_page = out / "portal" / "docs" / "teams" / "search.md"
    team_page.write_text(team_page.read_text().replace("CC-1040", "CC-9999"))
    (out / "portal" / "docs" / "teams" / "gone.md").write_text("a team the spec no longer has\n")
    result = subprocess.run([sys.executable, "generate.py", "--out", str(out), "--check"],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    stale = {line.strip() for line in result.stderr.splitlines()[1:]}
    assert stale == {f"{out}/portal/docs/teams/search.md", f"{out}/portal/docs/teams/gone.md"}


# --- money as the pages print it ---------------------------------------------------------


@given(st.decimals(min_value=0, max_value=10_000_000, places=9, allow_nan=False, allow_infinity=False))
def test_usd_prints_the_spec_figure_exactly_with_at_least_cents(amount: Decimal) -> None:
    printed = usd(float(amount))
    assert printed.startswith("$")
    digits = printed.removeprefix("$").replace(",", "")
    assert float(digits) == float(amount)  # reads back as the figure the spec holds
    if len(amount.normalize().as_tuple().digits) <= 15:  # within a float's exact decimal precision
        assert Decimal(digits) == amount
    assert len(digits.partition(".")[2]) >= 2


def test_portal_runbooks_are_the_runbook_pages() -> None:
    runbooks = ROOT / "build" / "runbooks"
    pages = {p.relative_to(runbooks): p.read_text() for p in runbooks.rglob("*.md")}
    copies = PORTAL / "docs" / "runbooks"
    assert {p.relative_to(copies): p.read_text() for p in copies.rglob("*.md")} == pages


def test_time_to_first_success_is_the_adoption_dashboards_query() -> None:
    board = next((ROOT / "build" / "grafana" / "dashboards").rglob("*adoption*.json"))
    panels = yaml.safe_load(board.read_text())["panels"]
    panel = next(p for p in panels if p["title"] == "Time from first request to first success")
    page = (PORTAL / "docs" / "getting-started.md").read_text()
    assert f"```promql\n{panel['targets'][0]['expr']}\n```" in page
