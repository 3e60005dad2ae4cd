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
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from contract import catalog
from contract.spec import Allocation, Spec
from reports import cli, outputs
from reports.counters import daily_increases
from reports.ledger import TOKEN_TYPES, Chargeback, Dims, Line
from reports.periods import Period
from reports.prometheus import PrometheusClient, no_data

COST, REQUESTS, TOKENS = catalog.COST.name, catalog.REQUESTS.name, catalog.TOKENS.name
FORMATS = ("csv", "md", "html", "focus")


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

    period = cli.period_of(args)
    spec = cli.load_spec(args.spec)
    report = collect(cli.client_of(args), spec, period)
    cli.write_output(outputs.render(report, args.format, spec), args.out)
    return 0
