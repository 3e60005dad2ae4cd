"""promtool cases for the security alerts (alerts/security.py).

Written against the example spec's thresholds (ops.yaml); for other values the scenarios below
would prove nothing, so none are generated.
"""

from __future__ import annotations

from alerts.cases.expected import expected_alert, rule_named
from alerts.model import AlertCase, AlertText, ExpectedAlert, SeriesInput, UnitTest
from alerts.security import (
    alerts,
    app_volume_text,
    block_surge_text,
    breach_text,
    bypass_text,
    fail_open_text,
    sensitive_text,
    unapproved_text,
)
from contract import catalog
from contract.spec import Spec

WRITTEN_FOR = {"guardrail_block_factor": 5.0, "sensitive_entities_per_hour": 20.0, "app_volume_factor": 8.0}


def _written_for(spec: Spec) -> bool:
    alerting = spec.alerting
    return alerting is not None and {key: getattr(alerting, key) for key in WRITTEN_FOR} == WRITTEN_FOR


BLOCK_FACTOR = WRITTEN_FOR["guardrail_block_factor"]


def _expected(spec: Spec, name: str, labels: dict[str, str], text: AlertText) -> ExpectedAlert:
    return expected_alert(spec, rule_named(alerts(spec), name), labels, text)


def _evaluations(team: str, app: str, guardrail: str, result: str, values: str) -> SeriesInput:
    return SeriesInput(
        f'{catalog.GUARDRAIL_EVALUATIONS.name}{{team="{team}", app="{app}", guardrail="{guardrail}", '
        f'stage="input", result="{result}"}}',
        values,
    )


def _violations(team: str, app: str, policy: str, values: str) -> SeriesInput:
    return SeriesInput(f'{catalog.POLICY_VIOLATIONS.name}{{team="{team}", app="{app}", policy="{policy}"}}', values)


def _block_surge_test(spec: Spec) -> UnitTest:
    """search-api's lakera blocks run at 1 a minute, then from minute 120 at 60 a minute.

    Hand computation: the baseline is the average of the 5m block rate over the day ending an
    hour ago: at 121m the samples of minutes 1..61 (1/300, 2/300, 3/300, 4/300 while the first
    window fills, then 5/300 x 57) average 0.0161/s = 0.97 a minute; x5 = 4.8. The current rate
    at 120m is 1 a minute (silent); at 121m the window holds 4 + 60 blocks = 12.8 a minute (> 4.8
    and > the floor of 1): pending at 121m, fires at 131m with 60 a minute.
    query-rewriter's blocks run at a steady 10 a minute (factor 1: silent); email-triage's go
    from none to 0.5 a minute (infinitely above its baseline of 0, but under the floor: silent).
    """
    team = {"team": "search", "app": "search-api", "guardrail": "lakera-prompt-injection"}
    surge = _expected(spec, "GenAIGuardrailBlockSurge", team,
                      block_surge_text("lakera-prompt-injection", "search-api", "search", "60", BLOCK_FACTOR))
    return UnitTest(
        name="guardrail block surge: 60x the baseline fires after 10 minutes; steady or tiny block rates do not",
        interval="1m",
        series=(
            _evaluations("search", "search-api", "lakera-prompt-injection", "blocked", "0+1x120 180+60x20"),
            _evaluations("search", "search-api", "lakera-prompt-injection", "passed", "0+100x140"),
            _evaluations("search", "query-rewriter", "lakera-prompt-injection", "blocked", "0+10x140"),
            _evaluations("support", "email-triage", "presidio-pii", "blocked", "0x120 0.5+0.5x19"),
        ),
        alerts=(
            AlertCase("GenAIGuardrailBlockSurge", "130m", ()),
            AlertCase("GenAIGuardrailBlockSurge", "131m", (surge,)),
            AlertCase("GenAIGuardrailBlockSurge", "140m", (surge,)),
        ),
    )


