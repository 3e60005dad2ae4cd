"""Policy checks against the spec: approved models, classification tiers, required guardrails.

Only teams the spec declares have policies; ``__unassigned__`` and admitted unknown teams are
visible through attribution metrics instead.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from contract import catalog
from contract.spec import Spec

# A required guardrail counts as having run when it reached one of these verdicts.
# failed_closed stopped the request, so nothing was bypassed; failed_open let it through unchecked.
_RAN = frozenset({"passed", "blocked", "masked", "flagged", "failed_closed"})
_NOT_SENT = frozenset(catalog.STOPPED_AT_GATEWAY)


@dataclass(frozen=True, slots=True)
class PolicyResult:
    violations: tuple[str, ...]
    # (guardrail, stage, result) rows for required guardrails that left no evaluation.
    missing_guardrails: tuple[tuple[str, str, str], ...]


NO_FINDINGS = PolicyResult((), ())


def model_approved(patterns: Iterable[str], model: str) -> bool:
    """Whether one of a team's ``approved_models`` patterns (``gpt-4o``, ``gemini-*``) matches ``model``."""
    return any(fnmatch.fnmatchcase(model, pattern) for pattern in patterns)


class PolicyChecker:
    def __init__(self, spec: Spec) -> None:
        self._approved = {t.name: t.approved_models for t in spec.teams}
        self._classifications = {t.name: frozenset(t.classifications) for t in spec.teams if t.classifications}
        self._required = {t.name: t.required_guardrails for t in spec.teams if t.required_guardrails}
        self._model_ok: dict[tuple[str, str], bool] = {}

    def check(
        self,
        team: str,
        model: str,
        classification: str,
        outcome: str,
        guardrails: tuple[tuple[str, str, str], ...],
        *,
        guardrails_known: bool = True,
    ) -> PolicyResult:
        """``guardrails_known`` is False for records that cannot say which guardrails ran
        (OpenTelemetry spans: no convention carries them yet); the required-guardrail check then
        finds neither a bypass nor a pass."""
        if team not in self._approved:
            return NO_FINDINGS
        violations: list[str] = []
        if not self._model_approved(team, model):
            violations.append("unapproved_model")
        allowed = self._classifications.get(team)
        if allowed is not None and classification not in allowed:
            violations.append("classification_breach")
        missing: tuple[tuple[str, str, str], ...] = ()
        required = self._required.get(team)
        if required and guardrails_known and outcome not in _NOT_SENT:
            ran = {name for name, _stage, result in guardrails if result in _RAN}
            bypassed = [name for name in required if name not in ran]
            if bypassed:
                violations.append("guardrail_bypass")
                seen = {name for name, _stage, _result in guardrails}
                missing = tuple((name, "input", "not_run") for name in bypassed if name not in seen)
        if not violations:
            return NO_FINDINGS
        return PolicyResult(tuple(violations), missing)

    def _model_approved(self, team: str, model: str) -> bool:
        key = (team, model)
        ok = self._model_ok.get(key)
        if ok is None:
            ok = model_approved(self._approved[team], model)
            # Bounded: team and model are already bounded label values.
            self._model_ok[key] = ok
        return ok
