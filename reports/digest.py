"""The budget-owner digest: one team's month in a short Markdown page, for an email or chat post.

Month-to-date spend and the top apps and models use the chargeback's exact counter increases
(``reports.counters``), so the digest and the chargeback agree to the cent. The projection to
the month's end adds the last ``RECENT_DAYS`` days' spend rate for the days left; alerts come
from Prometheus's own ``ALERTS`` series over the month.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from alerts import cost as cost_alerts
from alerts.model import AlertRule
from alerts.render import runbook_url
from contract import catalog
from contract.dashboards import dashboard_url
from contract.spec import Spec, Team
from reports.cli import add_common_arguments, client_of, load_spec, write_output
from reports.counters import Key, daily_increases
from reports.periods import Period, month, parse_instant
from reports.prometheus import PrometheusClient, ReportError

# A week of spend sets the projection's rate: it holds every weekday once, so a quiet weekend
# or a busy Monday does not skew it.
RECENT_DAYS = 7
# Rows in the top-apps and top-models tables: what a budget owner reads in an email.
TOP = 5
# Resolution of the alert history: an alert firing for less than this may show as one step.
ALERT_STEP_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    cost_usd: float
    requests: float


@dataclass(frozen=True, slots=True)
class AlertSummary:
    alertname: str
    severity: str
    episodes: int          # separate firing spells
    first_firing: float    # Unix time of the first step that saw it firing
    firing_seconds: float  # at ALERT_STEP_SECONDS resolution


@dataclass(frozen=True, slots=True)
class Digest:
    team: Team
    period: Period          # the calendar month
    as_of: float            # end of the data read (now, or the month's end once it is over)
    month_to_date_usd: float
    daily_usd: dict[date, float]
    recent_rate_usd_per_day: float
    apps: tuple[Line, ...]
    models: tuple[Line, ...]
    alerts: tuple[AlertSummary, ...]

    @property
    def budget_usd(self) -> float:
        return self.team.budget.monthly_usd

    @property
    def projected_usd(self) -> float:
        left = max(self.period.end_ts - self.as_of, 0.0)
        return self.month_to_date_usd + self.recent_rate_usd_per_day * left / 86_400

    def crossing(self) -> tuple[str, date] | None:
        """("crossed", day) when month-to-date spend passed the budget, ("projected", day) when the
        projection passes it before the month ends, else None."""
        budget = self.budget_usd
        running = 0.0
        for day in sorted(self.daily_usd):
            running += self.daily_usd[day]
            if running > budget:
                return "crossed", day
        if self.projected_usd > budget and self.recent_rate_usd_per_day > 0:
            at = self.as_of + (budget - self.month_to_date_usd) / self.recent_rate_usd_per_day * 86_400
            return "projected", datetime.fromtimestamp(at, UTC).date()
        return None


# ---- reading -----------------------------------------------------------------------------------

def _label(key: Key, name: str) -> str:
    return dict(key).get(name, "")


def _spend_by_team(client: PrometheusClient, period: Period, team: str | None) -> tuple[
        dict[str, dict[tuple[date, Key], float]], dict[str, dict[tuple[date, Key], float]]]:
    selector = f'team="{team}"' if team else ""
    split: list[dict[str, dict[tuple[date, Key], float]]] = []
    for metric in (catalog.COST.name, catalog.REQUESTS.name):
        by_team: dict[str, dict[tuple[date, Key], float]] = defaultdict(dict)
        for (day, key), value in daily_increases(client, metric, period, selector).items():
            by_team[_label(key, "team")][(day, key)] = value
        split.append(by_team)
    return split[0], split[1]


def _top(cost: dict[tuple[date, Key], float], requests: dict[tuple[date, Key], float], label: str) -> tuple[Line, ...]:
    spent: dict[str, float] = defaultdict(float)
    counted: dict[str, float] = defaultdict(float)
    for (_day, key), value in cost.items():
        spent[_label(key, label)] += value
    for (_day, key), value in requests.items():
        counted[_label(key, label)] += value
    names = sorted(set(spent) | set(counted), key=lambda n: (-spent.get(n, 0.0), -counted.get(n, 0.0), n))
    return tuple(Line(n, spent.get(n, 0.0), counted.get(n, 0.0)) for n in names[:TOP])


def _recent_rate(daily: dict[date, float], month_start: float, as_of: float) -> float:
    """USD a day over the last RECENT_DAYS days before ``as_of`` (whole UTC days back from the
    day ``as_of`` falls in, never before the month's start)."""
    end_day = datetime.fromtimestamp(as_of, UTC)
    midnight = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC)
    if midnight.timestamp() == as_of:
        midnight -= timedelta(days=1)  # as_of at midnight: the day that just ended is the last
    start = max((midnight - timedelta(days=RECENT_DAYS - 1)).timestamp(), month_start)
    first_day = datetime.fromtimestamp(start, UTC).date()
    seconds = as_of - start
    if seconds <= 0:
        return 0.0
    return sum(v for d, v in daily.items() if first_day <= d <= midnight.date()) / seconds * 86_400


