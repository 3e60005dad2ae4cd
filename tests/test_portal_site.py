"""The developer portal as developers see it: built by the real MkDocs and Material theme with
--strict, opened in headless Chromium, and its tables checked against the spec's YAML.

Expected values are read from ops.yaml with PyYAML and the generated Grafana dashboards, never
from the portal's own renderer.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from portal.site_build import SiteBuildError, build, serve
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.binaries import require
from tests.support.browser import Browser, PageFacts
from tests.support.html_tables import Table, table_with, tables

SOURCES = ROOT / "build" / "portal"
SPEC: dict[str, Any] = yaml.safe_load(EXAMPLE_SPEC.read_text())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("portal") / "site"
    build(SOURCES / "mkdocs.yml", out)
    return out


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    server, url = serve(site)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser(require("chromium", "chromium-browser"))
    yield chromium
    chromium.close()


def _pages(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if p.name != "404.html")


@pytest.fixture(scope="module")
def rendered(site: Path, base_url: str, browser: Browser) -> dict[str, PageFacts]:
    """Every page of the built site as Chromium rendered it, by path."""
    return {page: browser.open(base_url + page) for page in _pages(site)}


def _money(text: str) -> Decimal:
    return Decimal(text.removeprefix("$").replace(",", ""))


def _yaml_decimal(value: float) -> Decimal:
    return Decimal(str(value))


# --- MkDocs --strict -----------------------------------------------------------------------


def test_the_site_builds_strict_with_every_page_of_the_spec(site: Path) -> None:
    pages = set(_pages(site))
    expected = {"index.html", "getting-started.html", "models.html", "blocked.html", "support.html",
                "changes.html", "teams/index.html"}
    expected |= {f"teams/{t['name']}.html" for t in SPEC["teams"]}
    runbooks = ROOT / "build" / "runbooks"
    expected |= {
        "runbooks/" + str(p.relative_to(runbooks).with_suffix(".html")).replace("README.html", "index.html")
        for p in runbooks.rglob("*.md")
    }
    assert pages == expected


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    sources = tmp_path / "portal"
    shutil.copytree(SOURCES, sources)
    index = sources / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[gone](teams/nobody.md)\n")
    with pytest.raises(SiteBuildError, match=r"nobody\.md"):
        build(sources / "mkdocs.yml", tmp_path / "site")


def test_runbooks_are_in_the_search_index(site: Path) -> None:
    index = json.loads((site / "search" / "search_index.json").read_text())
    locations = {doc["location"].partition("#")[0] for doc in index["docs"]}
    for page in _pages(site):
        assert page in locations, page
    # Sections are indexed one by one, so a search lands on the right part of a playbook.
    sections = {doc["location"] for doc in index["docs"]}
    for playbook in (ROOT / "build" / "runbooks" / "playbooks").glob("*.md"):
        assert f"runbooks/playbooks/{playbook.stem}.html#containment" in sections


# --- Chromium ------------------------------------------------------------------------------


def test_every_page_renders_in_chromium(rendered: dict[str, PageFacts]) -> None:
    site_name = f"{SPEC['organization']['name']} AI platform"
    for page, facts in rendered.items():
        assert facts.exceptions == [], page
        assert facts.h1, f"{page} has no heading"
        assert site_name in facts.title, page
        assert len(facts.article_text.split()) > 20, f"{page} is nearly empty"


def test_every_internal_link_resolves(rendered: dict[str, PageFacts], site: Path, base_url: str) -> None:
    checked = 0
    for page, facts in rendered.items():
        for link in facts.links:
            href = link["href"]
            if not href.startswith(base_url):
                continue
            target, _, fragment = href.removeprefix(base_url).partition("#")
            target = urllib.parse.unquote(target) or "index.html"
            assert (site / target).is_file(), f"{page} links to missing {target}"
            if fragment and target in rendered:
                assert fragment in rendered[target].ids, f"{page} links to missing anchor {target}#{fragment}"
            checked += 1
    assert checked > 1000  # navigation alone links every page from every page


def _allowed_external() -> tuple[str, ...]:
    org = SPEC["organization"]
    channels = [c["address"] for c in SPEC["support"]["channels"] if c["address"].startswith("https://")]
    return (org["grafana_base_url"].rstrip("/") + "/", org["runbook_base_url"].rstrip("/") + "/", *channels)


def _spec_emails() -> set[str]:
    emails = {t["budget_owner"]["email"] for t in SPEC["teams"]}
    return emails | {c["address"] for c in SPEC["support"]["channels"] if c["kind"] == "email"}


def test_external_links_follow_the_spec_url_bases(rendered: dict[str, PageFacts], base_url: str) -> None:
    allowed, emails = _allowed_external(), _spec_emails()
    for page, facts in rendered.items():
        for link in facts.links:
            href = link["href"]
            if not link["in_article"] or href.startswith(base_url):
                continue
            if href.startswith("mailto:"):
                assert href.removeprefix("mailto:") in emails, f"{page}: {href}"
            else:
                assert href.startswith(allowed), f"{page} links outside the spec's bases: {href}"
    for team in SPEC["teams"]:
        hrefs = [link["href"] for link in rendered[f"teams/{team['name']}.html"].links]
        assert any(h.startswith(allowed[0]) for h in hrefs), f"no Grafana link on {team['name']}'s page"
        assert any(h.startswith(allowed[1]) for h in hrefs), f"no runbook_url link on {team['name']}'s page"


@pytest.mark.parametrize("page", ["index.html", f"teams/{SPEC['teams'][0]['name']}.html"])
def test_screenshots_are_not_blank(page: str, browser: Browser, base_url: str, tmp_path: Path) -> None:
    browser.open(base_url + page)
    shot = browser.screenshot(tmp_path / "page.png")
    with Image.open(shot) as image:
        pixels = image.convert("RGB")
        assert pixels.size == (1280, 900)
        colours = pixels.getcolors(maxcolors=1 << 20) or []
        background_count, _ = max(colours)
        assert len(colours) > 50, "a page of a few flat colours has no text on it"
        inked = 1 - background_count / (pixels.size[0] * pixels.size[1])
        assert inked > 0.05, f"only {inked:.1%} of the screenshot differs from the background"
        # The Material header bar is drawn: its colour fills the top rows.
        assert pixels.getpixel((640, 5)) != pixels.getpixel((640, 450))


# --- the spec's values, exactly ------------------------------------------------------------


def _approved(team: dict[str, Any]) -> list[str]:
    patterns = team.get("approved_models", ["*"])
    return [m["name"] for m in SPEC["models"] if any(fnmatch.fnmatchcase(m["name"], p) for p in patterns)]


def _thresholds(team: dict[str, Any]) -> list[Decimal]:
    override = SPEC["alerting"].get("team_overrides", {}).get(team["name"], {})
    chosen = override.get("budget_thresholds_percent") or SPEC["alerting"]["budget_thresholds_percent"]
    return [_yaml_decimal(t) for t in chosen]


def _team_dashboard() -> tuple[str, str]:
    """The team dashboard's UID and its team variable, from the generated Grafana JSON."""
    for path in (ROOT / "build" / "grafana" / "dashboards").rglob("*.json"):
        board = json.loads(path.read_text())
        variables = [v["name"] for v in board.get("templating", {}).get("list", [])]
        if "team" in board.get("tags", []) or "teams" in board.get("tags", []):
            return board["uid"], next(v for v in variables if v == "team")
    raise AssertionError("no team dashboard in build/grafana")


