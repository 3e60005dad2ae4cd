"""Runbook sources under ``runbooks/pages/``: the fixed headings, known placeholders, front matter
that names things that exist, one reading order, and the files shipped with the package. These
tests read the sources without rendering them, so a broken page fails here by name."""

from __future__ import annotations

import string
import tomllib
from pathlib import Path

import pytest

from contract.spec import load
from runbooks import sources
from runbooks.facts import context
from runbooks.render import PAGE_PLACEHOLDERS, render, spec_values
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.runbooks import ALERT_SECTIONS, PLAYBOOK_SECTIONS, TASK_SECTIONS, sections

SPEC = load(EXAMPLE_SPEC)
SOURCE_DIR = ROOT / "runbooks" / "pages"

SOURCE_HEADINGS = {"alerts": ALERT_SECTIONS, "playbooks": PLAYBOOK_SECTIONS, "tasks": TASK_SECTIONS}
SOURCES = sorted((kind, path) for kind in SOURCE_HEADINGS for path in (SOURCE_DIR / kind).glob("*.md"))


def _source_body(path: Path) -> str:
    """A source's text after its front matter."""
    text = path.read_text(encoding="utf-8")
    return text.split("\n---\n", 1)[1] if text.startswith("---\n") else text


@pytest.mark.parametrize(("kind", "path"), SOURCES, ids=lambda value: getattr(value, "name", value))
def test_every_source_has_the_fixed_headings_in_order_and_none_empty(kind: str, path: Path) -> None:
    found = sections(_source_body(path))
    assert [heading for heading, _ in found] == SOURCE_HEADINGS[kind]
    assert all(body for _, body in found)


@pytest.mark.parametrize(("kind", "path"), SOURCES, ids=lambda value: getattr(value, "name", value))
def test_every_placeholder_in_a_source_is_known(kind: str, path: Path) -> None:
    used = set(string.Template(_source_body(path)).get_identifiers())
    known = set(spec_values(SPEC)) | PAGE_PLACEHOLDERS[kind]
    assert sorted(used - known) == []


def test_snippets_use_only_spec_facts_and_every_snippet_is_used() -> None:
    snippets = sources.snippets()
    for name, text in snippets.items():
        assert set(string.Template(text).get_identifiers()) <= set(context(SPEC)), name
    used = {i for _, path in SOURCES for i in string.Template(_source_body(path)).get_identifiers()}
    assert sorted(set(snippets) - used) == []


def test_an_unknown_placeholder_stops_the_render(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = sources.alert_pages()
    page = pages["GenAIExporterDown"]
    broken = page.__class__(**{**{f: getattr(page, f) for f in page.__slots__},
                               "sections": {**page.sections, "Impact": "Costs ${no_such_fact}."}})
    monkeypatch.setattr(sources, "alert_pages", lambda: {**pages, "GenAIExporterDown": broken})
    with pytest.raises(ValueError, match=r"pages/alerts/GenAIExporterDown.md: unknown placeholder \$\{no_such_fact\}"):
        render(SPEC)


def test_front_matter_names_playbooks_tasks_and_alerts_that_exist() -> None:
    for name, page in sources.alert_pages().items():
        assert set(page.playbooks) <= set(sources.playbooks()), name
        assert set(page.tasks) <= set(sources.tasks()), name
    for name, playbook in sources.playbooks().items():
        assert set(playbook.detection) <= set(sources.alert_pages()), name


GOOD = (
    "---\ntitle: T\nsummary: S\n---\n\n## When\n\nw\n\n## Steps\n\n```\n## not a heading\n```\n\n"
    "## Verify\n\nv\n\n## Undo\n\nu\n"
)


@pytest.mark.parametrize(("text", "error"), [
    (GOOD.replace("## Verify", "## Check"), r"sections .*'Check'.*expected"),
    (GOOD.replace("## Undo\n\nu\n", ""), r"sections .*expected"),
    (GOOD.replace("\n\nv\n", "\n\n"), r"empty sections \['Verify'\]"),
    (GOOD.replace("title: T", "severity: critical"), r"unknown front matter \['severity'\]"),
    (GOOD.replace("\n---\n\n## When", "\n\n## When"), "never closed"),
    (GOOD.replace("\n## When", "Intro.\n\n## When"), "text before the first"),
    ("---\n- a list\n---\n## When\n\nw\n", "must be a mapping"),
])
def test_a_malformed_source_is_refused_with_its_path(text: str, error: str) -> None:
    keys = frozenset({"title", "summary"})
    assert sources.parse("pages/tasks/x.md", GOOD, tuple(TASK_SECTIONS), keys).sections["Steps"].startswith("```")
    with pytest.raises(sources.SourceError, match=error) as raised:
        sources.parse("pages/tasks/x.md", text, tuple(TASK_SECTIONS), keys)
    assert str(raised.value).startswith("pages/tasks/x.md: ")


def test_the_index_order_must_list_every_page_once(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = list(sources.tasks())
    order = {"tasks": [t for t in tasks if t != "rotate-a-key"]}
    monkeypatch.setattr(sources, "_order", lambda: order)
    with pytest.raises(sources.SourceError, match="rotate-a-key"):
        sources.tasks.__wrapped__()
    order["tasks"] = [*tasks, "onboard-a-team"]
    with pytest.raises(sources.SourceError, match="twice"):
        sources.tasks.__wrapped__()


def test_the_page_sources_ship_as_package_data() -> None:
    """Every source file matches a package-data pattern, so an installed gatewatch renders runbooks."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["runbooks"]
    files = [p.relative_to(ROOT / "runbooks") for p in SOURCE_DIR.rglob("*") if p.is_file()]
    pages = len(sources.alert_pages()) + len(sources.playbooks()) + len(sources.tasks())
    assert len(files) == pages + 2  # snippets.md, index.yaml
    for file in files:
        assert any(file.match(pattern) and len(file.parts) == len(Path(pattern).parts) for pattern in patterns), file
