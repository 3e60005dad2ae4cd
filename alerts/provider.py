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

from alerts.model import AlertCase, AlertRule, ExpectedAlert, RuleGroup, SeriesInput, UnitTest
from alerts.render import alert_labels, runbook_url
from contract.dashboards import dashboard_url
from contract.promql import BAD_OUTCOME, COUNTED_OUTCOME
from contract.signals import OUTCOME_RATE
from exporter import catalog
from exporter.exposition import format_le
from exporter.spec import Spec

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


def alerts(spec: Spec) -> tuple[AlertRule, ...]:
    thresholds = spec.thresholds
    ratio = _percent(thresholds.provider_error_ratio)
    provider_link = {"provider": "{{ $labels.provider }}"}
    return (
        AlertRule(
            name="GenAIProviderErrorsHigh",
            expr=_error_ratio("provider", spec),
            for_=PROVIDER_FOR,
            severity="critical",
            audience="oncall",
            summary="Provider {{ $labels.provider }} is failing across teams",
            description=(
                "{{ $value | humanizePercentage }} of requests to {{ $labels.provider }} across all teams ended "
                f"in a provider, gateway, timeout or rate-limit error over the last 5 minutes (threshold {ratio})."
            ),
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
            summary="Provider {{ $labels.provider }} is slow",
            description=(
                "p95 request latency at {{ $labels.provider }} is {{ $value | humanizeDuration }} over the last "
                f"5 minutes (threshold {thresholds.provider_latency_p95_seconds:g}s)."
            ),
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
            summary="Team {{ $labels.team }} sees errors from {{ $labels.provider }}",
            description=(
                "{{ $value | humanizePercentage }} of team {{ $labels.team }}'s requests to {{ $labels.provider }} "
                f"failed over the last 5 minutes (threshold {ratio})."
            ),
            dashboard="overview",
            panel="error-ratio",
            team=None,
            dashboard_variables={"team": "{{ $labels.team }}", **provider_link},
        ),
        AlertRule(
            name="GenAIModelErrorsHigh",
            expr=_error_ratio("model, provider", spec),
            for_=VIEW_FOR,
            severity="warning",
            audience="oncall",
            summary="Model {{ $labels.model }} at {{ $labels.provider }} is failing",
            description=(
                "{{ $value | humanizePercentage }} of requests to {{ $labels.model }} ({{ $labels.provider }}) "
                f"failed over the last 5 minutes (threshold {ratio})."
            ),
            dashboard="overview",
            panel="error-ratio",
            dashboard_variables={"model": "{{ $labels.model }}", **provider_link},
        ),
    )


def groups(spec: Spec) -> tuple[RuleGroup, ...]:
    if spec.alerting is None:
        return ()
    return (RuleGroup("gatewatch-provider-alerts", alerts(spec)),)


# -- promtool unit tests --------------------------------------------------------------------
# Written against the example spec's thresholds (ops.yaml); for other values the scenarios
# below would prove nothing, so none are generated.
WRITTEN_FOR = {"provider_error_ratio": 0.25, "provider_latency_p95_seconds": 20.0, "min_requests_per_hour": 60.0}


def _written_for(spec: Spec) -> bool:
    alerting = spec.alerting
    return alerting is not None and {
        "provider_error_ratio": alerting.provider_error_ratio,
        "provider_latency_p95_seconds": alerting.provider_latency_p95_seconds,
        "min_requests_per_hour": spec.slos.min_requests_per_hour,
    } == WRITTEN_FOR


def _expected(spec: Spec, name: str, labels: dict[str, str], summary: str, description: str, *,
              panel: str, variables: dict[str, str]) -> ExpectedAlert:
    rule = next(r for r in alerts(spec) if r.name == name)
    return ExpectedAlert(
        labels={**alert_labels(rule), **labels},
        annotations={
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(spec, name),
            "dashboard_url": dashboard_url(spec.organization.grafana_base_url, "overview", panel, variables),
        },
    )


def _requests(route: tuple[str, str, str, str], outcome: str, values: str) -> SeriesInput:
    """Requests of one (team, app, model, provider) with one outcome."""
    team, app, model, provider = route
    return SeriesInput(
        f'genai_requests_total{{team="{team}", app="{app}", model="{model}", provider="{provider}", '
        f'operation="chat", outcome="{outcome}", cache="miss"}}',
        values,
    )