def _first_wave_test(spec: Spec) -> UnitTest:
    """Guardrails that never blocked before: their blocked counters are born with the first block
    at minute 120, so no block series exists in the baseline window (the day ending an hour ago).

    Hand computation (5m rate, extrapolated towards the window start by at most the time the
    counter would take to fall to zero, here one minute):
    - intern-app's lakera blocks 60 a minute, counter born at 60: at 121m the window holds 60 and
      120, an increase of 60 over 60 s, extrapolated by 60 s to 120 over 300 s = 24 a minute
      (> 5): pending at 121m, fires at 121 + 10 = 131m; from 125m the window is all wave, 60 a
      minute. Until 180m the baseline window (ending at 120m at the latest) holds no sample.
    - zendesk-assist's presidio-pii blocks 3 a minute, counter born at 3: 6 over 300 s = 1.2 a
      minute at 121m, 3 a minute from 125m: above the 1-a-minute floor of the ratio branch, but
      not above the 5 a minute of a first wave: silent.
    - search-api's lakera blocks 10 a minute from minute 0: it has a baseline of 10 a minute, so
      the first-wave branch does not apply, and 10 is not 5x 10: silent.
    """
    labels = {"team": "research", "app": "intern-app", "guardrail": "lakera-prompt-injection"}
    wave = _expected(spec, "GenAIGuardrailBlockSurge", labels,
                     block_surge_text("lakera-prompt-injection", "intern-app", "research", "60", BLOCK_FACTOR))
    return UnitTest(
        name="guardrail block surge: a first-ever wave with no baseline fires; a small first trickle does not",
        interval="1m",
        series=(
            _evaluations("research", "intern-app", "lakera-prompt-injection", "passed", "0+100x140"),
            _evaluations("research", "intern-app", "lakera-prompt-injection", "blocked", "_x120 60+60x20"),
            _evaluations("support", "zendesk-assist", "presidio-pii", "passed", "0+100x140"),
            _evaluations("support", "zendesk-assist", "presidio-pii", "blocked", "_x120 3+3x20"),
            _evaluations("search", "search-api", "lakera-prompt-injection", "blocked", "0+10x140"),
        ),
        alerts=(
            AlertCase("GenAIGuardrailBlockSurge", "120m", ()),
            AlertCase("GenAIGuardrailBlockSurge", "130m", ()),
            AlertCase("GenAIGuardrailBlockSurge", "131m", (wave,)),
            AlertCase("GenAIGuardrailBlockSurge", "140m", (wave,)),
        ),
    )


def _policy_test(spec: Spec) -> UnitTest:
    """Counters that grow (increase over 5m) and counters born with their first event.

    - support's presidio-pii input evaluations fail open twice at minute 21 (the counter existed
      at 0): increase over [16m, 21m] = 2, firing at 21m, silent at 20m.
    - legal's contract-review bypass counter is born at minute 21 with 1: increase() sees one
      sample, but the label set did not exist at 16m: fires at 21m with 1 and resolves at 26m,
      when the 5m-old sample exists and nothing grew.
    - marketing's campaign-writer asks for an unapproved model 3 times at minute 31 (counter at 0
      before): fires at 31m with 3.
    - analytics' nightly-batch breaches classification, born at minute 41 with 4: fires at 41m.
    """
    fail_open = _expected(spec, "GenAIGuardrailFailOpen", {"team": "support", "guardrail": "presidio-pii"},
                          fail_open_text("presidio-pii", "support", "2"))
    legal = {"team": "legal", "app": "contract-review"}
    bypass = _expected(spec, "GenAIGuardrailBypass", legal, bypass_text("contract-review", "legal", "1"))
    unapproved = _expected(spec, "GenAIUnapprovedModelUse", {"team": "marketing", "app": "campaign-writer"},
                           unapproved_text("campaign-writer", "marketing", "3"))
    breach = _expected(spec, "GenAIClassificationBreach", {"team": "analytics", "app": "nightly-batch"},
                       breach_text("nightly-batch", "analytics", "4"))
    return UnitTest(
        name="fail-open and policy violations fire from the first one, for growing and for new series",
        interval="1m",
        series=(
            _evaluations("support", "zendesk-assist", "presidio-pii", "passed", "0+50x50"),
            _evaluations("support", "zendesk-assist", "presidio-pii", "failed_open", "0x20 2x30"),
            _violations("legal", "contract-review", "guardrail_bypass", "_x21 1x30"),
            # an old violation of another policy that no longer grows: never a bypass, silent by 30m
            _violations("legal", "contract-review", "unapproved_model", "5x50"),
            _violations("marketing", "campaign-writer", "unapproved_model", "0x30 3x20"),
            _violations("analytics", "nightly-batch", "classification_breach", "_x41 4x10"),
        ),
        alerts=(
            AlertCase("GenAIGuardrailFailOpen", "20m", ()),
            AlertCase("GenAIGuardrailFailOpen", "21m", (fail_open,)),
            AlertCase("GenAIGuardrailBypass", "20m", ()),
            AlertCase("GenAIGuardrailBypass", "21m", (bypass,)),
            AlertCase("GenAIGuardrailBypass", "25m", (bypass,)),
            AlertCase("GenAIGuardrailBypass", "26m", ()),
            AlertCase("GenAIUnapprovedModelUse", "30m", ()),
            AlertCase("GenAIUnapprovedModelUse", "31m", (unapproved,)),
            AlertCase("GenAIClassificationBreach", "40m", ()),
            AlertCase("GenAIClassificationBreach", "41m", (breach,)),
        ),
    )


