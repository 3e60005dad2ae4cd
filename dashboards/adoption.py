"""Adoption: how many teams use the platform, how much, and how fast a new team gets going."""

from __future__ import annotations

from typing import Any

from contract import catalog, signals
from contract.dashboards import DASHBOARDS
from contract.promql import named
from contract.spec import Spec
from dashboards import sdk
from dashboards.panels import Board, Panel, Query, links, ownership

REF = DASHBOARDS["adoption"]
# Long trends (the default range is 90 days) read the hourly request-rate recording rule.
VOLUME = signals.TEAM_APP_REQUESTS_RATE1H
NAMED_TEAM = named("team")


def board(spec: Spec) -> Board:
    first_seen = catalog.TEAM_FIRST_SEEN.name
    first_success = catalog.TEAM_FIRST_SUCCESS.name
    panels = (
        Panel(
            "active-teams", "Active teams",
            "Teams with at least one request in the trailing day (requests nobody owns are not a team).",
            "short",
            (Query(f"count(sum by (team) (avg_over_time({VOLUME}{{{NAMED_TEAM}}}[1d])) > 0)", "active teams"),),
            min=0, decimals=0,
        ),
        Panel(
            "volume-trend", "Request volume by team",
            "Requests per second by team, each point the average of the hour before it.",
            "reqps", (Query(f"sum by (team) ({VOLUME})", "{{team}}"),),
            stacked=True, min=0,
        ),
        Panel(
            "time-to-first-success", "Time from first request to first success",
            "Per team, the time between the first request the platform saw from it and its first "
            "successful one (persisted by the exporter; the earliest across replicas). Long means a "
            "team struggled to get started: onboarding, quotas or approvals got in the way.",
            "s",
            (Query(
                f"min by (team) ({first_success}{{{NAMED_TEAM}}})\n- min by (team) ({first_seen}{{{NAMED_TEAM}}})",
                "{{team}}", instant=True,
            ),),
            kind="bargauge", min=0,
        ),
        Panel(
            "attributed-share", "Traffic attributed to a team",
            f"Share of requests the exporter attributed to a named team rather than {catalog.UNASSIGNED} "
            f"or {catalog.OTHER}. Below 100 % some keys or apps still need mapping in the spec.",
            "percentunit",
            (Query(f"sum({VOLUME}{{{NAMED_TEAM}}})\n/ sum({VOLUME})", "attributed"),),
            min=0, max=1,
        ),
    )
    return Board(
        ref=REF,
        description=ownership(
            "AI platform lead", "platform leadership", "monthly, and at each quarterly review",
            "Is the AI platform being adopted? Active teams, volume trend, time to a team's first "
            "success, and how much traffic is attributed.",
        ),
        variables=(),
        panels=panels,
        links=links(spec, REF.key),
        tags=("gatewatch", "adoption"),
        time_from="now-90d",
        refresh="1h",
    )


def build(spec: Spec) -> dict[str, Any]:
    return sdk.dashboard_json(board(spec))
