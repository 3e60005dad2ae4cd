"""The review sheet: one row per finding, with empty verdict, reviewer, reviewed_at and notes
columns for the reviewer. CSV to fill in and import; Markdown to read."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime

from reports.periods import Period
from reports.review.findings import Finding

COLUMNS = ("review_id", "week", "time", "request_id", "team", "app", "model", "provider", "guardrail", "stage",
           "result", "entities", "violations", "verdict", "reviewer", "reviewed_at", "notes")
# Spreadsheets run a cell starting with one of these as a formula: such a cell gets a leading '.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
INSTRUCTIONS = (
    "Fill in verdict for each row: true_positive (the guardrail was right), false_positive (it "
    "blocked or flagged a legitimate request) or ambiguous (cannot tell). Leave it empty for rows "
    "not reviewed. reviewer (a handle, not an email) and reviewed_at (ISO 8601) are optional; notes "
    "stay in this sheet and are never imported. Open a request in the gateway's logs by its request_id."
)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _entities(finding: Finding) -> str:
    return ";".join(f"{kind}={count}" for kind, count in finding.entities)


def values(finding: Finding) -> list[str]:
    return [finding.review_id, finding.week, iso(finding.time), finding.request_id or "", finding.team,
            finding.app, finding.model, finding.provider, finding.guardrail, finding.stage, finding.result,
            _entities(finding), ";".join(finding.violations), "", "", "", ""]


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def to_csv(findings: list[Finding]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for finding in findings:
        writer.writerow([_cell(v) for v in values(finding)])
    return out.getvalue()


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or " "


def to_markdown(findings: list[Finding], period: Period) -> str:
    per_guardrail = Counter((f.guardrail, f.result) for f in findings)
    parts = [
        f"# Guardrail review sheet {period.label}\n",
        f"Findings from {iso(period.start)} to {iso(period.end)} (UTC, end exclusive): "
        f"{len(findings)} blocked or flagged guardrail results.\n",
        f"{INSTRUCTIONS}\n",
        "| Guardrail | Result | Findings |",
        "|---|---|---:|",
        *(f"| {_md(g)} | {r} | {n} |" for (g, r), n in sorted(per_guardrail.items())),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(_md(v) for v in values(f)) + " |" for f in findings),
        "",
    ]
    return "\n".join(parts)