def _sensitive_test(spec: Spec) -> UnitTest:
    """email-triage's email addresses: none for 70 minutes, then 5 a minute. Over the last hour
    (61 samples spanning exactly 1h, so no extrapolation) that is 5k at 70 + k minutes: 20 at k=4
    (not above 20), 25 at k=5: pending at 75m, fires at 80m with 50. zendesk-assist's phone
    numbers arrive at 0.25 a minute, 15 an hour: silent."""
    expected = _expected(
        spec, "GenAISensitiveDataRepeated", {"team": "support", "app": "email-triage", "entity": "email_address"},
        sensitive_text("email_address", "email-triage", "support", "50", WRITTEN_FOR["sensitive_entities_per_hour"]),
    )
    name = catalog.SENSITIVE_ENTITIES.name
    return UnitTest(
        name="sensitive data: more than 20 entities of one type an hour from one app",
        interval="1m",
        series=(
            SeriesInput(f'{name}{{team="support", app="email-triage", entity="email_address"}}', "0x70 5+5x30"),
            SeriesInput(f'{name}{{team="support", app="zendesk-assist", entity="phone_number"}}', "0+0.25x100"),
        ),
        alerts=(
            AlertCase("GenAISensitiveDataRepeated", "79m", ()),
            AlertCase("GenAISensitiveDataRepeated", "80m", (expected,)),
        ),
    )


def _requests(team: str, app: str, values: str) -> SeriesInput:
    return SeriesInput(
        f'{catalog.REQUESTS.name}{{team="{team}", app="{app}", model="gpt-4o-mini", provider="openai", '
        f'operation="chat", outcome="success", cache="miss"}}',
        values,
    )


def _app_volume_test(spec: Spec) -> UnitTest:
    """research's intern-app sends 6 requests a minute, then from minute 120 120 a minute (20x).

    Hand computation: no sample from last week exists, so the baseline is the trailing day ending
    an hour ago. The 5m rate's samples at minutes 1..4 are 0.02, 0.04, 0.06, 0.08 req/s (the
    first window filling), then 0.1: at 120 + k minutes the baseline is 0.1 - 0.2 / (60 + k)
    req/s, about 5.8 a minute; x8 = 46.4. The current rate is (6 (5 - k) + 120k) / 5 a minute:
    28.8 at k=1 (silent), 51.6 at k=2 (> 46.4 and > the floor of 10): pending at 122m, fires at
    127m with 120 a minute.
    search's query-rewriter goes from 60 to 300 a minute (5x: silent); search-api holds 600 a
    minute (far above the floor, no change: silent).
    """
    expected = _expected(spec, "GenAIAppVolumeAnomaly", {"team": "research", "app": "intern-app"},
                         app_volume_text("intern-app", "research", "120", WRITTEN_FOR["app_volume_factor"]))
    return UnitTest(
        name="app volume: 20x the trailing day fires after 5 minutes; 5x and steady traffic do not",
        interval="1m",
        series=(
            _requests("research", "intern-app", "0+6x120 840+120x30"),
            _requests("search", "query-rewriter", "0+60x120 7500+300x30"),
            _requests("search", "search-api", "0+600x150"),
        ),
        alerts=(
            AlertCase("GenAIAppVolumeAnomaly", "126m", ()),
            AlertCase("GenAIAppVolumeAnomaly", "127m", (expected,)),
        ),
    )


def unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    if not _written_for(spec):
        return ()
    return (
        _block_surge_test(spec), _first_wave_test(spec), _policy_test(spec), _sensitive_test(spec),
        _app_volume_test(spec),
    )
