"""Label values that carry a meaning every rule, panel and report relies on."""

from __future__ import annotations

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
