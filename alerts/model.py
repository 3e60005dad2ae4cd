"""The shapes every alerting generator shares: rules as plain data, and their unit tests.

Rule modules build ``AlertRule`` / ``RecordingRule`` values; small pure functions turn them into
Prometheus rule files (``with_links`` adds runbook and dashboard URLs), promtool unit tests,
Alertmanager routing and runbook pages. Nothing here knows YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from contract.spec import Audience

Severity = Literal["critical", "warning", "info"]

NAME = re.compile(r"^[A-Z][A-Za-z0-9]{2,39}$")
DURATION = re.compile(r"^(\d+[smhdw])+$")


class AlertText(NamedTuple):
    """An alert's summary and description. Text builders return one: with label and value
    templates for the rule, with the values Prometheus renders for its promtool cases."""

    summary: str
    description: str


@dataclass(frozen=True, slots=True)
class RecordingRule:
    record: str  # level:metric:operations
    expr: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alert. ``team`` is a fixed team label (``platform``); ``None`` means the expression
    keeps a ``team`` label of its own (cost and security alerts are per team)."""

    name: str
    expr: str
    for_: str
    severity: Severity
    audience: Audience
    summary: str
    description: str  # may use {{ $value }} and {{ $labels.x }}
    dashboard: str  # key in contract.dashboards.DASHBOARDS
    panel: str  # panel key on that dashboard
    team: str | None = "platform"
    labels: dict[str, str] = field(default_factory=dict)
    # Dashboard variables for the link, e.g. {"team": "{{ $labels.team }}"}.
    dashboard_variables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"alert name {self.name!r}: CamelCase, at most 40 characters")
        if self.for_ and not DURATION.match(self.for_):
            raise ValueError(f"{self.name}: for {self.for_!r} is not a Prometheus duration")


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    rules: tuple[RecordingRule | AlertRule, ...]
    interval: str | None = None  # None: Prometheus's global evaluation_interval


@dataclass(frozen=True, slots=True)
class SeriesInput:
    """A promtool input series: ``series`` in selector form, ``values`` in expanding notation."""

    series: str
    values: str


@dataclass(frozen=True, slots=True)
class ExpectedAlert:
    """Everything promtool must see on a firing alert: it compares labels and annotations whole,
    so annotations are written out as rendered (values and label templates expanded)."""

    labels: dict[str, str]
    annotations: dict[str, str]


@dataclass(frozen=True, slots=True)
class AlertCase:
    """At ``eval_time``, ``alertname`` fires with exactly ``expected`` (empty: silent)."""

    alertname: str
    eval_time: str
    expected: tuple[ExpectedAlert, ...]


@dataclass(frozen=True, slots=True)
class UnitTest:
    """One promtool test: input series at ``interval`` and the alert states to check."""

    name: str
    interval: str
    series: tuple[SeriesInput, ...]
    alerts: tuple[AlertCase, ...]
