"""Security operations: guardrails, sensitive data, policy violations and apps acting unlike themselves."""

from __future__ import annotations

from typing import Any

from alerts import review as review_rules
from contract import catalog, signals
from contract.dashboards import DASHBOARDS
from contract.spec import Spec
from dashboards import sdk
from dashboards.panels import RANGE, Board, Panel, Query, Threshold, links, matchers, ownership, rate, variable

REF = DASHBOARDS["security"]
EVALUATIONS = catalog.GUARDRAIL_EVALUATIONS.name
VIOLATIONS = catalog.POLICY_VIOLATIONS.name
FILTER = matchers("team", "app")
PER_MINUTE = 60


def _policy_panel(key: str, title: str, policy: str, what: str) -> Panel:
    broken = f'policy="{policy}"'
    return Panel(
        key, title,
        f"{what} Per minute, by team and app; any at all is worth a look.",
        "cpm",
        (Query(
            f"sum by (team, app) ({rate(VIOLATIONS, FILTER, broken)}) * {PER_MINUTE}",
            "{{app}} ({{team}})",
        ),),
        min=0,
    )


def _review_panels(spec: Spec) -> tuple[Panel, ...]:
    """The weekly review (docs/review.md): verdicts on blocked and flagged findings, over the last
    ``review.window_weeks`` reviewed weeks. They change when a sheet is imported, not with traffic."""
    review = spec.review
    tolerated = f"max by (guardrail) ({catalog.REVIEW_TOLERATED_RATIO.name})"
    weeks = f"the last {review.window_weeks} reviewed weeks"
    return (
        Panel(
            "review-fp-ratio", "False-positive ratio by guardrail vs tolerated",
            f"Share of each guardrail's reviewed findings judged false positives, fp / (tp + fp), over {weeks}; "
            "ambiguous verdicts count neither way. The 'tolerated' lines are the spec's "
            "max_false_positive_ratio: above it, with enough verdicts, GenAIGuardrailNeedsTuning flags the "
            "guardrail for tuning.",
            "percentunit",
            (
                Query(review_rules.FALSE_POSITIVE_RATIO, "{{guardrail}}"),
                Query(tolerated, "{{guardrail}} tolerated"),
            ),
            min=0, max=1,
        ),
        Panel(
            "review-verdicts", "Review verdicts by guardrail",
            f"Findings (blocks and flags) security operations judged, by guardrail and verdict, over {weeks}. "
            "Export, fill in and import a week's sheet with python -m reports review.",
            "short",
            (Query(f"max by (guardrail, verdict) ({catalog.REVIEW_VERDICTS.name})", "{{guardrail}} {{verdict}}"),),
            kind="bargauge", width=8, min=0, decimals=0,
        ),
        Panel(
            "review-flagged", "Guardrails flagged for tuning",
            f"Guardrails whose false-positive ratio is above the tolerated one, with at least "
            f"{review.min_reviewed} true/false-positive verdicts: the GenAIGuardrailNeedsTuning condition. "
            "Empty is good.",
            "percentunit",
            (Query(review_rules.needs_tuning(spec), "{{guardrail}}", instant=True),),
            kind="bargauge", width=4, min=0, max=1, decimals=1, base_color="red",
        ),
    )


def _compliance_panels() -> tuple[Panel, ...]:
    """The latest compliance evidence report's headline (docs/compliance.md): it changes when
    python -m reports compliance --state-dir runs, not with traffic."""
    return (
        Panel(
            "compliance-summary", "Compliance controls by status",
            "Controls of the spec's compliance section in the latest compliance report: pass, fail, "
            "and no_evidence (the evidence could not be gathered: a gap to close, not a pass).",
            "short",
            (Query(f"max by (status) ({catalog.COMPLIANCE_CONTROLS.name})", "{{status}}", instant=True),),
            kind="stat", width=6, decimals=0,
        ),
        Panel(
            "compliance-controls", "Compliance control status",
            "Each control in the latest compliance report: green 1 pass, red 0 fail, orange -1 no evidence. "
            "The report (python -m reports compliance) has the measured value and the query for each.",
            "short",
            (Query(f"max by (control, framework) ({catalog.COMPLIANCE_CONTROL_STATUS.name})",
                   "{{control}}", instant=True),),
            kind="stat", width=12, decimals=0, base_color="orange",
            thresholds=(Threshold(0, "red"), Threshold(1, "green")),
        ),
        Panel(
            "compliance-age", "Compliance report age",
            "Time since the latest compliance report was generated. Reports run monthly: older than "
            "35 days means the scheduled job stopped.",
            "s",
            (Query(f"time() - max({catalog.COMPLIANCE_REPORT_TIMESTAMP.name})", "age", instant=True),),
            kind="stat", width=6, decimals=0, thresholds=(Threshold(35 * 86_400, "orange"),),
        ),
    )