def _outage(spec: Spec) -> UnitTest:
    """openai: search and support each send 60 good requests a minute; from minute 30 search's
    requests also fail at 60 a minute (support's do not). Both teams send 60 client errors a
    minute throughout, which must not dilute the ratio. anthropic fails every request, but at
    one request per ten minutes: under the 60-an-hour guard.

    Hand computation, k minutes after minute 30 (5m windows, exact on 1m samples):
    - search on openai: 60k bad / (300 good + 60k bad) = k / (5 + k): 1/6 at k=1, 2/7 = 0.286 at
      k=2 (> 0.25), 1/2 from k=5. Team alert pending at 32m, fires at 32 + 10 = 42m.
    - openai overall and gpt-4o on openai: 60k / (600 + 60k) = k / (10 + k): 3/13 = 0.231 at k=3,
      4/14 = 0.286 at k=4, 1/3 from k=5. Provider alert pending 34m, fires 34 + 1 = 35m, before
      the team (42m) and model (44m) alerts it inhibits; model alert fires 34 + 10 = 44m. Had
      client errors been counted, openai would read 300 / (1200 + 300) = 0.2 at k=5 and never
      fire.
    - anthropic: at most 1 request in any 5m window = 12 an hour < 60: silent.
    """
    openai = "openai"
    search = ("search", "search-api", "gpt-4o", openai)
    support = ("support", "zendesk-assist", "gpt-4o", openai)
    slow_trickle = " ".join(f"{i}x9" for i in range(6))  # +1 every ten minutes
    series = (
        _requests(search, "success", "0+60x60"),
        _requests(search, "provider_error", "0x30 60+60x30"),
        _requests(search, "client_error", "0+60x60"),
        _requests(support, "success", "0+60x60"),
        _requests(support, "client_error", "0+60x60"),
        _requests(("legal", "contract-review", "claude-sonnet-4", "anthropic"), "provider_error", slow_trickle),
    )
    provider_vars = {"provider": openai}

    def provider_alert() -> ExpectedAlert:
        return _expected(
            spec, "GenAIProviderErrorsHigh", {"provider": openai},
            "Provider openai is failing across teams",
            "33.33% of requests to openai across all teams ended in a provider, gateway, timeout or rate-limit "
            "error over the last 5 minutes (threshold 25%).",
            panel="provider-errors", variables=provider_vars,
        )

    team_alert = _expected(
        spec, "GenAITeamErrorsHigh", {"team": "search", "provider": openai},
        "Team search sees errors from openai",
        "50% of team search's requests to openai failed over the last 5 minutes (threshold 25%).",
        panel="error-ratio", variables={"team": "search", "provider": openai},
    )
    model_alert = _expected(
        spec, "GenAIModelErrorsHigh", {"model": "gpt-4o", "provider": openai},
        "Model gpt-4o at openai is failing",
        "33.33% of requests to gpt-4o (openai) failed over the last 5 minutes (threshold 25%).",
        panel="error-ratio", variables={"model": "gpt-4o", "provider": openai},
    )
    return UnitTest(
        name="provider outage: provider, team and model views fire in turn; low traffic and client errors do not",
        interval="1m",
        series=series,
        alerts=(
            AlertCase("GenAIProviderErrorsHigh", "34m", ()),
            AlertCase("GenAIProviderErrorsHigh", "35m", (provider_alert(),)),
            AlertCase("GenAITeamErrorsHigh", "41m", ()),
            AlertCase("GenAITeamErrorsHigh", "42m", (team_alert,)),
            AlertCase("GenAIModelErrorsHigh", "43m", ()),
            AlertCase("GenAIModelErrorsHigh", "44m", (model_alert,)),
        ),
    )


def _slowdown(spec: Spec) -> UnitTest:
    """openai answers 60 requests a minute in under a second until minute 30, then in 15-30 s.

    Hand computation, k minutes after minute 30, over the 5m window's 300 requests: the p95 rank
    is 285; 300 - 60k requests are fast, 60k slow in the (15, 30] bucket, so p95 = 15 + 15 x
    (285 - (300 - 60k)) / 60k: 0.975 s at k=0 (in the (0.5, 1] bucket), 26.25 s at k=1 (> 20),
    15 + 15 x 0.95 = 29.25 s from k=5. Pending at 31m, fires at 31 + 10 = 41m.
    """
    name = catalog.REQUEST_DURATION.name
    labels = 'team="search", model="gpt-4o", provider="openai", operation="chat", outcome="success"'
    fast = "0+60x30 1800x30"  # cumulative count of requests under a second
    everything = "0+60x60"
    series = []
    for bound in catalog.REQUEST_DURATION.buckets:
        values = "0x60" if bound < 1.0 else fast if bound < 30.0 else everything
        series.append(SeriesInput(f'{name}_bucket{{{labels}, le="{format_le(bound)}"}}', values))
    series.append(SeriesInput(f'{name}_bucket{{{labels}, le="+Inf"}}', everything))
    series.append(SeriesInput(f"{name}_count{{{labels}}}", everything))
    expected = _expected(
        spec, "GenAIProviderLatencyHigh", {"provider": "openai"},
        "Provider openai is slow",
        "p95 request latency at openai is 29.25s over the last 5 minutes (threshold 20s).",
        panel="latency", variables={"provider": "openai"},
    )
    return UnitTest(
        name="provider slowdown: p95 above 20 s for 10 minutes",
        interval="1m",
        series=tuple(series),
        alerts=(
            AlertCase("GenAIProviderLatencyHigh", "40m", ()),
            AlertCase("GenAIProviderLatencyHigh", "41m", (expected,)),
        ),
    )


def unit_tests(spec: Spec) -> tuple[UnitTest, ...]:
    if not _written_for(spec):
        return ()
    return (_outage(spec), _slowdown(spec))
