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

from alerts.model import AlertRule, AlertText, RecordingRule, RuleGroup
from contract import catalog
from contract.signals import TEAM_APP_REQUESTS_RATE1H, TEAM_APP_REQUESTS_RATE5M
from contract.spec import Spec

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


def _app_of_team(app: str, team: str, *, opening: bool = False) -> str:
    return f"{'App' if opening else 'app'} {app} of team {team}"


def block_surge_text(guardrail: str, app: str, team: str, value: str, factor: float) -> AlertText:
    return AlertText(
        f"Guardrail {guardrail} blocks a surge from {app} ({team})",
        f"Guardrail {guardrail} blocks {value} requests a minute from {_app_of_team(app, team)}, more than "
        f"{factor:g}x its trailing-day rate (or more than {FIRST_WAVE_FLOOR_PER_MINUTE} a minute where it blocked "
        "nothing in the trailing day): an attack wave, or a guardrail change blocking good traffic.",
    )


def fail_open_text(guardrail: str, team: str, value: str) -> AlertText:
    return AlertText(
        f"Guardrail {guardrail} failed open for team {team}",
        f"Guardrail {guardrail} did not answer for team {team} and the requests went on unchecked ({value} "
        "evaluations failed open in the last 5 minutes).",
    )


def bypass_text(app: str, team: str, value: str) -> AlertText:
    return AlertText(
        f"Requests from {app} ({team}) bypassed a required guardrail",
        f"{_app_of_team(app, team, opening=True)} sent requests that left no evaluation of a guardrail the team "
        f"requires ({value} in the last 5 minutes).",
    )


def sensitive_text(entity: str, app: str, team: str, value: str, per_hour: float) -> AlertText:
    return AlertText(
        f"Repeated {entity} detections from {app} ({team})",
        f"{value} {entity} entities detected in the last hour in traffic of {_app_of_team(app, team)} "
        f"(threshold {per_hour:g} an hour).",
    )


def unapproved_text(app: str, team: str, value: str) -> AlertText:
    return AlertText(
        f"{app} ({team}) requested a model the team is not approved for",
        f"{_app_of_team(app, team, opening=True)} asked for models outside the team's approved_models "
        f"({value} requests in the last 5 minutes).",
    )


def breach_text(app: str, team: str, value: str) -> AlertText:
    return AlertText(
        f"{app} ({team}) sent data above the team's classification",
        f"{_app_of_team(app, team, opening=True)} sent requests carrying a data classification the team is not "
        f"approved for ({value} in the last 5 minutes).",
    )


def app_volume_text(app: str, team: str, value: str, factor: float) -> AlertText:
    return AlertText(
        f"App {app} ({team}) is far busier than usual",
        f"{_app_of_team(app, team, opening=True)} sends {value} requests a minute, more than {factor:g}x its "
        "baseline (the larger of the same hour last week and the trailing day): a leaked key?",
    )


def alerts(spec: Spec) -> tuple[AlertRule, ...]:
    thresholds = spec.thresholds
    guardrail, app, team = "{{ $labels.guardrail }}", "{{ $labels.app }}", "{{ $labels.team }}"
    value = "{{ $value | humanize }}"
    block_surge = block_surge_text(guardrail, app, team, value, thresholds.guardrail_block_factor)
    fail_open = fail_open_text(guardrail, team, value)
    bypass = bypass_text(app, team, value)
    sensitive = sensitive_text("{{ $labels.entity }}", app, team, value, thresholds.sensitive_entities_per_hour)
    unapproved = unapproved_text(app, team, value)
    breach = breach_text(app, team, value)
    app_volume = app_volume_text(app, team, value, thresholds.app_volume_factor)
    return (
        AlertRule(
            name="GenAIGuardrailBlockSurge",
            expr=_block_surge(spec),
            for_="10m",
            severity="warning",
            audience="security",
            summary=block_surge.summary,
            description=block_surge.description,
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
            summary=fail_open.summary,
            description=fail_open.description,
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
            summary=bypass.summary,
            description=bypass.description,
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
            summary=sensitive.summary,
            description=sensitive.description,
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
            summary=unapproved.summary,
            description=unapproved.description,
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
            summary=breach.summary,
            description=breach.description,
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
            summary=app_volume.summary,
            description=app_volume.description,
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