def _facts(table: Table) -> dict[str, str]:
    return {row[0].text: row[1].text for row in table.rows}


@pytest.mark.parametrize("team", SPEC["teams"], ids=[t["name"] for t in SPEC["teams"]])
def test_team_page_shows_the_spec_values(
    team: dict[str, Any], site: Path, rendered: dict[str, PageFacts],
) -> None:
    html = (site / "teams" / f"{team['name']}.html").read_text()
    facts = _facts(table_with(html, "about the team"))
    assert facts["team"] == team["name"]
    assert facts["owner"] == team["owner"]
    assert facts["cost centre"] == team["cost_center"]
    assert facts["tier"] == team.get("tier", "standard")
    assert facts["budget owner"] == f"{team['budget_owner']['name']}, {team['budget_owner']['email']}"
    assert _money(facts["monthly budget"]) == _yaml_decimal(team["budget"]["monthly_usd"])
    shown = [part.split(" % ")[0] for part in facts["budget alerts at"].split("), ")]
    assert [Decimal(p) for p in shown] == _thresholds(team)
    assert facts["data classifications"] == ", ".join(team["classifications"])

    models = table_with(html, "model")
    by_name = {row[0].text: row for row in models.rows}
    assert list(by_name) == _approved(team)
    for model in SPEC["models"]:
        row = by_name.get(model["name"])
        if row is None:
            continue
        assert row[1].text == model["provider"]
        assert row[2].text == model["tier"]
        assert _money(row[3].text) == _yaml_decimal(model["price"]["input_per_mtok"])
        assert _money(row[4].text) == _yaml_decimal(model["price"]["output_per_mtok"])

    required = team.get("required_guardrails", [])
    if required:
        assert [r[0].text for r in table_with(html, "guardrail").rows] == required
    else:
        assert "None required" in html
    uid, variable = _team_dashboard()
    grafana = SPEC["organization"]["grafana_base_url"]
    assert f'href="{grafana}/d/{uid}/' in html
    assert f"var-{variable}={team['name']}" in html
    assert f"python -m reports digest --prometheus \"$PROMETHEUS_URL\" --spec ops.yaml --team {team['name']}" in (
        rendered[f"teams/{team['name']}.html"].article_text
    )


