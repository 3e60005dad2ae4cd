"""``compliance``: the spec's controls, each with evidence evaluated live (reports/evidence.py).

Every control gets pass, fail or no_evidence, the measured value, the threshold and the query or
file check behind it. Output is Markdown, self-contained HTML and JSON; the JSON has sorted keys,
controls in (framework, id) order, and the period and generation time in one place only, so two
periods' files diff control by control. With ``--state-dir`` the headline (each control's status)
is also written into the exporter's state directory, where the exporter picks it up for the
compliance panel.

Exit status, for a scheduled job: 0 every control passes, 1 at least one fails, 2 the report
could not be made (Prometheus unreachable, bad arguments). no_evidence alone exits 0: a gap is
shown, and counted in the summary, but it is not a failed control.
"""

from __future__ import annotations

import argparse
import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from contract.spec import Spec
from exporter import compliance as headline
from reports import cli
from reports.evidence import FAIL, NO_EVIDENCE, PASS, Evidence, Sources, evaluate
from reports.periods import Period
from reports.prometheus import PrometheusClient, ReportError

FORMATS = ("md", "html", "json")
STATUSES = (PASS, FAIL, NO_EVIDENCE)
ALL_PASS, ANY_FAIL = 0, 1
NO_EVIDENCE_MEANS = (
    "no_evidence means the evidence could not be gathered (a source not given, not present or not "
    "installed, or nothing in the period to measure): it is a gap to close, not a pass."
)


@dataclass(frozen=True, slots=True)
class ControlResult:
    id: str
    framework: str
    reference: str
    title: str
    evidence_kind: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    generated_at: datetime
    source: str
    results: tuple[ControlResult, ...]  # in (framework, id) order

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(STATUSES, 0)
        for result in self.results:
            found[result.evidence.status] += 1
        return found

    @property
    def exit_code(self) -> int:
        return ANY_FAIL if self.counts()[FAIL] else ALL_PASS


def collect(spec: Spec, period: Period, client: PrometheusClient, *, audit_dir: Path | None = None,
            build_dir: Path | None = None, state_dir: Path | None = None,
            generated_at: datetime | None = None) -> Report:
    if not spec.compliance.controls:
        raise ReportError("the spec declares no compliance controls (compliance.controls)")
    sources = Sources(spec, period, client, audit_dir=audit_dir, build_dir=build_dir, state_dir=state_dir)
    results = tuple(
        ControlResult(c.id, c.framework, c.reference, c.title, c.evidence, evaluate(sources, c.evidence, c.threshold))
        for c in sorted(spec.compliance.controls, key=lambda c: (c.framework, c.id))
    )
    return Report(period, generated_at or datetime.now(UTC), client.url, results)


def headline_of(report: Report) -> headline.ComplianceResult:
    """What the exporter exposes: each control's id, framework and status, and the two times."""
    return headline.ComplianceResult(
        generated_at=report.generated_at.timestamp(),
        period_start=report.period.start_ts,
        period_end=report.period.end_ts,
        controls=tuple(headline.ControlStatus(r.id, r.framework, r.evidence.status) for r in report.results),  # type: ignore[arg-type]
    )


# -- rendering ------------------------------------------------------------------------------------

def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def shown(value: float | None, unit: str) -> str:
    """A value or threshold as a person reads it: shares in percent, counts and days whole."""
    if value is None:
        return "—"
    if unit == "share":
        return f"{value * 100:.2f} %"
    if unit == "days":
        return f"{value:g} days"
    return f"{value:g}"


