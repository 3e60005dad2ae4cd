"""The chargeback's data: lines of usage per team, app, model and provider, and the report
that holds them. Collected by ``reports.chargeback``, rendered by ``reports.outputs`` and
``reports.focus``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from contract import catalog
from reports.periods import Period

TOKEN_TYPES = catalog.TOKEN_TYPES
FOOTER = ("Records count in the period in which they reached the gatewatch exporter, "
          "not when the provider bills them; requests near the period's edges may fall in the "
          "neighbouring period on the invoice.")

Dims = tuple[str, str, str, str]  # team, app, model, provider


@dataclass(frozen=True)
class Line:
    """One team x app x model x provider, for a day (``day``) or the whole period (None)."""

    day: date | None
    team: str
    app: str
    model: str
    provider: str
    cost: float = 0.0
    requests: float = 0.0
    tokens: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # in TOKEN_TYPES order
    allocation: str = ""  # "", "allocated out", or "allocated in from <team>"

    @property
    def dims(self) -> Dims:
        return (self.team, self.app, self.model, self.provider)


@dataclass(frozen=True)
class Chargeback:
    period: Period
    source: str                    # the Prometheus URL
    generated_at: datetime
    daily: tuple[Line, ...]        # direct usage per day
    allocations: tuple[Line, ...]  # per day, the allocation pairs
    cost_centers: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[Line]:
        """Direct and allocation lines summed over the period, sorted."""
        summed: dict[tuple[Dims, str], Line] = {}
        for line in (*self.daily, *self.allocations):
            key = (line.dims, line.allocation)
            old = summed.get(key)
            summed[key] = replace(line, day=None) if old is None else add_lines(old, line)
        return sorted(summed.values(), key=lambda x: (x.team, x.app, x.model, x.provider, x.allocation))

    def by_team(self) -> dict[str, float]:
        """Cost per team after allocation."""
        out: dict[str, float] = defaultdict(float)
        for line in (*self.daily, *self.allocations):
            out[line.team] += line.cost
        return dict(sorted(out.items()))

    def direct_by_team(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for line in self.daily:
            out[line.team] += line.cost
        return dict(sorted(out.items()))

    def total_cost(self) -> float:
        return sum(line.cost for line in self.daily)

    def total_requests(self) -> float:
        return sum(line.requests for line in self.daily)

    def cost_center(self, team: str) -> str:
        return self.cost_centers.get(team, "")


def add_lines(a: Line, b: Line) -> Line:
    tokens = tuple(x + y for x, y in zip(a.tokens, b.tokens, strict=True))
    return replace(a, cost=a.cost + b.cost, requests=a.requests + b.requests, tokens=tokens)  # type: ignore[arg-type]
