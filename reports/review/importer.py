"""Import a filled-in review sheet into the verdict store in the exporter's state directory.

Every row is checked before anything is written: an unknown review id, a verdict outside
true_positive / false_positive / ambiguous, a reviewer given as an email or a bad time names its
row, and the import writes nothing. Rows with an empty verdict were not reviewed and are skipped
(they never erase a verdict recorded earlier). Importing an id again replaces its verdict.

With ``--audit-dir`` each id must be a finding in the audit log, and the guardrail, stage and
time come from there; without it they come from the sheet's own columns. Notes never leave the
sheet: the state directory holds no free text.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exporter import verdicts
from exporter.verdicts import REVIEW_ID, REVIEWER, VERDICTS, Store, Verdict, week_of
from reports.periods import Period
from reports.prometheus import ReportError
from reports.review.findings import Finding, findings, parse_time
from reports.review.sheet import iso
from reports.review.weeks import iso_week

REQUIRED = ("review_id", "verdict")
# Guardrail and stage become label values: the spec's name pattern, and the two stages.
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,63}$")
_STAGES = ("input", "output")
MAX_ERRORS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class Outcome:
    recorded: int
    new: int
    updated: int
    unreviewed: int


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReportError(f"verdict file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ReportError(f"cannot read {path}: {err}") from None
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ReportError(f"{path}: the header lacks {', '.join(missing)} (export a sheet with reports review export)")
    # Line numbers as a spreadsheet shows them: the header is row 1.
    return [(number, {k: (v or "").strip() for k, v in row.items() if k is not None})
            for number, row in enumerate(reader, 2)]


def _weeks_named(rows: list[tuple[int, dict[str, str]]]) -> list[Period] | None:
    """The weeks the sheet's rows say they are from, when every row says it: the audit files
    to read. None means read the whole audit log."""
    weeks = {row.get("week", "") for _, row in rows if row.get("verdict")}
    if not weeks or "" in weeks:
        return None
    try:
        return [iso_week(w) for w in sorted(weeks)]
    except ReportError:
        return None


def _audited(audit_dir: Path, rows: list[tuple[int, dict[str, str]]]) -> dict[str, Finding]:
    periods = _weeks_named(rows)
    found = findings(audit_dir) if periods is None else [f for p in periods for f in findings(audit_dir, p)]
    return {f.review_id: f for f in found}


def _from_sheet(row: dict[str, str], problems: list[str]) -> tuple[str, str, datetime] | None:
    guardrail, stage, when = row.get("guardrail", ""), row.get("stage", ""), row.get("time", "")
    if not _NAME.match(guardrail):
        problems.append(f"guardrail {guardrail!r} is not a guardrail name")
    if stage not in _STAGES:
        problems.append(f"stage {stage!r} is not input or output")
    try:
        moment = parse_time(when)
    except ValueError:
        problems.append(f"time {when!r} is not an ISO 8601 time")
        return None
    return (guardrail, stage, moment) if not problems else None


def parse(path: Path, audit_dir: Path | None) -> tuple[dict[str, Verdict], int]:
    """The verdicts the sheet records, by review id, and how many rows were not reviewed.
    Raises ReportError listing every bad row."""
    rows = _rows(path)
    audited = _audited(audit_dir, rows) if audit_dir is not None else None
    errors: list[str] = []
    parsed: dict[str, tuple[int, Verdict]] = {}
    unreviewed = 0
    for number, row in rows:
        review_id, verdict = row.get("review_id", ""), row.get("verdict", "").lower()
        problems: list[str] = []
        if not REVIEW_ID.match(review_id):
            problems.append(f"review_id {review_id!r} is not a review id (rv- and 16 hex digits)")
        if verdict and verdict not in VERDICTS:
            problems.append(f"verdict {row.get('verdict')!r} is not one of {', '.join(VERDICTS)} (or empty)")
        reviewer = row.get("reviewer") or None
        if reviewer is not None and not REVIEWER.match(reviewer):
            problems.append("reviewer must be a handle such as j-doe (letters, digits, . _ -), never an email")
        reviewed_at = row.get("reviewed_at") or None
        if reviewed_at is not None:
            try:
                reviewed_at = iso(parse_time(reviewed_at))
            except ValueError:
                problems.append(f"reviewed_at {reviewed_at!r} is not an ISO 8601 time")
        where: tuple[str, str, datetime] | None = None
        if not problems and verdict:
            if audited is not None:
                finding = audited.get(review_id)
                if finding is None:
                    problems.append(f"review_id {review_id} is not a blocked or flagged finding in {audit_dir}")
                elif row.get("guardrail") and row["guardrail"] != finding.guardrail:
                    problems.append(f"guardrail {row['guardrail']!r} differs from the audit log's "
                                    f"{finding.guardrail!r} for {review_id}")
                else:
                    where = (finding.guardrail, finding.stage, finding.time)
            else:
                where = _from_sheet(row, problems)
        if problems:
            errors.append(f"row {number}: " + "; ".join(problems))
            continue
        if not verdict or where is None:
            unreviewed += 1
            continue
        guardrail, stage, moment = where
        entry = Verdict(guardrail=guardrail, stage=stage, week=week_of(moment), time=iso(moment),
                        verdict=verdict, reviewer=reviewer, reviewed_at=reviewed_at)
        earlier = parsed.get(review_id)
        if earlier is not None and earlier[1].verdict != verdict:
            errors.append(f"row {number}: review_id {review_id} already has verdict {earlier[1].verdict} "
                          f"in row {earlier[0]}")
            continue
        parsed[review_id] = (number, entry)
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise ReportError(f"{path}: {len(errors)} bad row(s), nothing imported:\n" + "\n".join(shown) + more)
    return {rid: entry for rid, (_, entry) in parsed.items()}, unreviewed


def import_verdicts(path: Path, state_dir: Path, audit_dir: Path | None = None) -> Outcome:
    new_verdicts, unreviewed = parse(path, audit_dir)
    try:
        store = verdicts.load(state_dir)
    except verdicts.StoreError as err:
        raise ReportError(str(err)) from None
    merged = dict(store.verdicts)
    added = sum(1 for rid in new_verdicts if rid not in merged)
    merged.update(new_verdicts)
    try:
        verdicts.save(state_dir, Store(version=store.version, verdicts=merged))
    except OSError as err:
        raise ReportError(f"cannot write the verdict store in {state_dir}: {err.strerror}") from None
    return Outcome(len(new_verdicts), added, len(new_verdicts) - added, unreviewed)