def alert_query(team: str) -> str:
    return (f'max by (alertname, severity) (max_over_time(ALERTS{{team="{team}", alertstate="firing"}}'
            f"[{ALERT_STEP_SECONDS}s]))")


def read_alerts(client: PrometheusClient, team: str, start: float, end: float) -> tuple[AlertSummary, ...]:
    """Each alert that fired for ``team`` in (start, end]: how many separate spells, when first seen
    firing, and for how long, to ALERT_STEP_SECONDS (a spell seen at one step counts one step)."""
    # A range query returns at most 11,000 points a series: a month at 5 minutes is under 9,000.
    rows = client.query_range(alert_query(team), start + ALERT_STEP_SECONDS, end, ALERT_STEP_SECONDS)
    found = []
    for row in rows:
        stamps = sorted(float(t) for t, _v in row["values"])
        if not stamps:
            continue
        spells: list[list[float]] = [[stamps[0], stamps[0]]]
        for a, b in itertools.pairwise(stamps):
            if b - a > ALERT_STEP_SECONDS:
                spells.append([b, b])
            else:
                spells[-1][1] = b
        found.append(AlertSummary(
            row["metric"].get("alertname", ""), row["metric"].get("severity", ""), len(spells), stamps[0],
            sum(max(last - first, ALERT_STEP_SECONDS) for first, last in spells),
        ))
    return tuple(sorted(found, key=lambda a: (a.first_firing, a.alertname)))


def _daily(cost: dict[tuple[date, Key], float]) -> dict[date, float]:
    out: dict[date, float] = defaultdict(float)
    for (day, _key), value in cost.items():
        out[day] += value
    return dict(out)


def build(client: PrometheusClient, spec: Spec, teams: list[Team], period: Period,
          as_of: float) -> list[Digest]:
    """Digests of ``teams`` for ``period``; teams without any spend in it are left out."""
    end = min(as_of, period.end_ts)
    if end <= period.start_ts:
        raise ReportError(f"{period.label} has not started at {_iso(as_of)}")
    read = Period(period.start, datetime.fromtimestamp(end, UTC), period.label)
    only = teams[0].name if len(teams) == 1 else None
    cost, requests = _spend_by_team(client, read, only)
    digests = []
    for team in teams:
        spent = cost.get(team.name, {})
        if not spent:
            continue
        daily = _daily(spent)
        counted = requests.get(team.name, {})
        digests.append(Digest(
            team, period, end, sum(daily.values()), daily, _recent_rate(daily, period.start_ts, end),
            _top(spent, counted, "app"), _top(spent, counted, "model"),
            read_alerts(client, team.name, period.start_ts, end),
        ))
    return digests


# ---- writing -----------------------------------------------------------------------------------

def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _usd(value: float) -> str:
    return f"{value:,.2f} USD"


def _share(value: float, budget: float) -> str:
    return f"{value / budget:.1%}" if budget > 0 else "no budget set"


def budget_runbooks(spec: Spec) -> list[str]:
    """The alerts a budget owner receives (from the cost rules), whose runbooks the digest links."""
    names: list[str] = []
    for group in cost_alerts.groups(spec):
        for rule in group.rules:
            if isinstance(rule, AlertRule) and rule.audience == "budget_owner" and rule.name not in names:
                names.append(rule.name)
    return names