def test_team_pages_list_the_objectives_on_their_models() -> None:
    providers = {m["name"]: m["provider"] for m in SPEC["models"]}
    for team in SPEC["teams"]:
        approved = _approved(team)
        expected = {o["name"] for o in SPEC["slos"]["objectives"]
                    if o.get("model") in approved or o.get("provider") in {providers[m] for m in approved}}
        page = (SOURCES / "docs" / "teams" / f"{team['name']}.md").read_text()
        shown = {o["name"] for o in SPEC["slos"]["objectives"] if f"(`{o['name']}`)" in page}
        assert shown == expected, team["name"]


@pytest.mark.parametrize("model", SPEC["models"], ids=[m["name"] for m in SPEC["models"]])
def test_model_catalogue_shows_the_spec_values(model: dict[str, Any], site: Path) -> None:
    table = table_with((site / "models.html").read_text(), "model")
    row = next(r for r in table.rows if r[0].text == model["name"])
    assert row[table.column("provider")].text == model["provider"]
    assert row[table.column("tier")].text == model.get("tier", "standard")
    price = model["price"]
    assert _money(row[table.column("input")].text) == _yaml_decimal(price["input_per_mtok"])
    assert _money(row[table.column("output")].text) == _yaml_decimal(price["output_per_mtok"])
    cached = row[table.column("cached input")].text
    if "cached_input_per_mtok" in price:
        assert _money(cached) == _yaml_decimal(price["cached_input_per_mtok"])
    else:
        assert cached == "not discounted"
    approvals = table_with((site / "models.html").read_text(), "model", second="teams: data classifications")
    teams_cell = next(r for r in approvals.rows if r[0].text == model["name"])[1]
    expected = [t for t in SPEC["teams"] if model["name"] in _approved(t)]
    assert teams_cell.links == [f"teams/{t['name']}.html" for t in expected]
    assert teams_cell.text == " ".join(f"{t['name']}: {', '.join(t['classifications'])}" for t in expected)
    scheduled = row[table.column("scheduled")].text
    deprecation = model.get("deprecation")
    expected_dates = [f"retires {deprecation['retires']}"] if deprecation else []
    expected_dates += [f"new prices {c['effective']}" for c in SPEC["finance"]["price_changes"]
                       if c["model"] == model["name"]]
    assert scheduled == (" ".join(expected_dates) or "—")
    events = table_with((site / "models.html").read_text(), "date")
    rows = [(r[0].text, r[2].text) for r in events.rows if r[1].text == model["name"]]
    if deprecation:
        assert (deprecation["retires"], f"retires on {deprecation['retires']}, move to {deprecation['replacement']} "
                f"({deprecation['reason']})") in rows
    for change in SPEC["finance"]["price_changes"]:
        if change["model"] == model["name"]:
            new = change["price"]
            assert (change["effective"], f"new prices from {change['effective']}: input ${new['input_per_mtok']:.2f}, "
                    f"output ${new['output_per_mtok']:.2f}, cached input ${new['cached_input_per_mtok']:.2f}") in rows