def board(spec: Spec) -> Board:
    factor = spec.thresholds.app_volume_factor
    volume = signals.TEAM_APP_REQUESTS_RATE5M
    blocked = 'result="blocked"'
    failed_open = 'result="failed_open"'
    panels = (
        Panel(
            "guardrail-evaluations", "Guardrail evaluations by guardrail and result",
            "Guardrail evaluations per second by guardrail and result (passed, blocked, masked, "
            "flagged, failed_open, failed_closed, not_run).",
            "cps",
            (Query(
                f"sum by (guardrail, result) ({rate(EVALUATIONS, FILTER)})", "{{guardrail}} {{result}}",
            ),),
            stacked=True, min=0,
        ),
        Panel(
            "block-rate", "Block rate by guardrail",
            "Share of each guardrail's evaluations that blocked the request. A jump is an attack "
            "wave or a guardrail change; GenAIGuardrailBlockSurge compares blocks with their baseline.",
            "percentunit",
            (Query(
                f"sum by (guardrail) ({rate(EVALUATIONS, FILTER, blocked)})\n"
                f"/ sum by (guardrail) ({rate(EVALUATIONS, FILTER)})",
                "{{guardrail}}",
            ),),
            min=0, max=1,
        ),
        Panel(
            "fail-open", "Fail-open evaluations",
            "Evaluations in the selected range where the guardrail did not answer and the request "
            "went on unchecked, by guardrail. Any is an incident: GenAIGuardrailFailOpen fires from "
            "the first one.",
            "short",
            (Query(
                f"sum by (guardrail) (increase({EVALUATIONS}{{{FILTER}, {failed_open}}}[{RANGE}]))",
                "{{guardrail}}", instant=True,
            ),),
            kind="stat", width=8, decimals=0, thresholds=(Threshold(1, "red"),),
        ),
        Panel(
            "sensitive-entities", "Sensitive entities by type and team",
            "Sensitive entities (PII / DLP) the guardrails detected, per minute, by entity type and "
            "team. Counts only: values never leave the gateway.",
            "cpm",
            (Query(
                f"sum by (entity, team) ({rate(catalog.SENSITIVE_ENTITIES.name, FILTER)}) * {PER_MINUTE}",
                "{{entity}} ({{team}})",
            ),),
            width=16, stacked=True, min=0,
        ),
        Panel(
            "policy-violations", "Policy violations by policy",
            "Requests per minute that broke a spec policy: unapproved_model, classification_breach, "
            "guardrail_bypass.",
            "cpm",
            (Query(f"sum by (policy) ({rate(VIOLATIONS, FILTER)}) * {PER_MINUTE}", "{{policy}}"),),
            stacked=True, min=0,
        ),
        Panel(
            "app-volume", "App volume against its baseline",
            "Each app's request rate over 5 minutes as a multiple of its average over the last day. "
            f"Far above 1 (the alert's factor is {factor:g}) an app is busier than it has ever been: "
            "a leaked key or a new integration.",
            "suffix:x",
            (Query(
                f"{volume}{{{FILTER}}}\n/ on (team, app) avg_over_time({volume}{{{FILTER}}}[1d])",
                "{{app}} ({{team}})",
            ),),
            min=0, decimals=1, thresholds=(Threshold(factor, "red"),),
        ),
        _policy_panel(
            "unapproved-models", "Unapproved model use", "unapproved_model",
            "Requests for a model the team is not approved for in the spec.",
        ),
        _policy_panel(
            "guardrail-bypass", "Guardrail bypass", "guardrail_bypass",
            "Requests that skipped a guardrail their team requires.",
        ),
        *_review_panels(spec),
        *_compliance_panels(),
    )
    owner = spec.alerting.security_receiver if spec.alerting else "security operations"
    return Board(
        ref=REF,
        description=ownership(
            f"security operations ({owner})", "security analysts",
            "weekly at security triage, and after every security alert",
            "Are guardrails working, is sensitive data leaving, and is any app or team acting unlike itself?",
        ),
        variables=(
            variable("team", catalog.REQUESTS.name, "Teams, from the request counter."),
            variable("app", catalog.REQUESTS.name, "Apps of the chosen teams.", "team"),
        ),
        panels=panels,
        links=links(spec, REF.key),
        tags=("gatewatch", "security"),
        time_from="now-24h",
    )


def build(spec: Spec) -> dict[str, Any]:
    return sdk.dashboard_json(board(spec))