def markdown(digest: Digest, spec: Spec) -> str:
    team, budget = digest.team, digest.budget_usd
    title = team.display_name or team.name
    month_name = digest.period.start.strftime("%B %Y")
    over = digest.as_of >= digest.period.end_ts
    lines = [
        f"# {title}: GenAI spend, {month_name}",
        "",
        f"Team `{team.name}`, cost centre {team.cost_center}, budget owner {team.budget_owner.name}. "
        f"Figures to {_iso(digest.as_of)}, in USD.",
        "",
        "| | USD | Share of budget |",
        "|---|---:|---:|",
        f"| {'Month' if over else 'Month to date'} | {digest.month_to_date_usd:,.2f} | "
        f"{_share(digest.month_to_date_usd, budget)} |",
    ]
    if not over:
        projected = digest.projected_usd
        lines.append(f"| Projected at month end | {projected:,.2f} | {_share(projected, budget)} |")
    lines += [f"| Budget | {budget:,.2f} | |", ""]
    if not over:
        lines += [f"Projection: month to date plus {_usd(digest.recent_rate_usd_per_day)} a day (the spend rate "
                  f"of the last {RECENT_DAYS} days) for the days left.", ""]
    crossing = digest.crossing()
    if crossing is None:
        lines += ["**Within budget.**" if over else "**On track to stay within budget.**", ""]
    elif crossing[0] == "crossed":
        lines += [f"**Over budget since {crossing[1].isoformat()}.**", ""]
    else:
        lines += [f"**On course to pass the budget around {crossing[1].isoformat()}.**", ""]

    for heading, rows, what in (("Top apps", digest.apps, "App"), ("Top models", digest.models, "Model")):
        lines += [f"## {heading}", "", f"| {what} | USD | Share | Requests |", "|---|---:|---:|---:|"]
        for row in rows:
            lines.append(f"| {row.name} | {row.cost_usd:,.2f} | {_share(row.cost_usd, digest.month_to_date_usd)} | "
                         f"{row.requests:,.0f} |")
        lines.append("")

    lines += ["## Alerts this month", ""]
    if not digest.alerts:
        lines += ["No alert fired for this team.", ""]
    else:
        lines += ["| Alert | Severity | Times fired | First fired | Hours firing | Runbook |",
                  "|---|---|---:|---|---:|---|"]
        for alert in digest.alerts:
            lines.append(f"| {alert.alertname} | {alert.severity} | {alert.episodes} | {_iso(alert.first_firing)} | "
                         f"{alert.firing_seconds / 3600:,.1f} | [runbook]({runbook_url(spec, alert.alertname)}) |")
        lines.append("")

    grafana = spec.organization.grafana_base_url
    variables = {"team": team.name}
    lines += [
        "## Links",
        "",
        f"- [Team dashboard]({dashboard_url(grafana, 'team', variables=variables)})",
        f"- [Spend against budget]({dashboard_url(grafana, 'cost', 'month-to-date', variables)})",
        *(f"- Runbook: [{name}]({runbook_url(spec, name)})" for name in budget_runbooks(spec)),
        "",
        "---",
        "Spend counts in the period in which the gateway's records reached the exporter. "
        f"Alerts at {ALERT_STEP_SECONDS // 60}-minute resolution.",
        "",
    ]
    return "\n".join(lines)


# ---- command -----------------------------------------------------------------------------------

def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "digest",
        help="a team's month in Markdown for its budget owner",
        description="Month to date against budget, the projection to month end, top apps and models, the "
                    "month's alerts and links, for one team (--team) or every team (--all-teams).",
    )
    add_common_arguments(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--team", help="the team (a name from the spec)")
    which.add_argument("--all-teams", action="store_true", help="one digest per spec team, into --out-dir")
    parser.add_argument("--month", metavar="YYYY-MM", help="UTC calendar month (default: the month of --as-of)")
    parser.add_argument("--as-of", metavar="TIME", help="read data up to this time, UTC (default now)")
    parser.add_argument("--out", type=Path, help="output file with --team (default stdout)")
    parser.add_argument("--out-dir", type=Path, help="directory for TEAM.md files with --all-teams")


def run(args: argparse.Namespace) -> int:
    if args.all_teams and args.out_dir is None:
        raise ReportError("--all-teams writes one file per team: give --out-dir")
    if args.team and args.out_dir is not None:
        raise ReportError("--out-dir goes with --all-teams; use --out with --team")
    spec = load_spec(args.spec)
    as_of = parse_instant(args.as_of).timestamp() if args.as_of else time.time()
    period = month(args.month) if args.month else month(datetime.fromtimestamp(as_of, UTC).strftime("%Y-%m"))
    if args.team:
        try:
            teams = [spec.team(args.team)]
        except KeyError:
            raise ReportError(f"unknown team {args.team!r}: expected one of {[t.name for t in spec.teams]}") from None
    else:
        teams = list(spec.teams)
    client = client_of(args)
    digests = build(client, spec, teams, period, as_of)
    end = min(as_of, period.end_ts)
    if not digests:
        who = f"team {args.team}" if args.team else "any team"
        raise ReportError(f"no gatewatch spend for {who} between {_iso(period.start_ts)} and {_iso(end)} "
                          f"in {client.url}: is the exporter scraped?")
    if args.team:
        write_output(markdown(digests[0], spec), args.out)
        return 0
    for digest in digests:
        write_output(markdown(digest, spec), args.out_dir / f"{digest.team.name}.md")
    quiet = [t.name for t in teams if t.name not in {d.team.name for d in digests}]
    if quiet:
        print(f"no spend in {period.label} for: {', '.join(quiet)} (no digest written)")
    return 0
