"""Which request shapes the audit trail records, decided once per shape.

A request is relevant when a guardrail did anything but pass (blocked, masked, flagged,
failed_open, failed_closed, or not_run for one the team requires), when it broke a policy, or
when sensitive entities were detected. The pipeline asks this once per request shape and keeps
the answer on the shape's route, so an ordinary request costs one attribute check.
"""

from __future__ import annotations

from typing import NamedTuple

from exporter.audit.lines import static_part

PASSED = "passed"


class AuditShape(NamedTuple):
    """What one relevant request shape's lines share."""

    static: bytes  # encoded "format" .. "violations"
    entities: tuple[str, ...]  # bounded entity names, in the order the event lists them
    # Relevant only for its entities: a record of this shape whose counts are all 0 is not written.
    entities_only: bool


def audit_static(
    fmt: str, key: tuple[str, ...], guardrails: tuple[tuple[str, str, str], ...],
    violations: tuple[str, ...], entities: tuple[str, ...],
) -> AuditShape | None:
    """What this shape's audit lines share, or None when the shape is not relevant.

    ``key`` is the route's bounded (team, app, model, provider, operation, outcome, cache).
    """
    findings = tuple(g for g in guardrails if g[2] != PASSED)
    if not (findings or violations or entities):
        return None
    team, app, model, provider, _operation, outcome, _cache = key
    static = static_part(fmt=fmt, team=team, app=app, model=model, provider=provider, outcome=outcome,
                         guardrails=findings, violations=violations)
    return AuditShape(static, entities, not (findings or violations))
