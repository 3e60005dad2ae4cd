"""``reconcile``: gatewatch's spend per provider and model against a provider invoice or usage export.

Each (provider, model) gets gatewatch's total, the invoice's, and the drift in USD and percent of
the invoice. A row is flagged when its drift is beyond ``finance.reconciliation_tolerance_percent``,
when the invoice bills a model gatewatch never saw, or when gatewatch saw spend on a model the
invoice does not bill. Only the providers the invoice covers are compared.

Exit status, for a scheduled job: 0 every row within tolerance, 1 at least one row flagged,
2 the report could not be made (unreachable Prometheus, no data, unreadable invoice).
"""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contract import catalog
from reports import invoices
from reports.cli import add_common_arguments, client_of, load_spec, write_output
from reports.counters import daily_increases
from reports.periods import Period, month
from reports.prometheus import PrometheusClient, no_data

WITHIN, FLAGGED, ERROR = 0, 1, 2
# Amounts below half a cent are zero on an invoice: never flag a row over them.
NEGLIGIBLE_USD = 0.005

OK = "ok"
DRIFT = "drift"
NOT_IN_GATEWATCH = "not seen by gatewatch"
NOT_ON_INVOICE = "not on invoice"


@dataclass(frozen=True, slots=True)
class Row:
    provider: str
    model: str            # "" for a provider's total
    gatewatch_usd: float
    invoice_usd: float
    status: str

    @property
    def drift_usd(self) -> float:
        return self.gatewatch_usd - self.invoice_usd

    @property
    def drift_percent(self) -> float | None:
        """Drift as a percentage of the invoice; None when the invoice bills nothing."""
        return self.drift_usd / self.invoice_usd * 100 if self.invoice_usd else None

    @property
    def flagged(self) -> bool:
        return self.status != OK


@dataclass(frozen=True, slots=True)
class Reconciliation:
    period: Period
    invoice_name: str
    mapping: str
    tolerance_percent: float
    rows: tuple[Row, ...]               # per provider and model
    totals: tuple[Row, ...]             # per provider
    outside_rows: int                   # invoice rows dated outside the period
    uncompared_providers: tuple[str, ...]  # gatewatch providers the invoice does not cover

    @property
    def exit_code(self) -> int:
        return FLAGGED if any(r.flagged for r in (*self.rows, *self.totals)) else WITHIN


def status_of(gatewatch_usd: float | None, invoice_usd: float | None, tolerance_percent: float) -> str:
    """The row's status; None means the side has no row for the model at all."""
    gw, inv = gatewatch_usd or 0.0, invoice_usd or 0.0
    if abs(gw - inv) < NEGLIGIBLE_USD:
        return OK
    if gatewatch_usd is None or gw < NEGLIGIBLE_USD:
        return NOT_IN_GATEWATCH
    if invoice_usd is None or inv < NEGLIGIBLE_USD:
        return NOT_ON_INVOICE
    return DRIFT if abs(gw - inv) / inv * 100 > tolerance_percent else OK


def compare(gatewatch: dict[tuple[str, str], float], invoice: dict[tuple[str, str], float],
            tolerance_percent: float) -> tuple[tuple[Row, ...], tuple[Row, ...], tuple[str, ...]]:
    """(rows per provider and model, totals per provider, gatewatch providers left uncompared)."""
    providers = {provider for provider, _ in invoice}
    keys = sorted(set(invoice) | {k for k in gatewatch if k[0] in providers})
    rows = tuple(
        Row(provider, model, gatewatch.get((provider, model), 0.0), invoice.get((provider, model), 0.0),
            status_of(gatewatch.get((provider, model)), invoice.get((provider, model)), tolerance_percent))
        for provider, model in keys
    )
    totals = []
    for provider in sorted(providers):
        gw = sum(r.gatewatch_usd for r in rows if r.provider == provider)
        inv = sum(r.invoice_usd for r in rows if r.provider == provider)
        totals.append(Row(provider, "", gw, inv, status_of(gw, inv, tolerance_percent)))
    uncompared = tuple(sorted({p for p, _ in gatewatch if p not in providers}))
    return rows, tuple(totals), uncompared


