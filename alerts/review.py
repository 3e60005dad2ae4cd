"""The weekly guardrail review: false-positive ratios from security operations' verdicts, and
guardrails flagged for tuning.

The exporter exposes the verdict store's counts (genai_guardrail_review_verdicts, over the last
``review.window_weeks`` reviewed weeks) and each guardrail's tolerated ratio from the spec. Every
replica reading a store exposes the same numbers, so they are aggregated with ``max``, never
``sum``. The ratio is fp / (tp + fp): ambiguous verdicts say nothing about whether the guardrail
was right, so they count neither in the ratio nor toward ``review.min_reviewed``.

GenAIGuardrailNeedsTuning is a warning to security operations, never a page: a guardrail that
blocks too much good traffic needs tuning at the next review, not someone woken up. It waits
30 minutes, so a sheet re-imported with corrections right after a first import does not notify.
"""

from __future__ import annotations

from alerts.model import AlertRule, AlertText, RecordingRule, RuleGroup
from contract import catalog
from contract.spec import Spec

FALSE_POSITIVE_RATIO = "guardrail:genai_review_false_positive:ratio"
DECISIVE_VERDICTS = "guardrail:genai_review_decisive_verdicts:max"
VERDICTS = catalog.REVIEW_VERDICTS.name
TOLERATED = catalog.REVIEW_TOLERATED_RATIO.name


def _verdicts(verdict: str) -> str:
    return f'max by (guardrail) ({VERDICTS}{{verdict="{verdict}"}})'


def recording_rules() -> tuple[RecordingRule, ...]:
    decisive = f"{_verdicts('true_positive')}\n+ on (guardrail)\n{_verdicts('false_positive')}"
    return (
        RecordingRule(DECISIVE_VERDICTS, decisive),
        # 0 / 0 (nothing decisive reviewed) is NaN: no ratio, and no alert.
        RecordingRule(FALSE_POSITIVE_RATIO, f"{_verdicts('false_positive')}\n/ on (guardrail)\n{DECISIVE_VERDICTS}"),
    )


def needs_tuning(spec: Spec) -> str:
    """Guardrails flagged for tuning, valued by their false-positive ratio."""
    return (
        f"{FALSE_POSITIVE_RATIO}\n"
        f"> on (guardrail) max by (guardrail) ({TOLERATED})\n"
        f"and on (guardrail)\n"
        f"{DECISIVE_VERDICTS} >= {spec.review.min_reviewed}"
    )


def needs_tuning_text(guardrail: str, value: str, window_weeks: int) -> AlertText:
    return AlertText(
        f"Guardrail {guardrail} is flagged for tuning: too many false positives",
        f"{value} of the reviewed findings of guardrail {guardrail} (true and false positives, last "
        f"{window_weeks} reviewed weeks) were false positives, above the ratio the spec tolerates for it: it "
        "blocks or flags legitimate requests.",
    )


def alerts(spec: Spec) -> tuple[AlertRule, ...]:
    text = needs_tuning_text("{{ $labels.guardrail }}", "{{ $value | humanizePercentage }}", spec.review.window_weeks)
    return (
        AlertRule(
            name="GenAIGuardrailNeedsTuning",
            expr=needs_tuning(spec),
            for_="30m",
            severity="warning",
            audience="security",
            summary=text.summary,
            description=text.description,
            dashboard="security",
            panel="review-fp-ratio",
        ),
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    if spec.alerting is None:
        return ()
    return (
        RuleGroup("gatewatch-review-signals", recording_rules()),
        RuleGroup("gatewatch-review-alerts", alerts(spec)),
    )
