"""Names of the recording rules ("signals") that alerts, dashboards, runbooks and drills read.

``alerts/recording.py`` defines the rules under these names; everything else imports the names
from here, so no reader depends on the rule generator and a rename is one edit.
"""

from __future__ import annotations

QUANTILES = (("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99"))

OUTCOME_RATE = "team_model_provider_outcome:genai_requests:rate5m"
TEAM_COST_RATE30M = "team:genai_cost_usd:rate30m"
TEAM_COST_RATE1H = "team:genai_cost_usd:rate1h"
TEAM_COST_RATE6H = "team:genai_cost_usd:rate6h"
TEAM_COST_INCREASE1H = "team:genai_cost_usd:increase1h"
TEAM_COST_MONTH_TO_DATE = "team:genai_cost_usd:month_to_date"
TEAM_BUDGET = "team:genai_team_budget_usd:max"
TEAM_APP_REQUESTS_RATE5M = "team_app:genai_requests:rate5m"
TEAM_APP_REQUESTS_RATE1H = "team_app:genai_requests:rate1h"
# Requests the gateway let through to a provider: what a loop pays for. A blocked prompt-injection
# wave or a team over its quota repeats requests too, but costs nothing and is someone else's alert.
TEAM_APP_FORWARDED_RATE5M = "team_app:genai_requests_forwarded:rate5m"
TEAM_APP_FORWARDED_RATE1H = "team_app:genai_requests_forwarded:rate1h"
TEAM_MODEL_PROMPT_MODAL_SHARE = "team_model:genai_prompt_tokens:modal_share5m"
SLI_REQUESTS_RATE5M = "slo:sli_requests:rate5m"
SLI_ERRORS_RATE5M = "slo:sli_errors:rate5m"
SLI_REQUESTS_RATE1H = "slo:sli_requests:rate1h"


def ratio_record(window: str) -> str:
    """An objective's error ratio over ``window``."""
    return f"slo:sli_error:ratio_rate{window}"


def quantile_record(metric: str, short: str) -> str:
    """A latency quantile (``short`` from QUANTILES) of histogram ``metric`` per model and provider, over 5m."""
    return f"model_provider:{metric}:{short}_5m"
