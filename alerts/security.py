"""Security alerts for security operations: guardrails that block much more than usual or did
not answer, requests that broke a spec policy, repeated sensitive data, and an app suddenly far
busier than its own history.

Policy violations and fail-open evaluations matter from the first one, and the exporter creates
those counters with their first increment, which ``increase()`` cannot see (the series has no
earlier sample). ``increased`` therefore also fires for a label set that exists now with a
non-zero count and did not exist one window ago. It compares aggregates without the
``instance`` label, so an exporter that restarts under a new address, with its counters
restored, is not a new label set.

Guardrail block surge: an app's block rate over 5 minutes above ``alerting.guardrail_block_factor``
times its trailing-day average (ending an hour ago, so a wave cannot raise its own bar) and above
BLOCK_SURGE_FLOOR_PER_MINUTE, for 10 minutes. A guardrail's block counter is born with its first
block, so an app that never had one has no baseline series and the comparison is empty: a
first-ever wave would go unreported. A second branch therefore fires for a block rate above
FIRST_WAVE_FLOOR_PER_MINUTE when the baseline window holds no sample at all (``unless on (team,
app, guardrail)`` the trailing-day average). An hour into such a wave its first samples enter the
baseline and the ratio branch decides: a wave that holds steady becomes its own baseline and the
alert resolves after about an hour, by then notified once.

App volume anomaly (possible key compromise): an app's request rate over 5 minutes above
``alerting.app_volume_factor`` times its baseline, for 15 minutes. The baseline is the larger of
the same hour last week and the trailing day (ending an hour ago, so a surge cannot raise its
own bar): a nightly batch job is excused by last week's night, a steady service by its day.
A brand-new app has no baseline and stays silent: new keys are normal. Models an app never used
before are not alerted on here: teams adopt new models all the time, and a model the team is
not approved for is already GenAIUnapprovedModelUse.
"""

from __future__ import annotations

from alerts.cases import expected_alert
from alerts.model import AlertCase, AlertRule, ExpectedAlert, RecordingRule, RuleGroup, SeriesInput, UnitTest
from contract.signals import TEAM_APP_REQUESTS_RATE1H, TEAM_APP_REQUESTS_RATE5M
from exporter import catalog
from exporter.spec import Spec

SECONDS_PER_MINUTE = 60
BLOCK_RATE = "team_app_guardrail:genai_guardrail_blocks:rate5m"
# Below one block a minute a "surge" from a quiet baseline is a handful of requests, not an attack.
BLOCK_SURGE_FLOOR_PER_MINUTE = 1
# No baseline to multiply by the factor: ask for what the factor (5 in ops.yaml) makes of the floor,
# so a new app's scattered first blocks are not a wave.
FIRST_WAVE_FLOOR_PER_MINUTE = 5
# Below ten requests a minute a leaked key costs little, and small apps swing by large factors.
APP_VOLUME_FLOOR_PER_MINUTE = 10
TEAM_VARIABLE = {"team": "{{ $labels.team }}"}


def increased(selector: str, by: str, window: str = "5m") -> str:
    """Label sets (``by``) whose counter grew within ``window``, new label sets included."""
    return (
        f"sum by ({by}) (increase({selector}[{window}])) > 0\n"
        f"or\n"
        f"(\n  sum by ({by}) ({selector}) > 0\n  unless\n  sum by ({by}) ({selector} offset {window})\n)"
    )


def _metric(metric: catalog.Metric, matchers: str) -> str:
    return f"{metric.name}{{{matchers}}}"


def recording_rules() -> tuple[RecordingRule, ...]:
    blocked = _metric(catalog.GUARDRAIL_EVALUATIONS, 'result="blocked"')
    return (RecordingRule(BLOCK_RATE, f"sum by (team, app, guardrail) (rate({blocked}[5m]))"),)


def _block_surge(spec: Spec) -> str:
    thresholds = spec.thresholds
    now = f"{BLOCK_RATE} * {SECONDS_PER_MINUTE}"
    baseline = f"avg_over_time({BLOCK_RATE}[1d] offset 1h)"
    return (
        f"(\n"
        f"  {now}\n"
        f"  > {thresholds.guardrail_block_factor:g} * {SECONDS_PER_MINUTE} * {baseline}\n"
        f"  and\n"
        f"  {now} > {BLOCK_SURGE_FLOOR_PER_MINUTE}\n"
        f")\n"
        f"or\n"
        f"(\n"
        f"  {now} > {FIRST_WAVE_FLOOR_PER_MINUTE}\n"
        f"  unless on (team, app, guardrail)\n"
        f"  {baseline}\n"
        f")"
    )


