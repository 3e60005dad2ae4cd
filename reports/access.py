"""``access``: the team x model access matrix, from the spec's approvals and observed traffic.

Each cell is approved and unused, used (approved), or used without approval; cells neither
approved nor used are left out. Approval follows the exporter's policy check exactly: a team
is approved for a model when one of its ``approved_models`` patterns matches the model label.
Teams the spec does not declare (``__unassigned__``, ``__other__``, admitted unknown teams)
hold no approvals, so any use of theirs shows as used without approval.

Requests are exact increases of ``genai_requests_total`` over the period (reports/counters.py).
Rows and columns are in a fixed order (spec names sorted, then names only seen in traffic, then
the sentinels), so two months' Markdown and CSV diff line by line. ``--previous OLD.csv`` (or
``access diff OLD.csv NEW.csv``) lists what changed: new usage, new unapproved usage, usage that
stopped, approvals added or removed, classification tiers changed.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contract import catalog
from contract.spec import Spec
from exporter.policy import model_approved
from reports import cli
from reports.counters import daily_increases
from reports.periods import Period
from reports.prometheus import PrometheusClient, ReportError, no_data

APPROVED_UNUSED = "approved_unused"
USED = "used"
UNAPPROVED = "used_without_approval"
CSV_COLUMNS = ("team", "model", "approved", "requests", "status", "classifications")
SENTINELS = (catalog.OTHER, catalog.UNASSIGNED)


@dataclass(frozen=True, slots=True)
class Cell:
    team: str
    model: str
    approved: bool
    requests: int

    @property
    def status(self) -> str:
        if self.requests > 0:
            return USED if self.approved else UNAPPROVED
        return APPROVED_UNUSED if self.approved else ""


@dataclass(frozen=True, slots=True)
class Matrix:
    period: str
    teams: tuple[str, ...]
    models: tuple[str, ...]
    cells: tuple[Cell, ...]  # approved or used only, in row then column order
    classifications: dict[str, tuple[str, ...]]  # per team: the tiers it may send

    def cell(self, team: str, model: str) -> Cell | None:
        return next((c for c in self.cells if c.team == team and c.model == model), None)

    def unapproved(self) -> list[Cell]:
        return [c for c in self.cells if c.status == UNAPPROVED]


def ordered(declared: Iterable[str], seen: Iterable[str]) -> tuple[str, ...]:
    """Declared names sorted, then names only seen in traffic sorted, then the sentinels."""
    declared = set(declared)
    seen = set(seen) - declared
    return (*sorted(declared), *sorted(n for n in seen if n not in SENTINELS),
            *(s for s in SENTINELS if s in seen))


def build(spec: Spec, usage: dict[tuple[str, str], float], period: str) -> Matrix:
    """The matrix for ``usage`` (requests per (team, model)) under the spec's approvals."""
    approvals = {t.name: t.approved_models for t in spec.teams}
    teams = ordered(approvals, (team for team, _ in usage))
    models = ordered((m.name for m in spec.models), (model for _, model in usage))
    cells = []
    for team in teams:
        patterns = approvals.get(team, ())
        for model in models:
            approved = model_approved(patterns, model)
            requests = round(usage.get((team, model), 0.0))
            if approved or requests > 0:
                cells.append(Cell(team, model, approved, requests))
    levels = spec.classification.levels
    classifications = {t.name: t.classifications or levels for t in spec.teams}
    return Matrix(period, teams, models, tuple(cells), classifications)


def observed(client: PrometheusClient, period: Period) -> dict[tuple[str, str], float]:
    """Requests per (team, model) in the period, exact across restarts and new series."""
    usage: dict[tuple[str, str], float] = defaultdict(float)
    for (_, key), value in daily_increases(client, catalog.REQUESTS.name, period).items():
        labels = dict(key)
        usage[(labels.get("team", ""), labels.get("model", ""))] += value
    if not usage:
        raise no_data(client.url, period.start_ts, period.end_ts)
    return dict(usage)


# -- rendering ------------------------------------------------------------------------------

def to_csv(matrix: Matrix) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in matrix.cells:
        writer.writerow([c.team, c.model, "yes" if c.approved else "no", c.requests, c.status,
                         ";".join(matrix.classifications.get(c.team, ()))])
    return out.getvalue()


def _shown(cell: Cell | None) -> str:
    if cell is None:
        return ""
    if cell.status == APPROVED_UNUSED:
        return "approved"
    if cell.status == USED:
        return f"used ({cell.requests:,})"
    return f"**UNAPPROVED ({cell.requests:,})**"


def to_markdown(matrix: Matrix, changes: list[Change] | None = None) -> str:
    parts = [f"# gatewatch access matrix {matrix.period}\n",
             "Cells: `approved` (approved, no requests), `used (n)` (approved, n requests), "
             "`UNAPPROVED (n)` (n requests without approval); empty: neither.\n",
             "| Team | " + " | ".join(matrix.models) + " |",
             "|---|" + "---|" * len(matrix.models)]
    for team in matrix.teams:
        parts.append(f"| {team} | " + " | ".join(_shown(matrix.cell(team, m)) for m in matrix.models) + " |")
    parts += ["", "## Used without approval\n"]
    unapproved = matrix.unapproved()
    if unapproved:
        parts += ["| Team | Model | Requests |", "|---|---|---:|"]
        parts += [f"| {c.team} | {c.model} | {c.requests:,} |" for c in unapproved]
    else:
        parts.append("None.")
    parts += ["", "## Data classification tiers\n", "| Team | May send |", "|---|---|"]
    parts += [f"| {team} | {', '.join(tiers)} |" for team, tiers in sorted(matrix.classifications.items())]
    if changes is not None:
        parts += ["", "## Changes since the previous matrix\n", render_changes(changes).rstrip("\n")]
    parts.append("")
    return "\n".join(parts)