def gatewatch_totals(client: PrometheusClient, period: Period) -> dict[tuple[str, str], float]:
    """Spend per (provider, model) in the period, summed across teams, apps and exporter replicas.

    Exact per-series increases (``reports.counters``, as chargeback uses): series first seen
    inside the period and exporter restarts count in full.
    """
    totals: dict[tuple[str, str], float] = {}
    for (_, key), value in daily_increases(client, catalog.COST.name, period).items():
        labels = dict(key)
        provider_model = (labels.get("provider", ""), labels.get("model", ""))
        totals[provider_model] = totals.get(provider_model, 0.0) + value
    if not totals:
        raise no_data(client.url, period.start_ts, period.end_ts)
    return totals


def reconcile(client: PrometheusClient, spec_path: Path, period: Period, invoice_path: Path,
              mapping_name: str) -> Reconciliation:
    spec = load_spec(spec_path)
    mapping = invoices.MAPPINGS[mapping_name]
    invoice = invoices.load(invoice_path, mapping, spec, period.start, period.end)
    gatewatch = gatewatch_totals(client, period)
    tolerance = spec.finance.reconciliation_tolerance_percent
    rows, totals, uncompared = compare(gatewatch, invoice.totals(), tolerance)
    return Reconciliation(period, Path(invoice_path).name, mapping_name, tolerance, rows, totals,
                          invoice.outside, uncompared)


def _money(value: float) -> str:
    return f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


FOOTER = (
    "gatewatch counts a request in the period in which its record reached the exporter; a provider "
    "bills by the time it served the request, so requests at the edges of the period can fall on "
    "either side."
)


def to_markdown(report: Reconciliation) -> str:
    out = [
        f"# Reconciliation {report.period.label}: {report.invoice_name}",
        "",
        f"Period {report.period.start:%Y-%m-%d} to {report.period.end:%Y-%m-%d} (UTC, end exclusive); "
        f"mapping `{report.mapping}`; tolerance {report.tolerance_percent:g} %. "
        f"Drift is gatewatch minus the invoice, in USD and in percent of the invoice.",
        "",
        f"**{'FLAGGED' if report.exit_code else 'Within tolerance'}**: "
        f"{sum(r.flagged for r in report.rows)} of {len(report.rows)} model row(s) flagged.",
        "",
        "## By provider",
        "",
        *_table(report.totals, with_model=False),
        "",
        "## By provider and model",
        "",
        *_table(report.rows, with_model=True),
        "",
        "---",
        "",
        FOOTER,
    ]
    if report.outside_rows:
        out += ["", f"{report.outside_rows} invoice row(s) dated outside the period were left out."]
    if report.uncompared_providers:
        out += ["", "gatewatch also saw spend at provider(s) this invoice does not cover, not compared: "
                + ", ".join(report.uncompared_providers) + "."]
    out += ["", "Exit status: 0 within tolerance, 1 a row flagged, 2 the report could not be made."]
    return "\n".join(out) + "\n"


def _table(rows: Iterable[Row], *, with_model: bool) -> list[str]:
    head = ["Provider", *(["Model"] if with_model else []), "gatewatch USD", "Invoice USD", "Drift USD",
            "Drift %", "Status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.provider, *([r.model] if with_model else []), _money(r.gatewatch_usd), _money(r.invoice_usd),
                 f"{r.drift_usd:+.2f}", _percent(r.drift_percent), ("**" + r.status + "**") if r.flagged else r.status]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


CSV_COLUMNS = ("level", "provider", "model", "gatewatch_usd", "invoice_usd", "drift_usd", "drift_percent",
               "status", "flagged")


def to_csv(report: Reconciliation) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for level, rows in (("provider", report.totals), ("model", report.rows)):
        for r in rows:
            writer.writerow([level, r.provider, r.model, f"{r.gatewatch_usd:.6f}", f"{r.invoice_usd:.6f}",
                             f"{r.drift_usd:.6f}", "" if r.drift_percent is None else f"{r.drift_percent:.4f}",
                             r.status, str(r.flagged).lower()])
    return buffer.getvalue()


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="compare gatewatch's spend with a provider invoice or usage export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    parser.add_argument("--month", required=True, metavar="YYYY-MM", help="the UTC calendar month invoiced")
    parser.add_argument("--invoice", required=True, type=Path, metavar="FILE", help="the invoice or export CSV")
    parser.add_argument("--mapping", required=True, choices=sorted(invoices.MAPPINGS),
                        help="the CSV's column mapping (see docs/reports.md)")
    parser.add_argument("--format", choices=("md", "csv"), default="md", help="output format (default md)")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    report = reconcile(client_of(args), args.spec, month(args.month), args.invoice, args.mapping)
    write_output(to_markdown(report) if args.format == "md" else to_csv(report), args.out)
    return report.exit_code
