"""Provider health: a provider failing or slowing down for everyone, and the per-team and
per-model views of the same trouble.

A provider outage shows three ways: the provider's own error ratio across all teams, each
team's error ratio on it, and each model's. The provider alert is the one that pages; the
team and model alerts carry the ``provider`` label so Alertmanager's inhibition (equal:
[provider]) silences them while it fires, and their ``for`` is longer than the provider
alert's so the inhibiting alert is already firing when they would be sent. When only one team
or one model fails, the provider alert stays silent and the narrower alert is the news.

Inhibition only silences what is sent after its source fires, so the provider alert must also
beat the availability SLO alerts it inhibits (alerts/slo.py: page ``for: 2m``, ticket 15m). Its
``for`` is therefore 1m, shorter than everything it inhibits. Lengthening the SLO page's ``for``
instead would delay every SLO page, including the partial failures no provider alert covers.
The race, for an outage that makes a share f of the provider's requests fail on top of a
healthy error ratio b, t minutes after it began: the provider's 5m ratio b + (f - b)t/5 passes
0.25 at t = 5(0.25 - b)/(f - b), and the alert fires a minute later; the SLO page needs its 1h
ratio b + (f - b)t/60 above 14.4 x the budget (0.072 for a 0.5 % budget), at
t = 60(0.072 - b)/(f - b), and fires two minutes later. The provider alert is first when
5(0.25 - b) + (f - b) < 60(0.072 - b) + 2(f - b), i.e. 56b < 3.07 + f: for a full outage
(f = 1) at every b under the 0.072 that would be paging already, for f = 0.5 up to b = 0.064.
With b = 0.04 (the drills' ordinary traffic) and f = 1, the provider alert is pending at 1.1
min and fires at 2.1; the SLO page would be pending at 2 and fire at 4. With the former
``for: 5m`` the provider alert fired at 6.1, two minutes after the page (first only while
52b + 3f < 3.07). A full outage thus pages once, about two minutes after it starts, inside
the five minutes page-worthy trouble is allowed. A burn under the 25 % provider threshold is
not a provider outage and pages through the SLO alone.

Errors are the catalog's BAD_OUTCOMES over requests that are neither good nor bad excluded
(NEUTRAL_OUTCOMES: a caller's mistake or a policy block is not the provider's fault). Every
alert needs ``slos.min_requests_per_hour`` of such requests, so three failures at 3 a.m. do
not page.
"""

from __future__ import annotations

from alerts.model import AlertRule, AlertText, RuleGroup
from contract import catalog
from contract.promql import BAD_OUTCOME, COUNTED_OUTCOME
from contract.signals import OUTCOME_RATE
from contract.spec import Spec

SECONDS_PER_HOUR = 3600
LATENCY_QUANTILE = 0.95

# The provider alert pages after a minute; everything it inhibits (the views here, the SLO
# alerts' 2m and 15m) waits longer, so the provider alert is already there to silence them.
PROVIDER_FOR = "1m"
VIEW_FOR = "10m"
LATENCY_FOR = "10m"


def _error_ratio(by: str, spec: Spec) -> str:
    """Bad-outcome ratio per ``by`` group, kept only where traffic clears the minimum."""
    thresholds = spec.thresholds
    valid = f"sum by ({by}) ({OUTCOME_RATE}{{{COUNTED_OUTCOME}}})"
    return (
        f"(\n  sum by ({by}) ({OUTCOME_RATE}{{{BAD_OUTCOME}}})\n  / {valid}\n"
        f") > {thresholds.provider_error_ratio:g}\n"
        f"and on ({by})\n"
        f"{valid} * {SECONDS_PER_HOUR} >= {spec.slos.min_requests_per_hour:g}"
    )


