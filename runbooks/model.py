"""The shapes of runbook content: alert pages, incident playbooks and task runbooks, as data.

Text fields are Markdown with ``${name}`` placeholders that ``runbooks.facts.context(spec)``
fills from the spec (thresholds, team names, the spec hash), so a page always states the
numbers the rules were generated with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from exporter.spec import Audience

# Who the Escalation section sends the reader to; derived from audience and team in the catalogue.
Escalation = Literal["oncall", "oncall_team", "budget_owner", "finance", "security", "deadman"]
# What the alert's ``team`` label holds: always "platform", the team concerned, or a sentinel.
TeamScope = Literal["platform", "team", "sentinel"]


@dataclass(frozen=True, slots=True)
class Query:
    """One ready-to-paste PromQL query and what it answers."""

    title: str
    promql: str


@dataclass(frozen=True, slots=True)
class AlertDoc:
    name: str
    module: str  # the rule module that defines the alert
    severity: str  # as the catalogue states it ("critical", or "info below 90 %, ...")
    audience: Audience
    team: TeamScope
    labels: tuple[str, ...]  # labels beyond severity, audience and team
    dashboard: str  # key in contract.dashboards.DASHBOARDS
    panel: str
    escalation: Escalation
    meaning: str
    impact: str
    diagnosis: str  # prose before the queries
    queries: tuple[Query, ...]
    mitigation: str
    playbooks: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    # Spec-derived tables (keys of runbooks.facts.FACTS) appended to Diagnosis.
    facts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Playbook:
    """An incident playbook: every field is one section, in the order an incident runs."""

    name: str  # file name without .md
    title: str
    summary: str
    detection: tuple[str, ...]  # alert names that open this incident
    triage: str
    containment: str
    eradication: str
    recovery: str
    communication: str
    evidence: str


@dataclass(frozen=True, slots=True)
class Task:
    """A task runbook: a routine change done the same way every time."""

    name: str
    title: str
    summary: str
    when: str
    steps: str
    verify: str
    undo: str
