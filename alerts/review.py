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

from alerts.cases import expected_alert
from alerts.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, SeriesInput, UnitTest
from exporter import catalog
from exporter.spec import Spec

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


def alerts(spec: Spec) -> tuple[AlertRule, ...]:
    return (
        AlertRule(
            name="GenAIGuardrailNeedsTuning",
            expr=needs_tuning(spec),
            for_="30m",
            severity="warning",
            audience="security",
            summary="Guardrail {{ $labels.guardrail }} is flagged for tuning: too many false positives",
            description=(
                "{{ $value | humanizePercentage }} of the reviewed findings of guardrail {{ $labels.guardrail }} "
                f"(true and false positives, last {spec.review.window_weeks} reviewed weeks) were false positives, "
                "above the ratio the spec tolerates for it: it blocks or flags legitimate requests."
            ),
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


# -- promtool unit tests --------------------------------------------------------------------
# Written against the example spec: min_reviewed 20, lakera-prompt-injection tolerating 0.1,
# the other guardrails the default 0.2.
WRITTEN_FOR = {"min_reviewed": 20, "window_weeks": 4, "default_max_false_positive_ratio": 0.2}
LAKERA = "lakera-prompt-injection"


def _written_for(spec: Spec) -> bool:
    ratios = {g.name: g.max_false_positive_ratio for g in spec.guardrails}
    return (spec.alerting is not None and ratios.get(LAKERA) == 0.1
            and {key: getattr(spec.review, key) for key in WRITTEN_FOR} == WRITTEN_FOR)


def _series(guardrail: str, instance: str, verdict: str, values: str) -> SeriesInput:
    return SeriesInput(
        f'{VERDICTS}{{instance="{instance}", guardrail="{guardrail}", verdict="{verdict}"}}', values,
    )


def _tolerated(guardrail: str, instance: str, ratio: float) -> SeriesInput:
    return SeriesInput(f'{TOLERATED}{{instance="{instance}", guardrail="{guardrail}"}}', f"{ratio:g}x150")


def _expected(spec: Spec, guardrail: str, value: str) -> ExpectedAlert:
    return expected_alert(
        spec, alerts(spec)[0], {"guardrail": guardrail},
        f"Guardrail {guardrail} is flagged for tuning: too many false positives",
        f"{value} of the reviewed findings of guardrail {guardrail} (true and false positives, last 4 reviewed "
        "weeks) were false positives, above the ratio the spec tolerates for it: it blocks or flags legitimate "
        "requests.",
    )


def _tuning_test(spec: Spec) -> UnitTest:
    """Two replicas expose the same store (max, not sum: 18 + 4 would double to 36 + 8).

    - lakera-prompt-injection (tolerates 0.1): 18 tp, 1 fp, 10 ambiguous until minute 60, when an
      import brings fp to 4: 4 / (18 + 4) = 0.1818 > 0.1 with 22 >= 20 decisive verdicts (the 10
      ambiguous count for neither): pending at 60m, fires at 90m. Before, 1 / 19 = 0.053: silent.
    - presidio-pii (tolerates 0.2): 30 tp, 5 fp: 5 / 35 = 0.143 <= 0.2: silent.
    - aws-guardrails: 5 tp, 10 fp: 0.667, but only 15 decisive verdicts < 20: silent.
    - sanitizer: 20 ambiguous and nothing decisive: 0 / 0 is no ratio: silent.
    """
    series = []
    for instance in ("exporter-a:9464", "exporter-b:9464"):
        series += [
            _series(LAKERA, instance, "true_positive", "18x150"),
            _series(LAKERA, instance, "false_positive", "1x59 4x90"),
            _series(LAKERA, instance, "ambiguous", "10x150"),
            _series("presidio-pii", instance, "true_positive", "30x150"),
            _series("presidio-pii", instance, "false_positive", "5x150"),
            _series("aws-guardrails", instance, "true_positive", "5x150"),
            _series("aws-guardrails", instance, "false_positive", "10x150"),
            _series("sanitizer", instance, "true_positive", "0x150"),
            _series("sanitizer", instance, "false_positive", "0x150"),
            _series("sanitizer", instance, "ambiguous", "20x150"),
            _tolerated(LAKERA, instance, 0.1),
            *(_tolerated(g, instance, 0.2) for g in ("presidio-pii", "aws-guardrails", "sanitizer")),
        ]
    flagged = _expected(spec, LAKERA, "18.18%")
    name = "GenAIGuardrailNeedsTuning"
    return UnitTest(
        name="guardrail review: a false-positive ratio above the tolerated one, over enough verdicts, flags it",
        interval="1m",
        series=tuple(series),
        alerts=(
            AlertCase(name, "59m", ()),
            AlertCase(name, "89m", ()),
            AlertCase(name, "90m", (flagged,)),
            AlertCase(name, "140m", (flagged,)),
        ),
    )


def unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    if not _written_for(spec):
        return ()
    return (_tuning_test(spec),)
