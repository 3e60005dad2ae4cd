"""promtool cases for the guardrail review alert (alerts/review.py).

Written against the example spec: min_reviewed 20, lakera-prompt-injection tolerating 0.1, the
other guardrails the default 0.2.
"""

from __future__ import annotations

from alerts.cases.expected import expected_alert
from alerts.model import AlertCase, ExpectedAlert, SeriesInput, UnitTest
from alerts.review import TOLERATED, VERDICTS, alerts, needs_tuning_text
from contract.spec import Spec

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
    text = needs_tuning_text(guardrail, value, spec.review.window_weeks)
    return expected_alert(spec, alerts(spec)[0], {"guardrail": guardrail}, text)


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
