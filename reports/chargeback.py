"""Chargeback / showback: cost, requests and tokens by team, app, model and provider.

Every number comes from ``reports.counters.daily_increases``: exact per-series increases over
the period (see that module for the technique), so totals match the records that reached the
exporter, including series first seen mid-period and counters reset by an exporter restart.
``__other__`` and ``__unassigned__`` are rows like any team's. Shared apps listed in
``spec.finance.allocations`` keep their direct rows and get a pair of allocation rows per
target team: the owning team's ``allocated out`` (negative) and the target's ``allocated in``,
so the total is unchanged.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from exporter.spec import Allocation, Spec
from reports import cli
from reports.counters import daily_increases
from reports.periods import Period
from reports.prometheus import PrometheusClient, no_data

COST, REQUESTS, TOKENS = "genai_cost_usd_total", "genai_requests_total", "genai_tokens_total"
TOKEN_TYPES = ("input", "output", "cached_input", "reasoning")
FORMATS = ("csv", "md", "html", "focus")
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
            summed[key] = replace(line, day=None) if old is None else _add(old, line)
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


def _add(a: Line, b: Line) -> Line:
    tokens = tuple(x + y for x, y in zip(a.tokens, b.tokens, strict=True))
    return replace(a, cost=a.cost + b.cost, requests=a.requests + b.requests, tokens=tokens)  # type: ignore[arg-type]


def _label(key: tuple[tuple[str, str], ...], name: str) -> str:
    return dict(key).get(name, "")


def collect(client: PrometheusClient, spec: Spec, period: Period) -> Chargeback:
    """Query Prometheus for the period; a period without any gatewatch data is a ReportError."""
    cells: dict[tuple[date, Dims], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0])

    def dims(key: tuple[tuple[str, str], ...]) -> Dims:
        return (_label(key, "team"), _label(key, "app"), _label(key, "model"), _label(key, "provider"))

    for (day, key), value in daily_increases(client, COST, period).items():
        cells[(day, dims(key))][0] += value
    for (day, key), value in daily_increases(client, REQUESTS, period).items():
        cells[(day, dims(key))][1] += value
    for (day, key), value in daily_increases(client, TOKENS, period).items():
        kind = _label(key, "type")
        if kind in TOKEN_TYPES:
            cells[(day, dims(key))][2 + TOKEN_TYPES.index(kind)] += value
    if not cells:
        raise no_data(client.url, period.start_ts, period.end_ts)
    daily = tuple(
        Line(day, *d, cost=v[0], requests=v[1], tokens=(v[2], v[3], v[4], v[5]))
        for (day, d), v in sorted(cells.items())
    )
    return Chargeback(
        period=period,
        source=client.url,
        generated_at=datetime.now(UTC),
        daily=daily,
        allocations=tuple(allocate(daily, spec.finance.allocations)),
        cost_centers={t.name: t.cost_center for t in spec.teams},
    )


def shares(daily: tuple[Line, ...], rule: Allocation) -> dict[str, float]:
    """Each target team's share of the shared app's spend; even when requests give no basis."""
    if rule.method == "request_share":
        counts = {t: 0.0 for t in rule.teams}
        for line in daily:
            if line.team in counts and line.app != rule.app:
                counts[line.team] += line.requests
        total = sum(counts.values())
        if total > 0:
            return {t: n / total for t, n in counts.items()}
    return {t: 1.0 / len(rule.teams) for t in rule.teams}


def allocate(daily: tuple[Line, ...], rules: tuple[Allocation, ...]) -> list[Line]:
    """Allocation pairs moving each shared app's spend from its owner to the listed teams."""
    out: list[Line] = []
    for rule in rules:
        if not rule.teams:
            continue
        split = shares(daily, rule)
        for line in daily:
            if line.app != rule.app or line.allocation:
                continue
            for team, share in split.items():
                if team == line.team or share == 0:
                    continue
                moved: dict[str, Any] = dict(cost=line.cost * share, requests=line.requests * share,
                                             tokens=tuple(t * share for t in line.tokens))
                out.append(replace(line, allocation="allocated out",
                                   cost=-moved["cost"], requests=-moved["requests"],
                                   tokens=tuple(-t for t in moved["tokens"])))
                out.append(replace(line, team=team, allocation=f"allocated in from {line.team}",
                                   **moved))
    return out


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "chargeback",
        help="cost, requests and tokens by team, app, model and provider",
        description="Chargeback/showback for a month or any range: CSV, Markdown, HTML or FinOps FOCUS 1.2 CSV.",
    )
    cli.add_common_arguments(parser)
    cli.add_period_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="csv", help="output format (default csv)")
    parser.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")


def run(args: argparse.Namespace) -> int:
    from reports import outputs  # noqa: PLC0415 - outputs imports this module's types

    period = cli.period_of(args)
    spec = cli.load_spec(args.spec)
    report = collect(cli.client_of(args), spec, period)
    cli.write_output(outputs.render(report, args.format, spec), args.out)
    return 0