# -- diff -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Row:
    approved: bool
    requests: int
    status: str
    classifications: str


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    team: str
    model: str  # "" for a team-wide change
    detail: str


# The order changes are listed in: what needs action first.
CHANGE_KINDS = ("new unapproved usage", "new usage", "usage stopped", "approval added", "approval removed",
                "classification tiers changed")


def read_csv(text: str, name: str = "matrix") -> dict[tuple[str, str], Row]:
    """Rows of a matrix CSV written by ``to_csv``; anything else is a ReportError."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise ReportError(f"{name} is not an access matrix CSV: expected the columns {', '.join(CSV_COLUMNS)}")
    rows = {}
    for line, record in enumerate(reader, start=2):
        try:
            rows[(record["team"], record["model"])] = Row(
                record["approved"] == "yes", int(record["requests"]), record["status"], record["classifications"])
        except (TypeError, ValueError):
            raise ReportError(f"{name}:{line}: requests must be a whole number") from None
    return rows


def diff(old: dict[tuple[str, str], Row], new: dict[tuple[str, str], Row]) -> list[Change]:
    """What changed from ``old`` to ``new``, in CHANGE_KINDS order, then team and model."""
    none = Row(False, 0, "", "")
    changes = []
    for team, model in set(old) | set(new):
        was, now = old.get((team, model), none), new.get((team, model), none)
        if now.status == UNAPPROVED and was.status != UNAPPROVED:
            changes.append(Change("new unapproved usage", team, model, f"{now.requests:,} requests"))
        elif now.requests > 0 and was.requests == 0:
            changes.append(Change("new usage", team, model, f"{now.requests:,} requests"))
        elif was.requests > 0 and now.requests == 0:
            changes.append(Change("usage stopped", team, model, f"{was.requests:,} requests before"))
        if now.approved and not was.approved:
            changes.append(Change("approval added", team, model, ""))
        elif was.approved and not now.approved:
            changes.append(Change("approval removed", team, model, ""))
    tiers_old = {team: r.classifications for (team, _), r in old.items()}
    tiers_new = {team: r.classifications for (team, _), r in new.items()}
    for team in set(tiers_old) & set(tiers_new):
        if tiers_old[team] != tiers_new[team]:
            changes.append(Change("classification tiers changed", team, "",
                                  f"{tiers_old[team] or '-'} -> {tiers_new[team] or '-'}"))
    return sorted(changes, key=lambda c: (CHANGE_KINDS.index(c.kind), c.team, c.model))


def render_changes(changes: list[Change]) -> str:
    if not changes:
        return "No changes.\n"
    lines = []
    for c in changes:
        what = f"{c.team} x {c.model}" if c.model else c.team
        lines.append(f"- {c.kind}: {what}" + (f" ({c.detail})" if c.detail else ""))
    return "\n".join(lines) + "\n"


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ReportError(f"cannot read {path}: {err.strerror}") from None


# -- command line ---------------------------------------------------------------------------

def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "access",
        help="team x model access matrix: approved, used, used without approval",
        description="The access matrix for a month or any range, as Markdown and CSV, optionally with "
                    "the changes since a previous matrix. 'access diff OLD.csv NEW.csv' compares two "
                    "matrices without Prometheus.",
    )
    parser.add_argument("--prometheus", metavar="URL", help="Prometheus base URL (required unless diff)")
    parser.add_argument("--spec", default="ops.yaml", type=Path, help="the ops spec (default ops.yaml)")
    parser.add_argument("--timeout", default=30.0, type=float, metavar="SECONDS",
                        help="per-query timeout (default 30)")
    cli.add_period_arguments(parser)
    parser.add_argument("--out", type=Path, metavar="PREFIX",
                        help="write PREFIX.md and PREFIX.csv (default or '-': Markdown on stdout)")
    parser.add_argument("--previous", type=Path, metavar="OLD.csv",
                        help="a previous matrix CSV: print what changed since")
    actions = parser.add_subparsers(dest="action", metavar="diff")
    compare = actions.add_parser("diff", help="what changed between two matrix CSVs")
    compare.add_argument("old", type=Path, metavar="OLD.csv")
    compare.add_argument("new", type=Path, metavar="NEW.csv")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) == "diff":
        sys.stdout.write(render_changes(
            diff(read_csv(_read(args.old), str(args.old)), read_csv(_read(args.new), str(args.new)))))
        return 0
    if not args.prometheus:
        raise ReportError("--prometheus URL is required (or use: access diff OLD.csv NEW.csv)")
    period = cli.period_of(args)
    spec = cli.load_spec(args.spec)
    previous = read_csv(_read(args.previous), str(args.previous)) if args.previous else None
    matrix = build(spec, observed(cli.client_of(args), period), period.label)
    text = to_csv(matrix)
    changes = diff(previous, read_csv(text)) if previous is not None else None
    markdown = to_markdown(matrix, changes)
    if args.out is None or str(args.out) == "-":
        sys.stdout.write(markdown)
        return 0
    cli.write_output(markdown, Path(f"{args.out}.md"))
    cli.write_output(text, Path(f"{args.out}.csv"))
    if changes is not None:
        sys.stdout.write(render_changes(changes))
    return 0