def _app_volume(spec: Spec) -> str:
    thresholds = spec.thresholds
    now = f"{TEAM_APP_REQUESTS_RATE5M} * {SECONDS_PER_MINUTE}"
    trailing_day = f"avg_over_time({TEAM_APP_REQUESTS_RATE5M}[1d] offset 1h)"
    return (
        f"{now}\n"
        f"> {thresholds.app_volume_factor:g} * {SECONDS_PER_MINUTE} * (\n"
        f"    ({TEAM_APP_REQUESTS_RATE1H} offset 1w > {trailing_day})\n"
        f"    or {trailing_day}\n"
        f"  )\n"
        f"and\n"
        f"{now} > {APP_VOLUME_FLOOR_PER_MINUTE}"
    )


def _policy(policy: str) -> str:
    return increased(_metric(catalog.POLICY_VIOLATIONS, f'policy="{policy}"'), "team, app")


def alerts(spec: Spec) -> tuple[AlertRule, ...]:
    thresholds = spec.thresholds
    app_of_team = "app {{ $labels.app }} of team {{ $labels.team }}"
    app_of_team_start = "App {{ $labels.app }} of team {{ $labels.team }}"
    return (
        AlertRule(
            name="GenAIGuardrailBlockSurge",
            expr=_block_surge(spec),
            for_="10m",
            severity="warning",
            audience="security",
            summary="Guardrail {{ $labels.guardrail }} blocks a surge from {{ $labels.app }} ({{ $labels.team }})",
            description=(
                "Guardrail {{ $labels.guardrail }} blocks {{ $value | humanize }} requests a minute from "
                f"{app_of_team}, more than {thresholds.guardrail_block_factor:g}x its trailing-day rate (or more "
                f"than {FIRST_WAVE_FLOOR_PER_MINUTE} a minute where it blocked nothing in the trailing day): "
                "an attack wave, or a guardrail change blocking good traffic."
            ),
            dashboard="security",
            panel="block-rate",
            team=None,
            dashboard_variables=TEAM_VARIABLE,
        ),
        AlertRule(
            name="GenAIGuardrailFailOpen",
            expr=increased(_metric(catalog.GUARDRAIL_EVALUATIONS, 'result="failed_open"'), "team, guardrail"),
            for_="",
            severity="critical",
            audience="security",
            summary="Guardrail {{ $labels.guardrail }} failed open for team {{ $labels.team }}",
            description=(
                "Guardrail {{ $labels.guardrail }} did not answer for team {{ $labels.team }} and the requests "
                "went on unchecked ({{ $value | humanize }} evaluations failed open in the last 5 minutes)."
            ),
            dashboard="security",
            panel="fail-open",
            team=None,
            dashboard_variables=TEAM_VARIABLE,
        ),
        AlertRule(
            name="GenAIGuardrailBypass",
            expr=_policy("guardrail_bypass"),
            for_="",
            severity="critical",
            audience="security",
            summary="Requests from {{ $labels.app }} ({{ $labels.team }}) bypassed a required guardrail",
            description=(
                f"{app_of_team_start} sent requests that left no evaluation of a guardrail the team "
                "requires ({{ $value | humanize }} in the last 5 minutes)."
            ),
            dashboard="security",
            panel="guardrail-bypass",
            team=None,
            dashboard_variables=TEAM_VARIABLE,
        ),
        AlertRule(
            name="GenAISensitiveDataRepeated",
            expr=(
                f"sum by (team, app, entity) (increase({catalog.SENSITIVE_ENTITIES.name}[1h]))\n"
                f"> {thresholds.sensitive_entities_per_hour:g}"
            ),
            for_="5m",
            severity="warning",
            audience="security",
            summary="Repeated {{ $labels.entity }} detections from {{ $labels.app }} ({{ $labels.team }})",
            description=(
                f"{{{{ $value | humanize }}}} {{{{ $labels.entity }}}} entities detected in the last hour in "
                f"traffic of {app_of_team} (threshold {thresholds.sensitive_entities_per_hour:g} an hour)."
            ),
            dashboard="security",
            panel="sensitive-entities",
            team=None,
            dashboard_variables=TEAM_VARIABLE,
        ),
        AlertRule(
            name="GenAIUnapprovedModelUse",
            expr=_policy("unapproved_model"),
            for_="",
            severity="warning",
            audience="security",
            summary="{{ $labels.app }} ({{ $labels.team }}) requested a model the team is not approved for",
            description=(
                f"{app_of_team_start} asked for models outside the team's approved_models "
                "({{ $value | humanize }} requests in the last 5 minutes)."
            ),
            dashboard="security",
            panel="unapproved-models",
            team=None,
            dashboard_variables=TEAM_VARIABLE,
        ),
        AlertRule(
            name="GenAIClassificationBreach",
            expr=_policy("classification_breach"),
            for_="",
            severity="critical",
            audience="security",
            summary="{{ $labels.app }} ({{ $labels.team }}) sent data above the team's classification",
            description=(
                f"{app_of_team_start} sent requests carrying a data classification the team is not "
                "approved for ({{ $value | humanize }} in the last 5 minutes)."
            ),
            dashboard="security",
            panel="policy-violations",
            team=None,
            dashboard_variables=TEAM_VARIABLE,
        ),
        AlertRule(
            name="GenAIAppVolumeAnomaly",
            expr=_app_volume(spec),
            # A leaked key is urgent: five minutes of the 5m rate above 8x its baseline is no blip.
            for_="5m",
            severity="critical",
            audience="security",
            summary="App {{ $labels.app }} ({{ $labels.team }}) is far busier than usual",
            description=(
                f"{app_of_team_start} sends {{{{ $value | humanize }}}} requests a minute, more than "
                f"{thresholds.app_volume_factor:g}x its baseline (the larger of the same hour last week and the "
                "trailing day): a leaked key?"
            ),
            dashboard="security",
            panel="app-volume",
            team=None,
            dashboard_variables=TEAM_VARIABLE,
        ),
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    if spec.alerting is None:
        return ()
    return (
        RuleGroup("gatewatch-security-signals", recording_rules()),
        RuleGroup("gatewatch-security-alerts", alerts(spec)),
    )


# -- promtool unit tests --------------------------------------------------------------------
# Written against the example spec's thresholds (ops.yaml); for other values the scenarios
# below would prove nothing, so none are generated.
WRITTEN_FOR = {"guardrail_block_factor": 5.0, "sensitive_entities_per_hour": 20.0, "app_volume_factor": 8.0}


def _written_for(spec: Spec) -> bool:
    alerting = spec.alerting
    return alerting is not None and {key: getattr(alerting, key) for key in WRITTEN_FOR} == WRITTEN_FOR


def _expected(spec: Spec, name: str, labels: dict[str, str], summary: str, description: str) -> ExpectedAlert:
    return expected_alert(spec, next(r for r in alerts(spec) if r.name == name), labels, summary, description)


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
    surge = _expected(
        spec, "GenAIGuardrailBlockSurge", team,
        "Guardrail lakera-prompt-injection blocks a surge from search-api (search)",
        "Guardrail lakera-prompt-injection blocks 60 requests a minute from app search-api of team search, "
        "more than 5x its trailing-day rate (or more than 5 a minute where it blocked nothing in the trailing "
        "day): an attack wave, or a guardrail change blocking good traffic.",
    )
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
    wave = _expected(
        spec, "GenAIGuardrailBlockSurge", labels,
        "Guardrail lakera-prompt-injection blocks a surge from intern-app (research)",
        "Guardrail lakera-prompt-injection blocks 60 requests a minute from app intern-app of team research, "
        "more than 5x its trailing-day rate (or more than 5 a minute where it blocked nothing in the trailing "
        "day): an attack wave, or a guardrail change blocking good traffic.",
    )
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
    fail_open = _expected(
        spec, "GenAIGuardrailFailOpen", {"team": "support", "guardrail": "presidio-pii"},
        "Guardrail presidio-pii failed open for team support",
        "Guardrail presidio-pii did not answer for team support and the requests went on unchecked "
        "(2 evaluations failed open in the last 5 minutes).",
    )
    legal = {"team": "legal", "app": "contract-review"}
    bypass = _expected(
        spec, "GenAIGuardrailBypass", legal,
        "Requests from contract-review (legal) bypassed a required guardrail",
        "App contract-review of team legal sent requests that left no evaluation of a guardrail the team "
        "requires (1 in the last 5 minutes).",
    )
    unapproved = _expected(
        spec, "GenAIUnapprovedModelUse", {"team": "marketing", "app": "campaign-writer"},
        "campaign-writer (marketing) requested a model the team is not approved for",
        "App campaign-writer of team marketing asked for models outside the team's approved_models "
        "(3 requests in the last 5 minutes).",
    )
    breach = _expected(
        spec, "GenAIClassificationBreach", {"team": "analytics", "app": "nightly-batch"},
        "nightly-batch (analytics) sent data above the team's classification",
        "App nightly-batch of team analytics sent requests carrying a data classification the team is not "
        "approved for (4 in the last 5 minutes).",
    )
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
        "Repeated email_address detections from email-triage (support)",
        "50 email_address entities detected in the last hour in traffic of app email-triage of team support "
        "(threshold 20 an hour).",
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
    expected = _expected(
        spec, "GenAIAppVolumeAnomaly", {"team": "research", "app": "intern-app"},
        "App intern-app (research) is far busier than usual",
        "App intern-app of team research sends 120 requests a minute, more than 8x its baseline (the larger "
        "of the same hour last week and the trailing day): a leaked key?",
    )
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
