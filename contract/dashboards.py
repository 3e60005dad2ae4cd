"""Dashboard UIDs and panel ids: one table, so every dashboard_url stays stable.

Alerts and runbooks link to ``(dashboard, panel)`` keys; the dashboard generators must give
those panels exactly these ids. Changing an id here breaks links in notifications already sent,
so add rather than renumber.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DashboardRef:
    key: str
    uid: str
    title: str
    panels: dict[str, int]

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


DASHBOARDS: dict[str, DashboardRef] = {
    d.key: d
    for d in (
        DashboardRef("overview", "gatewatch-overview", "GenAI platform overview", {
            "request-rate": 1, "error-ratio": 2, "latency": 3, "ttft": 4, "slo-status": 5, "error-budget": 6,
            "exporter-health": 7, "freshness": 8, "firing-alerts": 9, "provider-errors": 10,
            "rejected-records": 11, "cardinality": 12,
        }),
        DashboardRef("cost", "gatewatch-cost", "GenAI cost and budgets", {
            "spend-now": 1, "spend-rate": 2, "month-to-date": 3, "projected": 4, "top-teams": 5, "top-apps": 6,
            "top-models": 7, "cost-per-request": 8, "cost-per-1k-tokens": 9, "cache-savings": 10, "unpriced": 11,
            "unattributed": 12, "budget-burn": 13,
        }),
        DashboardRef("security", "gatewatch-security", "GenAI security operations", {
            "guardrail-evaluations": 1, "block-rate": 2, "fail-open": 3, "sensitive-entities": 4,
            "policy-violations": 5, "app-volume": 6, "unapproved-models": 7, "guardrail-bypass": 8,
            "review-fp-ratio": 9, "review-verdicts": 10, "review-flagged": 11,
            "compliance-summary": 12, "compliance-controls": 13, "compliance-age": 14,
        }),
        DashboardRef("team", "gatewatch-team", "GenAI team self-service", {
            "usage": 1, "spend-vs-budget": 2, "errors": 3, "latency": 4, "prompt-length": 5, "cache-hit-ratio": 6,
            "top-apps": 7,
        }),
        DashboardRef("adoption", "gatewatch-adoption", "GenAI adoption", {
            "active-teams": 1, "volume-trend": 2, "time-to-first-success": 3, "attributed-share": 4,
        }),
    )
}


def dashboard_url(
    base_url: str, dashboard: str, panel: str | None = None, variables: dict[str, str] | None = None
) -> str:
    """Link to a dashboard (and one panel of it). Variable values may be Alertmanager/Prometheus
    templates such as ``{{ $labels.team }}``: they are kept unescaped for the template engine."""
    ref = DASHBOARDS[dashboard]
    params: list[str] = []
    if panel is not None:
        params.append(f"viewPanel={ref.panels[panel]}")
    for name, value in (variables or {}).items():
        kept = value if "{{" in value else urllib.parse.quote(value, safe="")
        params.append(f"var-{name}={kept}")
    query = f"?{'&'.join(params)}" if params else ""
    return f"{base_url.rstrip('/')}/d/{ref.uid}/{ref.slug}{query}"