def _latency_p95(spec: Spec) -> str:
    thresholds = spec.thresholds
    histogram = catalog.REQUEST_DURATION.name
    return (
        f"histogram_quantile({LATENCY_QUANTILE:g}, sum by (provider, le) (rate({histogram}_bucket[5m])))\n"
        f"  > {thresholds.provider_latency_p95_seconds:g}\n"
        f"and on (provider)\n"
        f"sum by (provider) (rate({histogram}_count[5m])) * {SECONDS_PER_HOUR} >= {spec.slos.min_requests_per_hour:g}"
    )


def _percent(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def provider_errors_text(provider: str, value: str, ratio: float) -> AlertText:
    return AlertText(
        f"Provider {provider} is failing across teams",
        f"{value} of requests to {provider} across all teams ended in a provider, gateway, timeout or "
        f"rate-limit error over the last 5 minutes (threshold {_percent(ratio)}).",
    )


def latency_text(provider: str, value: str, threshold_seconds: float) -> AlertText:
    return AlertText(
        f"Provider {provider} is slow",
        f"p95 request latency at {provider} is {value} over the last 5 minutes (threshold {threshold_seconds:g}s).",
    )


def team_errors_text(team: str, provider: str, value: str, ratio: float) -> AlertText:
    return AlertText(
        f"Team {team} sees errors from {provider}",
        f"{value} of team {team}'s requests to {provider} failed over the last 5 minutes "
        f"(threshold {_percent(ratio)}).",
    )


def model_errors_text(model: str, provider: str, value: str, ratio: float) -> AlertText:
    return AlertText(
        f"Model {model} at {provider} is failing",
        f"{value} of requests to {model} ({provider}) failed over the last 5 minutes (threshold {_percent(ratio)}).",
    )


def alerts(spec: Spec) -> tuple[AlertRule, ...]:
    thresholds = spec.thresholds
    ratio = thresholds.provider_error_ratio
    provider, team, model = "{{ $labels.provider }}", "{{ $labels.team }}", "{{ $labels.model }}"
    percentage = "{{ $value | humanizePercentage }}"
    provider_errors = provider_errors_text(provider, percentage, ratio)
    latency = latency_text(provider, "{{ $value | humanizeDuration }}", thresholds.provider_latency_p95_seconds)
    team_errors = team_errors_text(team, provider, percentage, ratio)
    model_errors = model_errors_text(model, provider, percentage, ratio)
    provider_link = {"provider": provider}
    return (
        AlertRule(
            name="GenAIProviderErrorsHigh",
            expr=_error_ratio("provider", spec),
            for_=PROVIDER_FOR,
            severity="critical",
            audience="oncall",
            summary=provider_errors.summary,
            description=provider_errors.description,
            dashboard="overview",
            panel="provider-errors",
            dashboard_variables=provider_link,
        ),
        AlertRule(
            name="GenAIProviderLatencyHigh",
            expr=_latency_p95(spec),
            for_=LATENCY_FOR,
            severity="warning",
            audience="oncall",
            summary=latency.summary,
            description=latency.description,
            dashboard="overview",
            panel="latency",
            dashboard_variables=provider_link,
        ),
        AlertRule(
            name="GenAITeamErrorsHigh",
            expr=_error_ratio("team, provider", spec),
            for_=VIEW_FOR,
            severity="warning",
            audience="oncall",
            summary=team_errors.summary,
            description=team_errors.description,
            dashboard="overview",
            panel="error-ratio",
            team=None,
            dashboard_variables={"team": team, **provider_link},
        ),
        AlertRule(
            name="GenAIModelErrorsHigh",
            expr=_error_ratio("model, provider", spec),
            for_=VIEW_FOR,
            severity="warning",
            audience="oncall",
            summary=model_errors.summary,
            description=model_errors.description,
            dashboard="overview",
            panel="error-ratio",
            dashboard_variables={"model": model, **provider_link},
        ),
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    if spec.alerting is None:
        return ()
    return (RuleGroup("gatewatch-provider-alerts", alerts(spec)),)
