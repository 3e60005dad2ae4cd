"""promtool cases for the provider-health alerts (alerts/provider.py).

Written against the example spec's thresholds (ops.yaml); for other values the scenarios below
would prove nothing, so none are generated.
"""

from __future__ import annotations

from alerts.cases.expected import expected_alert, rule_named
from alerts.model import AlertCase, AlertText, ExpectedAlert, SeriesInput, UnitTest
from alerts.provider import alerts, latency_text, model_errors_text, provider_errors_text, team_errors_text
from contract import catalog
from contract.promql import format_le
from contract.spec import Spec

WRITTEN_FOR = {"provider_error_ratio": 0.25, "provider_latency_p95_seconds": 20.0, "min_requests_per_hour": 60.0}


def _written_for(spec: Spec) -> bool:
    alerting = spec.alerting
    return alerting is not None and {
        "provider_error_ratio": alerting.provider_error_ratio,
        "provider_latency_p95_seconds": alerting.provider_latency_p95_seconds,
        "min_requests_per_hour": spec.slos.min_requests_per_hour,
    } == WRITTEN_FOR


def _expected(spec: Spec, name: str, labels: dict[str, str], text: AlertText) -> ExpectedAlert:
    return expected_alert(spec, rule_named(alerts(spec), name), labels, text)


def _requests(route: tuple[str, str, str, str], outcome: str, values: str) -> SeriesInput:
    """Requests of one (team, app, model, provider) with one outcome."""
    team, app, model, provider = route
    return SeriesInput(
        f'{catalog.REQUESTS.name}{{team="{team}", app="{app}", model="{model}", provider="{provider}", '
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
    ratio = WRITTEN_FOR["provider_error_ratio"]
    provider_alert = _expected(spec, "GenAIProviderErrorsHigh", {"provider": openai},
                               provider_errors_text(openai, "33.33%", ratio))
    team_alert = _expected(spec, "GenAITeamErrorsHigh", {"team": "search", "provider": openai},
                           team_errors_text("search", openai, "50%", ratio))
    model_alert = _expected(spec, "GenAIModelErrorsHigh", {"model": "gpt-4o", "provider": openai},
                            model_errors_text("gpt-4o", openai, "33.33%", ratio))
    return UnitTest(
        name="provider outage: provider, team and model views fire in turn; low traffic and client errors do not",
        interval="1m",
        series=series,
        alerts=(
            AlertCase("GenAIProviderErrorsHigh", "34m", ()),
            AlertCase("GenAIProviderErrorsHigh", "35m", (provider_alert,)),
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
    expected = _expected(spec, "GenAIProviderLatencyHigh", {"provider": "openai"},
                         latency_text("openai", "29.25s", WRITTEN_FOR["provider_latency_p95_seconds"]))
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
