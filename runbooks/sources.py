"""Runbook sources: one Markdown file per alert, playbook and task under ``runbooks/pages/``.

A source is a short YAML front matter (only what the rule cannot say) followed by ``## ``
sections with fixed headings. ``snippets.md`` holds text several pages share (queries, the
evidence rule), each under its own ``## name`` and used as ``${name}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, get_args

import yaml

from runbooks.model import (
    ALERT_SECTIONS,
    PLAYBOOK_SECTIONS,
    TASK_SECTIONS,
    AlertPage,
    Escalation,
    Playbook,
    Task,
    TeamScope,
)

FRONT_MATTER = "---"


class SourceError(ValueError):
    """A runbook source that does not have the shape every page must have."""


@dataclass(frozen=True, slots=True)
class Source:
    path: str  # under runbooks/, for error messages
    front: dict[str, Any]
    sections: dict[str, str]


def pages_dir() -> Traversable:
    return resources.files("runbooks") / "pages"


def split_sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) for every ``## `` heading outside code fences, bodies stripped."""
    found: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            found.append((line[3:].strip(), []))
        elif found:
            found[-1][1].append(line)
    return [(heading, "\n".join(body).strip()) for heading, body in found]


def parse(path: str, text: str, headings: tuple[str, ...], keys: frozenset[str]) -> Source:
    """Front matter and sections of one source, checked: exactly ``headings`` in order, none empty,
    front matter keys among ``keys``."""
    front: dict[str, Any] = {}
    if text.startswith(FRONT_MATTER + "\n"):
        head, sep, text = text[len(FRONT_MATTER) + 1:].partition("\n" + FRONT_MATTER + "\n")
        if not sep:
            raise SourceError(f"{path}: front matter opened with --- is never closed")
        loaded = yaml.safe_load(head) or {}
        if not isinstance(loaded, dict):
            raise SourceError(f"{path}: front matter must be a mapping")
        front = loaded
    unknown = sorted(set(front) - keys)
    if unknown:
        raise SourceError(f"{path}: unknown front matter {unknown}; expected some of {sorted(keys)}")
    if text.strip() and not text.lstrip().startswith("## "):
        raise SourceError(f"{path}: text before the first ## section")
    sections = split_sections(text)
    found = tuple(heading for heading, _ in sections)
    if found != headings:
        raise SourceError(f"{path}: sections {list(found)}; expected {list(headings)} in that order")
    empty = [heading for heading, body in sections if not body]
    if empty:
        raise SourceError(f"{path}: empty sections {empty}")
    return Source(path, front, dict(sections))


def _names(source: Source, key: str) -> tuple[str, ...]:
    value = source.front.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(f"{source.path}: {key} must be a list of names")
    return tuple(value)


def _text(source: Source, key: str) -> str:
    value = source.front.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SourceError(f"{source.path}: {key} must be a non-empty string")
    return value


def _choice(source: Source, key: str, allowed: tuple[str, ...]) -> Any:
    value = source.front.get(key)
    if value is not None and value not in allowed:
        raise SourceError(f"{source.path}: {key} {value!r}; expected one of {list(allowed)}")
    return value


@cache
def _order() -> dict[str, list[str]]:
    loaded = yaml.safe_load((pages_dir() / "index.yaml").read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}


def _files(folder: str) -> list[Traversable]:
    """The folder's sources in the order ``index.yaml`` lists them, which must be each exactly once."""
    files = {f.name.removesuffix(".md"): f for f in (pages_dir() / folder).iterdir() if f.name.endswith(".md")}
    order = _order().get(folder) or []
    if sorted(order) != sorted(files):
        raise SourceError(
            f"pages/index.yaml: {folder} lists {sorted(set(order) - set(files))} without a page and misses "
            f"{sorted(set(files) - set(order))} (or lists one twice)"
        )
    return [files[name] for name in order]


def _read(folder: str, file: Traversable, headings: tuple[str, ...], keys: frozenset[str]) -> Source:
    return parse(f"pages/{folder}/{file.name}", file.read_text(encoding="utf-8"), headings, keys)


def alert_page(source: Source, name: str) -> AlertPage:
    return AlertPage(
        name=name,
        sections=source.sections,
        labels=_names(source, "labels"),
        team_label=_choice(source, "team_label", get_args(TeamScope)),
        escalation=_choice(source, "escalation", get_args(Escalation)),
        playbooks=_names(source, "playbooks"),
        tasks=_names(source, "tasks"),
    )


@cache
def alert_pages() -> dict[str, AlertPage]:
    keys = frozenset({"labels", "team_label", "escalation", "playbooks", "tasks"})
    pages = {}
    for file in _files("alerts"):
        name = file.name.removesuffix(".md")
        pages[name] = alert_page(_read("alerts", file, ALERT_SECTIONS, keys), name)
    return pages


@cache
def playbooks() -> dict[str, Playbook]:
    keys = frozenset({"title", "summary", "detection"})
    found = {}
    for file in _files("playbooks"):
        source = _read("playbooks", file, PLAYBOOK_SECTIONS, keys)
        name = file.name.removesuffix(".md")
        found[name] = Playbook(name, _text(source, "title"), _text(source, "summary"),
                               _names(source, "detection"), source.sections)
    return found


@cache
def tasks() -> dict[str, Task]:
    keys = frozenset({"title", "summary"})
    found = {}
    for file in _files("tasks"):
        source = _read("tasks", file, TASK_SECTIONS, keys)
        name = file.name.removesuffix(".md")
        found[name] = Task(name, _text(source, "title"), _text(source, "summary"), source.sections)
    return found


@cache
def snippets() -> dict[str, str]:
    text = (pages_dir() / "snippets.md").read_text(encoding="utf-8")
    return dict(split_sections(text))
