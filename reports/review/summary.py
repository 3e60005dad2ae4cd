"""The review summary: per guardrail and week, what was reviewed, the false-positive ratio, the
ratio the spec tolerates, and whether the guardrail is flagged for tuning.

False-positive ratio = fp / (tp + fp). Ambiguous verdicts count neither way: they say nothing
about whether the guardrail was right, so they are left out of the ratio and of the minimum
number of verdicts (``review.min_reviewed``) a flag needs. The "window" rows cover the most
recent ``review.window_weeks`` reviewed weeks, exactly what the exporter's
genai_guardrail_review_verdicts gauge and the GenAIGuardrailNeedsTuning alert see.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from contract import catalog
from contract.spec import Spec
from exporter import verdicts
from exporter.verdicts import Store
from reports.periods import Period
from reports.review.findings import findings
from reports.review.weeks import iso_week

WINDOW = "window"
COLUMNS = ("scope", "week", "guardrail", "reviewed", "true_positive", "false_positive", "ambiguous", "unreviewed",
           "false_positive_ratio", "tolerated_ratio", "flagged_for_tuning")


@dataclass(frozen=True, slots=True)
class Row:
    scope: str  # "week" or "window"
    week: str  # the ISO week, or the window's first..last week
    guardrail: str
    reviewed: int
    true_positive: int
    false_positive: int
    ambiguous: int
    unreviewed: int | None  # None without the audit log to count findings from
    false_positive_ratio: float | None  # None when nothing decisive was reviewed
    tolerated_ratio: float
    flagged_for_tuning: bool


@dataclass(frozen=True, slots=True)
class Summary:
    window_weeks: tuple[str, ...]
    min_reviewed: int
    rows: tuple[Row, ...]

    def flagged(self) -> list[Row]:
        return [r for r in self.rows if r.scope == WINDOW and r.flagged_for_tuning]


def _tolerated(spec: Spec, guardrail: str) -> float:
    ratios = verdicts.tolerated(spec)
    return ratios.get(guardrail, ratios[catalog.OTHER])


def _row(spec: Spec, scope: str, week: str, guardrail: str, judged: Counter[str], *, unreviewed: int | None) -> Row:
    tp, fp, amb = judged["true_positive"], judged["false_positive"], judged["ambiguous"]
    decisive = tp + fp
    ratio = fp / decisive if decisive else None
    tolerated = _tolerated(spec, guardrail)
    flagged = ratio is not None and decisive >= spec.review.min_reviewed and ratio > tolerated
    return Row(scope, week, guardrail, tp + fp + amb, tp, fp, amb, unreviewed, ratio, tolerated, flagged)


def summarise(store: Store, spec: Spec, audit_dir: Path | None = None, period: Period | None = None) -> Summary:
    judged: dict[tuple[str, str], Counter[str]] = {}
    for entry in store.verdicts.values():
        if period is None or period.start <= verdicts.week_start(entry.week) < period.end:
            judged.setdefault((entry.week, entry.guardrail), Counter())[entry.verdict] += 1
    unreviewed: dict[tuple[str, str], int] | None = None
    if audit_dir is not None:
        weeks = sorted({week for week, _ in judged})
        unreviewed = Counter()
        scanned = findings(audit_dir, period) if period is not None else [
            f for week in weeks for f in findings(audit_dir, iso_week(week))]
        for finding in scanned:
            key = (finding.week, finding.guardrail)
            judged.setdefault(key, Counter())
            if finding.review_id not in store.verdicts:
                unreviewed[key] += 1
    rows = [
        _row(spec, "week", week, guardrail, counted,
             unreviewed=None if unreviewed is None else unreviewed.get((week, guardrail), 0))
        for (week, guardrail), counted in sorted(judged.items())
    ]
    window = verdicts.window(store, spec.review.window_weeks)
    in_window: dict[str, Counter[str]] = {}
    for entry in store.verdicts.values():
        if entry.week in window:
            in_window.setdefault(entry.guardrail, Counter())[entry.verdict] += 1
    label = f"{window[0]}..{window[-1]}" if window else ""
    rows += [_row(spec, WINDOW, label, guardrail, counted, unreviewed=None)
             for guardrail, counted in sorted(in_window.items())]
    return Summary(window, spec.review.min_reviewed, tuple(rows))


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def to_csv(summary: Summary) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in summary.rows:
        writer.writerow([r.scope, r.week, r.guardrail, r.reviewed, r.true_positive, r.false_positive, r.ambiguous,
                         "" if r.unreviewed is None else r.unreviewed, _ratio(r.false_positive_ratio),
                         _ratio(r.tolerated_ratio), "yes" if r.flagged_for_tuning else "no"])
    return out.getvalue()


def to_json(summary: Summary) -> str:
    document = {
        "window_weeks": list(summary.window_weeks),
        "min_reviewed": summary.min_reviewed,
        "rows": [asdict(r) for r in summary.rows],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def to_markdown(summary: Summary) -> str:
    head = ("| Guardrail | Reviewed | TP | FP | Ambiguous | Unreviewed | FP ratio | Tolerated | Flagged for tuning |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---|")

    def line(r: Row, first: str) -> str:
        unreviewed = "—" if r.unreviewed is None else str(r.unreviewed)
        flag = "**yes**" if r.flagged_for_tuning else "no"
        return (f"| {first} | {r.reviewed} | {r.true_positive} | {r.false_positive} | {r.ambiguous} | {unreviewed} | "
                f"{_percent(r.false_positive_ratio)} | {_percent(r.tolerated_ratio)} | {flag} |")

    window = [r for r in summary.rows if r.scope == WINDOW]
    weeks = [r for r in summary.rows if r.scope != WINDOW]
    span = (f"{summary.window_weeks[0]} to {summary.window_weeks[-1]}" if summary.window_weeks
            else "no reviewed week yet")
    parts = [
        "# Guardrail review summary\n",
        "False-positive ratio = false positives / (true positives + false positives); ambiguous verdicts "
        f"count neither way. A guardrail is flagged for tuning when it has at least {summary.min_reviewed} "
        "true/false-positive verdicts and its ratio is above the tolerated one.\n",
        f"## Flagged for tuning (last reviewed weeks: {span})\n",
        head,
        *(line(r, r.guardrail) for r in window),
        "",
        "## By week\n",
        head.replace("| Guardrail |", "| Week | Guardrail |", 1).replace("|---|", "|---|---|", 1),
        *(line(r, f"{r.week} | {r.guardrail}") for r in weeks),
        "",
    ]
    return "\n".join(parts)
