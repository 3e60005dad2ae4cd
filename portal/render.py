"""``render(spec)``: the portal under ``build/portal/``: mkdocs.yml, the pages, Backstage entities.

The runbook pages are the ones ``runbooks.render`` writes to ``build/runbooks/``, so the portal
and the runbook_url of every alert show the same text.
"""

from __future__ import annotations

from typing import Any

from contract.spec import Spec
from portal import backstage, pages, site, teams
from runbooks import render as runbooks

ROOT = "portal"
RUNBOOKS = "runbooks/"


def _runbook_nav(paths: list[str]) -> list[Any]:
    """The runbook section of the navigation: the index, then alerts, playbooks and tasks."""
    def group(prefix: str) -> list[str]:
        return sorted(p for p in paths if p.startswith(prefix) and p.count("/") == prefix.count("/"))

    alerts = [p for p in group(RUNBOOKS) if not p.endswith("README.md")]
    return [f"{RUNBOOKS}README.md", {"Alerts": alerts}, {"Incident playbooks": group(f"{RUNBOOKS}playbooks/")},
            {"Task runbooks": group(f"{RUNBOOKS}tasks/")}]


def docs(spec: Spec, previous: Spec | None = None) -> dict[str, str]:
    """Markdown pages, by path under docs/."""
    files = {
        "index.md": pages.home(spec),
        "getting-started.md": pages.getting_started(spec),
        "models.md": pages.models(spec),
        "teams/index.md": teams.index(spec),
        "blocked.md": pages.blocked(spec),
        "support.md": pages.support_page(spec),
        "changes.md": pages.changes(spec, previous),
    }
    files |= {teams.page_path(t): teams.page(spec, t) for t in spec.teams}
    files |= runbooks.render(spec)
    return files


def render(spec: Spec, previous: Spec | None = None) -> dict[str, str]:
    pages_by_path = docs(spec, previous)
    team_nav = [(teams.title(t), teams.page_path(t)) for t in spec.teams]
    runbook_nav = _runbook_nav([p for p in pages_by_path if p.startswith(RUNBOOKS)])
    files = {f"{ROOT}/docs/{path}": text for path, text in pages_by_path.items()}
    files[f"{ROOT}/mkdocs.yml"] = site.render(spec, team_nav, runbook_nav)
    files |= {f"{ROOT}/{path}": text for path, text in backstage.render(spec).items()}
    return files
