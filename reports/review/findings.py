"""Guardrail findings to review, read from the exporter's audit log.

A finding is one guardrail's ``blocked`` or ``flagged`` result on one audited request. Its review
id is derived from the SHA-256 of the audit line (the same bytes the next line's ``prev``
chains to) and the guardrail and stage, so exporting the same week again gives the same ids.

Masked results are not reviewed: masking lets the request go on with the entity replaced, so
there is no refused request to judge, and masks are already counted per entity type. Failed-open,
failed-closed and not-run results are outages or bypasses, not judgements (their alerts cover
them). The audit log holds no prompt or response text, and nothing here adds any.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from exporter.audit import read_records
from exporter.verdicts import week_of
from reports.periods import Period
from reports.prometheus import ReportError

REVIEWED_RESULTS = ("blocked", "flagged")


@dataclass(frozen=True, slots=True)
class Finding:
    review_id: str
    time: datetime
    request_id: str | None
    team: str
    app: str
    model: str
    provider: str
    guardrail: str
    stage: str
    result: str
    entities: tuple[tuple[str, int], ...]
    violations: tuple[str, ...]

    @property
    def week(self) -> str:
        return week_of(self.time)


def review_id(line_sha256: str, guardrail: str, stage: str) -> str:
    digest = hashlib.sha256(f"{line_sha256}\n{guardrail}\n{stage}".encode()).hexdigest()
    return f"rv-{digest[:16]}"


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def requests(audit_dir: Path, period: Period | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(line SHA-256, record) of each ``request`` line with a time inside ``period``, in chain order.

    The exporter writes each line as ``orjson.dumps`` of its object in key order, so encoding
    the object again gives the line's bytes, and its hash is the one the next line's ``prev``
    holds. Damaged lines are skipped by the reader: ``reports audit verify`` names them.
    """
    if not audit_dir.is_dir():
        raise ReportError(f"audit directory not found: {audit_dir}")
    start, end = (period.start, period.end) if period is not None else (None, None)
    for record in read_records(audit_dir, start, end):
        yield hashlib.sha256(orjson.dumps(record)).hexdigest(), record


def _text(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def findings(audit_dir: Path, period: Period | None = None) -> list[Finding]:
    """Every blocked or flagged guardrail result in ``period``, ordered by time then review id."""
    found: dict[str, Finding] = {}
    for line_hash, record in requests(audit_dir, period):
        entities = record.get("entities") or {}
        if not isinstance(entities, dict):
            entities = {}
        entity_counts = tuple(sorted((str(k), int(v)) for k, v in entities.items()))
        violations = tuple(str(v) for v in record.get("violations") or ())
        request_id = record.get("request_id")
        for guardrail in record.get("guardrails") or ():
            if not isinstance(guardrail, dict) or guardrail.get("result") not in REVIEWED_RESULTS:
                continue
            name, stage = _text(guardrail.get("name")), _text(guardrail.get("stage"))
            rid = review_id(line_hash, name, stage)
            found.setdefault(rid, Finding(
                review_id=rid,
                time=parse_time(record["time"]),
                request_id=request_id if isinstance(request_id, str) else None,
                team=_text(record.get("team")),
                app=_text(record.get("app")),
                model=_text(record.get("model")),
                provider=_text(record.get("provider")),
                guardrail=name,
                stage=stage,
                result=str(guardrail["result"]),
                entities=entity_counts,
                violations=violations,
            ))
    return sorted(found.values(), key=lambda f: (f.time, f.review_id))
