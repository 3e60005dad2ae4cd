"""The metric catalog: every metric gatewatch emits, declared once.

The exporter's recorder, the rule and dashboard generators and the metric docs all read this
module, so a query cannot name a metric that does not exist and a label rename is one edit.
It imports nothing else of gatewatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Outcomes of one gateway request. Availability SLOs count only BAD_OUTCOMES as errors;
# NEUTRAL_OUTCOMES are caller or policy problems and count neither as good nor bad, so a
# prompt-injection wave or a team hitting its own quota does not burn the platform's budget.
OUTCOMES = (
    "success",
    "client_error",
    "rate_limited",
    "quota_exceeded",
    "timeout",
    "provider_error",
    "gateway_error",
    "guardrail_blocked",
)
BAD_OUTCOMES = ("provider_error", "gateway_error", "timeout", "rate_limited")
NEUTRAL_OUTCOMES = ("client_error", "quota_exceeded", "guardrail_blocked")
# Outcomes where the gateway stopped the request before any provider saw it: it cost nothing,
# and no guardrail could be bypassed on it.
STOPPED_AT_GATEWAY = ("guardrail_blocked", "quota_exceeded")

# Sentinel label values: visible in every view, never dropped.
UNASSIGNED = "__unassigned__"
OTHER = "__other__"
# Teams nobody owns: what a request named no team for, and what the cardinality guard folded.
SENTINEL_TEAMS = (UNASSIGNED, OTHER)


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    type: MetricType
    unit: str
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.type is MetricType.COUNTER and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name} must end in _total")
        if (self.type is MetricType.HISTOGRAM) != bool(self.buckets):
            raise ValueError(f"{self.name}: buckets are for histograms, and histograms need them")
        if list(self.buckets) != sorted(set(self.buckets)):
            raise ValueError(f"{self.name}: buckets must be strictly increasing")

    @property
    def series_names(self) -> tuple[str, ...]:
        """The sample names this metric produces in the text exposition."""
        if self.type is MetricType.HISTOGRAM:
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


TOKEN_TYPES = ("input", "output", "cached_input", "reasoning")
GUARDRAIL_STAGES = ("input", "output")
GUARDRAIL_RESULTS = ("passed", "blocked", "masked", "flagged", "failed_open", "failed_closed", "not_run")
POLICIES = ("unapproved_model", "classification_breach", "guardrail_bypass")
# ``ignored``: an OTLP span that is not a model call (agent, tool, HTTP, database spans) or whose
# producer the spec does not count (``otlp.sources``); nothing wrong with it.
EVENT_RESULTS = ("accepted", "rejected", "duplicate", "ignored")
# Why an OTLP request was refused whole (one closed set, the label's values).
OTLP_REFUSALS = ("malformed", "content_type", "too_large", "unauthorized", "other")
# What an adapter could not read in a record it still accepted and counted. Closed, so the gap
# counter stays bounded; every adapter reports with these codes.
RECORD_GAP_REASONS = (
    "status_unreadable",  # a failure whose HTTP status no field gives: outcome gateway_error
    "unknown_error_kind",  # a normalised error code outside ERROR_KINDS: error "other"
    "unknown_guardrail_status",  # a guardrail verdict this version does not know: not_run
    "unknown_operation",  # a call type outside the known ones: operation "other"
    "no_provider",  # no provider named: provider "unknown"
    "no_duration",  # no end time, or one before the start: no latency observed
    "attribute_not_string",  # an attribution field of another type: not used
)
# Normalised error kinds (LiteLLM's normalized_error codes, lower-cased without their status).
ERROR_KINDS = (
    "invalid_request", "invalid_parameter_value", "missing_required_parameter",
    "context_window_exceeded", "content_policy_violation", "authentication_failed",
    "permission_denied", "model_access_denied", "resource_not_found", "upstream_timeout",
    "rate_limit_exceeded", "budget_exceeded", "no_healthy_deployments", "provider_overloaded",
    "provider_internal_error", "provider_connection_error", "router_no_fallback",
    "router_fallback_failure", "unsupported_operation", "upstream_passthrough",
    "internal_state_error", "other",
)
# Who refused a rate-limited request, and which limit it hit.
RATE_LIMIT_SOURCES = ("gateway", "provider")
RATE_LIMIT_TYPES = ("requests", "tokens", "concurrent_requests", "budget", "max_iterations", "unknown")


# Latency buckets span a cached 20 ms answer to a 2-minute reasoning call; TTFT buckets sit on
# the values SLO thresholds are written against, because an SLO threshold must be a bucket bound.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
TTFT_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
PROMPT_TOKEN_BUCKETS = (64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0)

_C, _G, _H = MetricType.COUNTER, MetricType.GAUGE, MetricType.HISTOGRAM

REQUESTS = Metric(
    "genai_requests_total", _C, "requests",
    ("team", "app", "model", "provider", "operation", "outcome", "cache"),
    "Gateway requests, one per request the gateway logged.",
)
TOKENS = Metric(
    "genai_tokens_total", _C, "tokens",
    ("team", "app", "model", "provider", "type"),
    "Tokens by type: input (all, cached included), output (all, reasoning included), and the "
    "subsets cached_input and reasoning. Never sum across types.",
)
COST = Metric(
    "genai_cost_usd_total", _C, "USD",
    ("team", "app", "model", "provider"),
    "Spend in USD: the gateway-reported cost when present, else priced from the spec's table.",
)
REQUEST_DURATION = Metric(
    "genai_request_duration_seconds", _H, "seconds",
    ("team", "model", "provider", "operation", "outcome"),
    "Whole-request latency as the gateway measured it.",
    DURATION_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Metric(
    "genai_time_to_first_token_seconds", _H, "seconds",
    ("team", "model", "provider"),
    "Time from request start to the first output token, for requests that report it.",
    TTFT_BUCKETS,
)
PROMPT_TOKENS = Metric(
    "genai_prompt_tokens", _H, "tokens",
    ("team", "model"),
    "Prompt length distribution (input tokens per request).",
    PROMPT_TOKEN_BUCKETS,
)
GUARDRAIL_EVALUATIONS = Metric(
    "genai_guardrail_evaluations_total", _C, "evaluations",
    ("team", "app", "guardrail", "stage", "result"),
    "Guardrail evaluations by result. failed_open means the guardrail did not answer and the "
    "request went on; not_run means a guardrail the team requires left no evaluation.",
)
SENSITIVE_ENTITIES = Metric(
    "genai_sensitive_entities_total", _C, "entities",
    ("team", "app", "entity"),
    "Sensitive entities (PII / DLP) detected, by entity type. Counts only, never values.",
)
POLICY_VIOLATIONS = Metric(
    "genai_policy_violations_total", _C, "violations",
    ("team", "app", "policy"),
    "Requests that broke a spec policy: unapproved_model, classification_breach, guardrail_bypass.",
)
CACHE_SAVED = Metric(
    "genai_cache_saved_usd_total", _C, "USD",
    ("team", "app", "model"),
    "What cache hits saved, in USD (gateway-reported, else priced from the table).",
)
TEAM_BUDGET = Metric(
    "genai_team_budget_usd", _G, "USD",
    ("team", "period"),
    "The team's budget for the period, from the spec. Every replica exposes it: aggregate with max.",
)
TEAM_BUDGET_PERIOD_START = Metric(
    "genai_team_budget_period_start_timestamp_seconds", _G, "seconds",
    ("team", "period"),
    "Start of the team's current budget period (Unix time, UTC).",
)
TEAM_BUDGET_PERIOD_END = Metric(
    "genai_team_budget_period_end_timestamp_seconds", _G, "seconds",
    ("team", "period"),
    "End of the team's current budget period (Unix time, UTC, exclusive).",
)
TEAM_INFO = Metric(
    "genai_team_info", _G, "",
    ("team", "owner", "cost_center", "tier"),
    "Constant 1 per spec team: the join target for ownership. Aggregate with max.",
)
TEAM_FIRST_SEEN = Metric(
    "genai_team_first_seen_timestamp_seconds", _G, "seconds",
    ("team",),
    "When this exporter first saw a request from the team (persisted). Aggregate with min.",
)
TEAM_FIRST_SUCCESS = Metric(
    "genai_team_first_success_timestamp_seconds", _G, "seconds",
    ("team",),
    "When this exporter first saw a successful request from the team (persisted). Aggregate with min.",
)
SPEC_INFO = Metric(
    "genai_spec_info", _G, "",
    ("hash",),
    "Constant 1, labelled with the hash of the spec the exporter runs.",
)
REQUEST_ERRORS = Metric(
    "genai_request_errors_total", _C, "requests",
    ("team", "provider", "outcome", "error"),
    "Failed requests by the gateway's normalised error kind (a closed set; unknown kinds are "
    "\"other\"). Explains an outcome; never sum it with genai_requests_total.",
)
RATE_LIMITED = Metric(
    "genai_rate_limited_requests_total", _C, "requests",
    ("team", "provider", "source", "limit"),
    "Requests refused by a rate or budget limit: source gateway (its own limiter, outcome "
    "quota_exceeded) or provider (a 429, outcome rate_limited), and which limit was hit.",
)
GUARDRAIL_SECONDS = Metric(
    "genai_guardrail_seconds_total", _C, "seconds",
    ("guardrail", "stage"),
    "Time guardrails spent on requests, as the gateway measured it. Divided by the evaluations "
    "that reported a duration (genai_guardrail_timed_evaluations_total) it is the mean latency.",
)
GUARDRAIL_TIMED = Metric(
    "genai_guardrail_timed_evaluations_total", _C, "evaluations",
    ("guardrail", "stage"),
    "Guardrail evaluations that reported how long they took: the divisor of genai_guardrail_seconds_total.",
)
EXPORTER_RECORD_GAPS = Metric(
    "genai_exporter_record_gaps_total", _C, "gaps",
    ("format", "reason"),
    "Parts of accepted records the adapter could not read, by reason (a closed set). The record "
    "is still counted; the reason says which figure fell back to a default.",
)
EXPORTER_EVENTS = Metric(
    "genai_exporter_events_total", _C, "records",
    ("source", "format", "result"),
    "Records received, by result: accepted, rejected (malformed), duplicate (a retried id), "
    "ignored (an OTLP span or point that is not a counted model call).",
)
EXPORTER_OTLP_REFUSED = Metric(
    "genai_exporter_otlp_refused_requests_total", _C, "requests",
    ("signal", "reason"),
    "OTLP export requests refused whole: malformed (400), content_type (415), too_large (413), "
    "unauthorized (401), other.",
)
EXPORTER_LAST_EVENT = Metric(
    "genai_exporter_last_event_timestamp_seconds", _G, "seconds",
    ("source",),
    "When the last record was accepted from this source (Unix time): telemetry freshness.",
)
EXPORTER_LABEL_OVERFLOW = Metric(
    "genai_exporter_label_overflow_total", _C, "values",
    ("label",),
    "Label values folded into __other__ by the cardinality guard (counts and cost are kept).",
)
EXPORTER_UNPRICED = Metric(
    "genai_exporter_unpriced_requests_total", _C, "requests",
    ("model",),
    "Requests with tokens but neither a gateway-reported cost nor a price in the table.",
)
EXPORTER_SPEC_RELOADS = Metric(
    "genai_exporter_spec_reloads_total", _C, "reloads",
    ("result",),
    "Spec reloads on SIGHUP: success, or failure (the old spec stays in force).",
)
EXPORTER_STATE_WRITE_FAILURES = Metric(
    "genai_exporter_state_write_failures_total", _C, "writes",
    (),
    "Failed writes of the state directory: restart safety is degraded while this grows.",
)
EXPORTER_STATE_RESTORE_PROBLEMS = Metric(
    "genai_exporter_state_restore_problems_total", _C, "problems",
    ("part",),
    "Damage found in the state directory at start: part `snapshot` (a snapshot generation "
    "failed validation and an older one was used) or `log` (the write-ahead log stopped at a "
    "damaged entry; what followed it was not replayed).",
)
# Why a tailed file could not be followed exactly (exporter/tail.py); a closed set.
TAIL_GAP_REASONS = ("truncated", "missing", "position_unreadable")
EXPORTER_TAIL_GAPS = Metric(
    "genai_exporter_tail_gaps_total", _C, "gaps",
    ("reason",),
    "Times a tailed file could not be resumed exactly, by reason: truncated (rewritten in place "
    "with no copy of the unread part left), missing (gone before it was read to its end), "
    "position_unreadable (the stored position was damaged; the file was read from its start).",
)
# Why an ingest request was refused before its records were counted (exporter/server.py).
INGEST_REFUSAL_REASONS = (
    "saturated_connections", "saturated_ingests", "too_large", "too_many_records",
    "decompression_ratio", "bad_framing",
)
EXPORTER_INGEST_REFUSED = Metric(
    "genai_exporter_ingest_refused_total", _C, "requests",
    ("reason",),
    "Requests refused before any record was read, by reason: saturated_connections (503), "
    "saturated_ingests (429), too_large, too_many_records or decompression_ratio (413), "
    "bad_framing (400 or 501). Senders retry 429 and 503; the 4xx need a sender fix.",
)
EXPORTER_COUNTERS_START = Metric(
    "genai_exporter_counters_start_timestamp_seconds", _G, "seconds",
    (),
    "When this exporter's counters began (Unix time), restored with them from the state "
    "directory: a change means the counters restarted from 0.",
)
# The weekly review's verdicts on guardrail findings (reports review import, exporter/verdicts.py).
REVIEW_VERDICTS_KINDS = ("true_positive", "false_positive", "ambiguous")
REVIEW_VERDICTS = Metric(
    "genai_guardrail_review_verdicts", _G, "findings",
    ("guardrail", "verdict"),
    "Reviewed guardrail findings (blocks and flags) by verdict, over the most recent reviewed weeks "
    "(review.window_weeks), from the verdict store. Every replica reading the store exposes it: max.",
)
REVIEW_TOLERATED_RATIO = Metric(
    "genai_guardrail_review_tolerated_false_positive_ratio", _G, "ratio",
    ("guardrail",),
    "The false-positive ratio above which the spec flags a guardrail for tuning. Aggregate with max.",
)
REVIEW_LATEST_WEEK = Metric(
    "genai_guardrail_review_latest_week_start_timestamp_seconds", _G, "seconds",
    (),
    "Start (Monday 00:00 UTC) of the most recent ISO week with any verdict in the store.",
)

# The latest compliance evidence report (reports compliance --state-dir), re-read on change.
# Control ids and frameworks come from the spec's compliance section: bounded.
COMPLIANCE_STATUS_VALUES = {"pass": 1.0, "fail": 0.0, "no_evidence": -1.0}
COMPLIANCE_CONTROLS = Metric(
    "genai_compliance_controls", _G, "controls",
    ("status",),
    "Controls in the latest compliance report by status: pass, fail, no_evidence. Aggregate with max.",
)
COMPLIANCE_CONTROL_STATUS = Metric(
    "genai_compliance_control_status", _G, "",
    ("control", "framework"),
    "Each spec control's status in the latest compliance report: 1 pass, 0 fail, -1 no evidence.",
)
COMPLIANCE_REPORT_TIMESTAMP = Metric(
    "genai_compliance_report_timestamp_seconds", _G, "seconds",
    (),
    "When the latest compliance report was generated (Unix time).",
)
COMPLIANCE_PERIOD_END = Metric(
    "genai_compliance_period_end_timestamp_seconds", _G, "seconds",
    (),
    "End (exclusive) of the period the latest compliance report covers (Unix time).",
)

AUDIT_CHAIN_LENGTH = Metric(
    "genai_audit_chain_length", _G, "lines",
    (),
    "Lines in this exporter's audit chain (the seq of the last line written). It only grows: "
    "Prometheus keeps the outside record that exposes a truncated tail.",
)
AUDIT_CHAIN_HEAD = Metric(
    "genai_audit_chain_head", _G, "",
    (),
    "The audit chain's head: the first 13 hex digits of the last written line's SHA-256, as an "
    "integer (below 2^53, so Prometheus stores it exactly).",
)
AUDIT_WRITE_FAILURES = Metric(
    "genai_audit_write_failures_total", _C, "writes",
    (),
    "Failed audit log writes, fsyncs and purges: lines wait in memory and are retried.",
)
AUDIT_LAST_WRITE = Metric(
    "genai_audit_last_write_timestamp_seconds", _G, "seconds",
    (),
    "When audit lines were last written (Unix time).",
)
AUDIT_CHAIN_VERIFIED = Metric(
    "genai_audit_chain_verified", _G, "",
    (),
    "1 when the audit chain verified intact at exporter start, 0 when it is broken.",
)

CATALOG: tuple[Metric, ...] = (
    REQUESTS,
    TOKENS,
    COST,
    REQUEST_DURATION,
    TIME_TO_FIRST_TOKEN,
    PROMPT_TOKENS,
    GUARDRAIL_EVALUATIONS,
    SENSITIVE_ENTITIES,
    POLICY_VIOLATIONS,
    CACHE_SAVED,
    TEAM_BUDGET,
    TEAM_BUDGET_PERIOD_START,
    TEAM_BUDGET_PERIOD_END,
    TEAM_INFO,
    TEAM_FIRST_SEEN,
    TEAM_FIRST_SUCCESS,
    SPEC_INFO,
    REQUEST_ERRORS,
    RATE_LIMITED,
    GUARDRAIL_SECONDS,
    GUARDRAIL_TIMED,
    EXPORTER_EVENTS,
    EXPORTER_OTLP_REFUSED,
    EXPORTER_RECORD_GAPS,
    EXPORTER_LAST_EVENT,
    EXPORTER_LABEL_OVERFLOW,
    EXPORTER_UNPRICED,
    EXPORTER_SPEC_RELOADS,
    EXPORTER_STATE_WRITE_FAILURES,
    EXPORTER_STATE_RESTORE_PROBLEMS,
    EXPORTER_TAIL_GAPS,
    EXPORTER_INGEST_REFUSED,
    EXPORTER_COUNTERS_START,
    REVIEW_VERDICTS,
    REVIEW_TOLERATED_RATIO,
    REVIEW_LATEST_WEEK,
    COMPLIANCE_CONTROLS,
    COMPLIANCE_CONTROL_STATUS,
    COMPLIANCE_REPORT_TIMESTAMP,
    COMPLIANCE_PERIOD_END,
    AUDIT_CHAIN_LENGTH,
    AUDIT_CHAIN_HEAD,
    AUDIT_WRITE_FAILURES,
    AUDIT_LAST_WRITE,
    AUDIT_CHAIN_VERIFIED,
)

BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOG}


def series_names() -> frozenset[str]:
    """Every sample name the exporter can expose (histograms contribute three)."""
    return frozenset(n for m in CATALOG for n in m.series_names)
