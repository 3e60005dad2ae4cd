"""``python -m reports review export|import|summary``: the weekly review of guardrail findings.

    python -m reports review export --audit-dir audit/ --week 2026-W48 [--out PREFIX] [--format csv,md]
    python -m reports review import verdicts.csv --state-dir state/ [--audit-dir audit/]
    python -m reports review summary --state-dir state/ --spec ops.yaml [--audit-dir audit/] [--format md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exporter import verdicts
from reports.cli import load_spec, write_output
from reports.prometheus import ReportError
from reports.review import sheet, summary
from reports.review.findings import findings
from reports.review.importer import import_verdicts
from reports.review.weeks import period_of

EXPORT_FORMATS = ("csv", "md")
SUMMARY_FORMATS = {"md": summary.to_markdown, "csv": summary.to_csv, "json": summary.to_json}


def _period_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--week", metavar="YYYY-Www", help="an ISO week, UTC (Monday to Monday)")
    parser.add_argument("--start", metavar="DATE", help="period start (inclusive), UTC")
    parser.add_argument("--end", metavar="DATE", help="period end (exclusive), UTC")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "review", help="weekly review of what the guardrails blocked and flagged",
        description="Export the week's blocked and flagged guardrail findings as a sheet, import the "
                    "reviewers' verdicts into the exporter's state directory, and summarise false-positive "
                    "ratios per guardrail. See docs/review.md.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    export = actions.add_parser("export", help="write the review sheet (CSV and Markdown)")
    export.add_argument("--audit-dir", required=True, type=Path, metavar="DIR", help="the exporter's --audit-dir")
    _period_arguments(export)
    export.add_argument("--out", metavar="PREFIX",
                        help="write PREFIX.csv and PREFIX.md (default review-<week>); '-' writes one format to stdout")
    export.add_argument("--format", default="csv,md", help="comma-separated: csv, md (default csv,md)")

    load = actions.add_parser("import", help="record the verdicts of a filled-in sheet")
    load.add_argument("verdicts", type=Path, help="the filled-in CSV sheet")
    load.add_argument("--state-dir", required=True, type=Path, metavar="DIR", help="the exporter's --state-dir")
    load.add_argument("--audit-dir", type=Path, metavar="DIR",
                      help="check every review id against the audit log (recommended)")

    report = actions.add_parser("summary", help="false-positive ratios and guardrails flagged for tuning")
    report.add_argument("--state-dir", required=True, type=Path, metavar="DIR", help="the exporter's --state-dir")
    report.add_argument("--spec", default="ops.yaml", type=Path, help="the ops spec (default ops.yaml)")
    report.add_argument("--audit-dir", type=Path, metavar="DIR", help="count unreviewed findings from the audit log")
    _period_arguments(report)
    report.add_argument("--format", default="md", choices=tuple(SUMMARY_FORMATS), help="md, csv or json (default md)")
    report.add_argument("--out", type=Path, help="output file (default stdout)")


def run(args: argparse.Namespace) -> int:
    return {"export": _export, "import": _import, "summary": _summary}[args.action](args)


def _formats(text: str) -> list[str]:
    chosen = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in EXPORT_FORMATS]
    if unknown or not chosen:
        raise ReportError(f"--format takes csv and/or md, got {text!r}")
    return list(dict.fromkeys(chosen))


def _export(args: argparse.Namespace) -> int:
    period = period_of(args.week, args.start, args.end)
    formats = _formats(args.format)
    if args.out == "-" and len(formats) != 1:
        raise ReportError("--out - writes to stdout: choose one --format")
    found = findings(args.audit_dir, period)
    texts = {"csv": sheet.to_csv(found), "md": sheet.to_markdown(found, period)}
    prefix = args.out or f"review-{period.label.replace(' ', '_')}"
    for fmt in formats:
        write_output(texts[fmt], None if prefix == "-" else Path(f"{prefix}.{fmt}"))
    if prefix != "-":
        print(f"{len(found)} findings for {period.label}: "
              + ", ".join(f"{prefix}.{fmt}" for fmt in formats), file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    outcome = import_verdicts(args.verdicts, args.state_dir, args.audit_dir)
    print(f"recorded {outcome.recorded} verdicts ({outcome.new} new, {outcome.updated} updated) in "
          f"{verdicts.path_in(args.state_dir)}; {outcome.unreviewed} rows without a verdict skipped", file=sys.stderr)
    return 0


def _summary(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    period = period_of(args.week, args.start, args.end) if (args.week or args.start or args.end) else None
    try:
        store = verdicts.load(args.state_dir)
    except verdicts.StoreError as err:
        raise ReportError(str(err)) from None
    report = summary.summarise(store, spec, args.audit_dir, period)
    write_output(SUMMARY_FORMATS[args.format](report), args.out)
    return 0
