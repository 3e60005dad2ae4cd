"""What a dashboard is made of, as plain data, and the helpers every dashboard shares.

Dashboards are described here in gatewatch's own terms (panels keyed like contract/dashboards.py,
queries, variables, links); dashboards/sdk.py alone turns them into Grafana's JSON model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from contract import catalog
from contract.dashboards import DASHBOARDS, DashboardRef, dashboard_url
from contract.spec import Spec

GRID_WIDTH = 24
RATE = "$__rate_interval"
RANGE = "$__range"
DATASOURCE_VARIABLE = "datasource"
DATASOURCE_UID = "${datasource}"
# Variables a query may use: the dashboard's own and Grafana's built-ins. The data test
# substitutes exactly these, so a query never depends on anything else.
BUILTIN_VARIABLES = ("__rate_interval", "__range", "__interval")

Kind = Literal["timeseries", "stat", "bargauge", "table", "heatmap"]
QueryFormat = Literal["time_series", "table", "heatmap"]


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str = ""
    # Instant queries give one value at the end of the range (top-N lists, current status).
    instant: bool = False
    format: QueryFormat = "time_series"


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float
    color: str


@dataclass(frozen=True, slots=True)
class Panel:
    key: str  # the panel's key in contract/dashboards.py: it fixes the panel id
    title: str
    description: str
    unit: str  # a Grafana unit id: reqps, s, percentunit, currencyUSD, ...
    queries: tuple[Query, ...]
    kind: Kind = "timeseries"
    width: int = 12
    height: int = 8
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    thresholds: tuple[Threshold, ...] = ()  # steps above the base colour
    base_color: str = "green"
    stacked: bool = False


@dataclass(frozen=True, slots=True)
class Variable:
    """A query variable: the values of ``label`` on a catalog metric, narrowed by ``matchers``."""

    name: str
    label: str
    metric: str
    description: str
    matchers: str = ""
    # Multi-value with "All" for triage views; single-valued where one value is the point
    # (the team dashboard is shared as one link per team).
    multi: bool = True

    @property
    def selector(self) -> str:
        return f"{self.metric}{{{self.matchers}}}" if self.matchers else self.metric

    @property
    def query(self) -> str:
        return f"label_values({self.selector}, {self.name})"


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str
    tooltip: str
    # Links between dashboards carry the time range and variables; external links do not.
    internal: bool = True


@dataclass(frozen=True, slots=True)
class Board:
    ref: DashboardRef
    description: str
    variables: tuple[Variable, ...]
    panels: tuple[Panel, ...]
    links: tuple[Link, ...]
    tags: tuple[str, ...] = ("gatewatch",)
    time_from: str = "now-6h"
    refresh: str = "1m"


@dataclass(frozen=True, slots=True)
class Placed:
    panel: Panel
    id: int
    x: int
    y: int
    w: int
    h: int


def ownership(owner: str, audience: str, cadence: str, purpose: str) -> str:
    """A dashboard description naming who keeps it alive: a dashboard nobody owns rots."""
    return f"{purpose} Owner: {owner}. Audience: {audience}. Review: {cadence}."


def matchers(*names: str) -> str:
    """Regex matchers for the named variables: ``team=~"$team", app=~"$app"`` (All is ``.*``)."""
    return ", ".join(f'{name}=~"${name}"' for name in names)


def selector(metric: str, *parts: str) -> str:
    inner = ", ".join(p for p in parts if p)
    return f"{metric}{{{inner}}}" if inner else metric


def rate(metric: str, *parts: str, window: str = RATE) -> str:
    return f"rate({selector(metric, *parts)}[{window}])"


def outcome_shares(filter_: str) -> Query:
    """Each non-success outcome's share of the requests ``filter_`` selects, one series per outcome."""
    requests, failed = catalog.REQUESTS.name, 'outcome!="success"'
    return Query(
        f"sum by (outcome) ({rate(requests, filter_, failed)})\n"
        f"/ ignoring (outcome) group_left\nsum({rate(requests, filter_)})",
        "{{outcome}}",
    )


def variable(name: str, metric: str, description: str, *narrowed_by: str, multi: bool = True) -> Variable:
    labels = {"team": "Team", "app": "App", "model": "Model", "provider": "Provider"}
    return Variable(name, labels.get(name, name.capitalize()), metric, description, matchers(*narrowed_by), multi)


def budget_thresholds(spec: Spec) -> tuple[Threshold, ...]:
    """The budget alert thresholds as shares, coloured up to red at 100 % (GenAIBudgetExhausted)."""
    percents = spec.thresholds.budget_thresholds_percent
    below = sorted(p for p in percents if p < 100)
    colors = ["yellow"] * (len(below) - 1) + ["orange"] if below else []
    return (*(Threshold(p / 100, c) for p, c in zip(below, colors, strict=True)), Threshold(1.0, "red"))


def layout(ref: DashboardRef, panels: Iterable[Panel]) -> tuple[Placed, ...]:
    """Place panels left to right in rows of GRID_WIDTH; a row is as tall as its tallest panel,
    so panels never overlap whatever their sizes. Ids come from the links table."""
    placed: list[Placed] = []
    x = y = row_height = 0
    for panel in panels:
        if panel.key not in ref.panels:
            raise KeyError(f"panel {panel.key!r} is not in contract/dashboards.py for {ref.key}")
        if not 0 < panel.width <= GRID_WIDTH or panel.height <= 0:
            raise ValueError(f"panel {panel.key!r} has an impossible size {panel.width}x{panel.height}")
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        placed.append(Placed(panel, ref.panels[panel.key], x, y, panel.width, panel.height))
        x += panel.width
        row_height = max(row_height, panel.height)
    return tuple(placed)


def links(spec: Spec, current: str) -> tuple[Link, ...]:
    """Every other gatewatch dashboard, then the runbooks."""
    others = tuple(
        Link(ref.title, dashboard_url("", ref.key), f"Open {ref.title}")
        for ref in DASHBOARDS.values()
        if ref.key != current
    )
    runbooks = Link(
        "Runbooks",
        f"{spec.organization.runbook_base_url.rstrip('/')}/README.md",
        "What each gatewatch alert means and what to do about it",
        internal=False,
    )
    return (*others, runbooks)