def to_json(report: Report) -> str:
    controls = [
        {
            "id": r.id, "framework": r.framework, "reference": r.reference, "title": r.title,
            "evidence": r.evidence_kind, "status": r.evidence.status, "value": _number(r.evidence.value),
            "threshold": _number(r.evidence.threshold), "comparison": r.evidence.comparison,
            "unit": r.evidence.unit, "query": r.evidence.query, "detail": r.evidence.detail,
        }
        for r in report.results
    ]
    document = {
        "report": {
            "period": {"start": _iso(report.period.start), "end": _iso(report.period.end),
                       "label": report.period.label},
            "generated_at": _iso(report.generated_at),
            "source": report.source,
        },
        "summary": report.counts(),
        "controls": controls,
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _about(report: Report) -> str:
    return (f"Period {_iso(report.period.start)} to {_iso(report.period.end)} (UTC, end exclusive); "
            f"source {report.source}; generated {_iso(report.generated_at)}.")


def _summary(report: Report) -> str:
    counts = report.counts()
    return f"{counts[PASS]} pass, {counts[FAIL]} fail, {counts[NO_EVIDENCE]} no evidence."


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def to_markdown(report: Report) -> str:
    parts = [f"# gatewatch compliance evidence {report.period.label}\n", f"{_about(report)}\n",
             f"**{_summary(report)}**\n", "## Controls\n",
             "| Framework | Control | Reference | Title | Evidence | Status | Value | Threshold |",
             "|---|---|---|---|---|---|---:|---:|"]
    for r in report.results:
        e = r.evidence
        parts.append(f"| {_md(r.framework)} | {_md(r.id)} | {_md(r.reference)} | {_md(r.title)} | {r.evidence_kind} | "
                     f"**{e.status}** | {shown(e.value, e.unit)} | {e.comparison} {shown(e.threshold, e.unit)} |")
    parts += ["", "## Evidence\n"]
    for r in report.results:
        e = r.evidence
        parts += [f"### {r.id}: {_md(r.title)}\n",
                  f"- Status: **{e.status}** (value {shown(e.value, e.unit)}, must be {e.comparison} "
                  f"{shown(e.threshold, e.unit)})",
                  f"- {'Why no evidence' if e.status == NO_EVIDENCE else 'Measured'}: {_md(e.detail)}",
                  f"- Query: `{e.query}`", ""]
    parts += [f"_{NO_EVIDENCE_MEANS}_", ""]
    return "\n".join(parts)


_COLOURS = {PASS: "#d7f0d7", FAIL: "#f6d0d0", NO_EVIDENCE: "#f3e6c4"}


def to_html(report: Report) -> str:
    esc = html.escape
    rows = []
    for r in report.results:
        e = r.evidence
        rows.append(
            f'<tr><td>{esc(r.framework)}</td><td>{esc(r.id)}</td><td>{esc(r.reference)}</td><td>{esc(r.title)}</td>'
            f'<td>{esc(r.evidence_kind)}</td><td style="background:{_COLOURS[e.status]}"><b>{esc(e.status)}</b></td>'
            f"<td>{esc(shown(e.value, e.unit))}</td><td>{esc(e.comparison)} {esc(shown(e.threshold, e.unit))}</td>"
            f"<td>{esc(e.detail)}</td><td><code>{esc(e.query)}</code></td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("Framework", "Control", "Reference", "Title", "Evidence", "Status",
                                             "Value", "Threshold", "Measured / why", "Query"))
    title = f"gatewatch compliance evidence {report.period.label}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:13px;vertical-align:top}}code{{font-size:12px}}</style>
</head><body>
<h1>{esc(title)}</h1>
<p>{esc(_about(report))}</p>
<p><strong>{esc(_summary(report))}</strong></p>
<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>
<footer><p>{esc(NO_EVIDENCE_MEANS)}</p></footer>
</body></html>
"""


RENDERERS = {"md": to_markdown, "html": to_html, "json": to_json}


# -- command line ---------------------------------------------------------------------------------

def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(FORMATS)}, got {text!r}")
    return chosen


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compliance",
        help="compliance controls from the spec, each with live evidence: pass, fail or no evidence",
        description="Evaluate every control in the spec's compliance section against live evidence "
                    "(Prometheus, the audit log, the review verdicts, the spec, the build directory). "
                    "Exit 0 all pass, 1 any fail, 2 error.",
    )
    cli.add_common_arguments(parser)
    cli.add_period_arguments(parser)
    parser.add_argument("--audit-dir", type=Path, metavar="DIR", help="the exporter's audit log directory")
    parser.add_argument("--build-dir", type=Path, default=Path("build"), metavar="DIR",
                        help="the generated build directory (default build)")
    parser.add_argument("--state-dir", type=Path, metavar="DIR",
                        help="the exporter's state directory: the review verdicts are read from it and the "
                             "report's headline is written into it for the compliance panel")
    parser.add_argument("--format", type=_formats, default=("md",), metavar="md,html,json",
                        help="output formats, comma-separated (default md)")
    parser.add_argument("--out", type=Path, metavar="PREFIX",
                        help="write PREFIX.<format> for each format (default or '-': stdout, one format only)")


def run(args: argparse.Namespace) -> int:
    formats: tuple[str, ...] = args.format
    if args.out is not None and str(args.out) == "-":
        args.out = None  # '-' is stdout, as for the other reports
    if args.out is None and len(formats) > 1:
        raise ReportError("several formats need --out PREFIX (one file per format)")
    period = cli.period_of(args)
    spec = cli.load_spec(args.spec)
    report = collect(spec, period, cli.client_of(args), audit_dir=args.audit_dir, build_dir=args.build_dir,
                     state_dir=args.state_dir)
    for fmt in formats:
        text = RENDERERS[fmt](report)
        cli.write_output(text, None if args.out is None else Path(f"{args.out}.{fmt}"))
    if args.state_dir is not None:
        try:
            headline.write(args.state_dir, headline_of(report))
        except OSError as err:
            raise ReportError(f"cannot write the compliance headline into {args.state_dir}: {err.strerror}") from None
    return report.exit_code
