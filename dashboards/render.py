"""The Grafana side of ``generate.py``: five dashboards plus the provisioning Grafana loads at start.

Paths are under build/: ``grafana/dashboards/<uid>.json`` (compose mounts that directory at
DASHBOARDS_PATH), ``grafana/provisioning/dashboards/gatewatch.yml`` and
``grafana/provisioning/datasources/prometheus.yml`` (mount at /etc/grafana/provisioning).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from alerts.prometheus_config import Targets
from alerts.yamlout import dump
from contract.spec import Spec
from dashboards import adoption, cost, overview, security, team

DashboardBuilder = Callable[[Spec], dict[str, Any]]

BUILDERS: tuple[DashboardBuilder, ...] = (overview.build, cost.build, security.build, team.build, adoption.build)
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/gatewatch"
DATASOURCE_UID = "prometheus"
DATASOURCE_URL = "http://prometheus:9090"
FOLDER = "gatewatch"
TARGETS = Targets()


def dashboards(spec: Spec) -> dict[str, dict[str, Any]]:
    """Every dashboard's JSON model, by uid."""
    boards: dict[str, dict[str, Any]] = {}
    for build in BUILDERS:
        board = build(spec)
        if board["uid"] in boards:
            raise RuntimeError(f"two dashboards share the uid {board['uid']}")
        boards[board["uid"]] = board
    return boards


def panel_queries(spec: Spec) -> list[tuple[str, int, str, str]]:
    """(dashboard uid, panel id, panel title, PromQL) for every query of every panel, in order."""
    return [
        (uid, panel["id"], panel["title"], target["expr"])
        for uid, board in dashboards(spec).items()
        for panel in board.get("panels", [])
        for target in panel.get("targets", [])
    ]


def dashboard_provider() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [{
            "name": FOLDER,
            "orgId": 1,
            "folder": FOLDER,
            "type": "file",
            # Dashboards are code: a change made in the UI would be lost at the next render.
            "disableDeletion": True,
            "allowUiUpdates": False,
            "updateIntervalSeconds": 60,
            "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
        }],
    }


def datasource(targets: Targets = TARGETS) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [{
            "name": "Prometheus",
            "uid": DATASOURCE_UID,
            "type": "prometheus",
            "access": "proxy",
            "url": DATASOURCE_URL,
            "isDefault": True,
            "editable": False,
            # $__rate_interval is at least four scrape intervals: Grafana must know the interval.
            "jsonData": {"timeInterval": targets.scrape_interval, "httpMethod": "POST"},
        }],
    }


def render(spec: Spec) -> dict[str, str]:
    files = {
        f"grafana/dashboards/{uid}.json": json.dumps(board, indent=2, sort_keys=True) + "\n"
        for uid, board in dashboards(spec).items()
    }
    files["grafana/provisioning/dashboards/gatewatch.yml"] = dump(dashboard_provider())
    files["grafana/provisioning/datasources/prometheus.yml"] = dump(datasource())
    return files
