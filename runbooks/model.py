"""The shapes of runbook sources: alert pages, incident playbooks and task runbooks, as data.

Each is read from one Markdown file under ``runbooks/pages/`` (see ``runbooks.sources``). Section
bodies are Markdown with ``${name}`` placeholders that the renderer fills from the spec and the
alert's own rule, so a page always states what the rules were generated with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Who the Escalation section sends the reader to. Derived from the rule's audience and team
# label; a page's front matter names it only where that is not enough (the dead-man's switch).
Escalation = Literal["oncall", "oncall_team", "budget_owner", "finance", "security", "deadman"]
# What the alert's ``team`` label holds: always "platform", the team concerned, or a sentinel.
TeamScope = Literal["platform", "team", "sentinel"]

ALERT_SECTIONS = ("Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation")
PLAYBOOK_SECTIONS = (
    "Detection", "Triage", "Containment", "Eradication", "Recovery", "Communication", "Evidence to keep",
)
TASK_SECTIONS = ("When", "Steps", "Verify", "Undo")


@dataclass(frozen=True, slots=True)
class AlertPage:
    """What only the page knows; severity, audience, dashboard and panel come from the rule."""

    name: str
    sections: dict[str, str]  # heading -> Markdown body, in ALERT_SECTIONS order
    labels: tuple[str, ...] = ()  # labels beyond severity, audience and team, as the page lists them
    team_label: TeamScope | None = None  # None: "platform" or "team", as the rule's team says
    escalation: Escalation | None = None  # None: derived from the rule's audience and team label
    playbooks: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Playbook:
    """An incident playbook: every section is one phase, in the order an incident runs."""

    name: str  # file name without .md
    title: str
    summary: str
    detection: tuple[str, ...]  # alert names that open this incident
    sections: dict[str, str]


@dataclass(frozen=True, slots=True)
class Task:
    """A task runbook: a routine change done the same way every time."""

    name: str
    title: str
    summary: str
    sections: dict[str, str]