def test_support_page_shows_the_support_section(site: Path) -> None:
    html = (site / "support.html").read_text()
    support = SPEC["support"]
    channels = table_with(html, "channel")
    assert [r[1].text for r in channels.rows] == [c["address"] for c in support["channels"]]
    hours = support["office_hours"]
    assert f"{hours['start']}–{hours['end']} ({hours['timezone']})" in html
    targets = table_with(html, "priority")
    assert [r[0].text for r in targets.rows] == [t["priority"] for t in support["response_targets"]]
    for audience_steps in support["escalation"].values():
        for step in audience_steps:
            assert step["who"] in html


def test_changelog_shows_the_spec_changes_newest_first(site: Path) -> None:
    table = next(t for t in tables((site / "changes.html").read_text()) if t.header == ["date", "kind", "what changed"])
    expected = sorted(SPEC["changes"], key=lambda c: c["date"], reverse=True)
    assert [(r[0].text, r[2].text) for r in table.rows] == [(c["date"], c["summary"]) for c in expected]


# --- another organisation ------------------------------------------------------------------


def _other_spec() -> dict[str, Any]:
    """The example organisation with two different teams, and nothing else naming the old ones."""
    spec = yaml.safe_load(EXAMPLE_SPEC.read_text())
    owner = {"name": "Ines Duarte", "email": "ines.duarte@other.example"}
    spec["organization"] = {**spec["organization"], "name": "Other Corp",
                            "grafana_base_url": "https://grafana.other.example"}
    spec["teams"] = [
        {"name": "payments", "owner": "ines-duarte", "cost_center": "CC-7001", "budget_owner": owner,
         "budget": {"monthly_usd": 1234.5}, "approved_models": ["claude-*"], "classifications": ["internal"]},
        {"name": "hr", "owner": "ola-berg", "cost_center": "CC-8002", "tier": "sandbox",
         "budget_owner": {"name": "Ola Berg", "email": "ola.berg@other.example"}, "budget": {"monthly_usd": 250}},
    ]
    spec["apps"] = []
    spec["alerting"]["team_overrides"] = {}
    spec["finance"]["allocations"], spec["finance"]["onboardings"] = [], []
    spec["changes"] = [c for c in spec["changes"] if "team" not in c]
    spec["support"]["platform_team"] = "payments"
    return spec


def test_another_spec_gives_other_pages(tmp_path: Path) -> None:
    spec_file = tmp_path / "other.yaml"
    spec_file.write_text(yaml.safe_dump(_other_spec()))
    out = tmp_path / "build"
    result = subprocess.run([sys.executable, "generate.py", "--spec", str(spec_file), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    site = tmp_path / "site"
    build(out / "portal" / "mkdocs.yml", site)
    assert sorted(p.name for p in (site / "teams").glob("*.html")) == ["hr.html", "index.html", "payments.html"]
    payments = (site / "teams" / "payments.html").read_text()
    facts = _facts(table_with(payments, "about the team"))
    assert facts["cost centre"] == "CC-7001"
    assert _money(facts["monthly budget"]) == Decimal("1234.5")
    assert [r[0].text for r in table_with(payments, "model").rows] == ["claude-sonnet-4", "claude-haiku-3-5"]
    assert "https://grafana.other.example/d/" in payments
    assert "Other Corp AI platform" in (site / "index.html").read_text()
    assert (out / "portal" / "catalog" / "hr" / "catalog-info.yaml").is_file()
    assert not (out / "portal" / "catalog" / "search").exists()


# --- make run ------------------------------------------------------------------------------


def test_run_local_builds_the_portal_and_serves_it_on_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    loader = importlib.util.spec_from_file_location("run_local", ROOT / "scripts" / "run_local.py")
    assert loader is not None and loader.loader is not None
    run_local = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(run_local)
    run_local.PORTAL_SITE = tmp_path / "site"
    url = run_local.start_portal("127.0.0.1:0")
    assert url.startswith("http://127.0.0.1:")
    assert f"developer portal: {url}" in capsys.readouterr().out
    with urllib.request.urlopen(url + "teams/index.html", timeout=30) as response:
        assert response.status == 200
        assert SPEC["teams"][0]["cost_center"] in response.read().decode()
    with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
        run_local.start_portal("0.0.0.0:8008")
