"""FinOps FOCUS 1.2 rows from a chargeback: one row per team x app x model x day.

Columns: every column FOCUS 1.2 marks Mandatory, plus the Conditional/Recommended ones whose
condition holds for metered model usage (ConsumedQuantity/Unit, pricing currency, SKU,
sub-account, resource, ServiceSubcategory). Costs are what the gateway reports or gatewatch
prices from the spec's list prices, with no negotiated or commitment discounts known, so
BilledCost = EffectiveCost = ListCost = ContractedCost. Unit prices are left null: a row mixes
input and output tokens, which carry different prices. Allocated spend of a shared app
appears under the receiving team with ``x_AllocatedFrom`` naming the owner; the owner keeps
what remains. Custom columns are prefixed ``x_`` as the specification requires.
"""

from __future__ import annotations

import json
from calendar import monthrange
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contract.spec import Spec
from reports.ledger import Chargeback

SERVICE_CATEGORY = "AI and Machine Learning"
SERVICE_SUBCATEGORY = "Generative AI"
CURRENCY = "USD"
UNIT = "Tokens"

COLUMNS: tuple[str, ...] = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "ConsumedQuantity", "ConsumedUnit",
    "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingCurrency", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName",
    "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SkuPriceId",
    "SubAccountId", "SubAccountName", "SubAccountType", "Tags",
    "x_Team", "x_App", "x_CostCenter", "x_Requests", "x_InputTokens", "x_OutputTokens",
    "x_CachedInputTokens", "x_ReasoningTokens", "x_AllocatedFrom",
)
DECIMAL_COLUMNS = ("BilledCost", "ConsumedQuantity", "ContractedCost", "EffectiveCost", "ListCost",
                   "PricingQuantity", "x_Requests", "x_InputTokens", "x_OutputTokens",
                   "x_CachedInputTokens", "x_ReasoningTokens")
DATETIME_COLUMNS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _billing_period(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    return start, start + timedelta(days=monthrange(day.year, day.month)[1])


def _number(value: float) -> str:
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def rows(report: Chargeback, spec: Spec) -> list[dict[str, str]]:
    """The FOCUS rows, in day, team, app, model order."""
    cells: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0] * 6)
    for line in (*report.daily, *report.allocations):
        inbound = line.allocation.startswith("allocated in")
        source = line.allocation.removeprefix("allocated in from ") if inbound else ""
        cell = cells[(line.day, line.team, line.app, line.model, line.provider, source)]
        for i, v in enumerate((line.cost, line.requests, *line.tokens)):
            cell[i] += v
    display = {t.name: t.display_name or t.name for t in spec.teams}
    org = spec.organization.name
    out = []
    for (day, team, app, model, provider, source), (cost, requests, inp, outp, cached, reasoning) in sorted(
        cells.items()
    ):
        if abs(cost) < 1e-9 and abs(requests) < 1e-9 and abs(inp + outp) < 1e-9:
            continue  # an owner's share fully allocated away
        bill_start, bill_end = _billing_period(day)
        day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        charge_start = max(day_start, report.period.start)
        charge_end = min(day_start + timedelta(days=1), report.period.end)
        quantity = inp + outp  # input includes cached, output includes reasoning
        money = _number(cost)
        vendor = provider or "unknown"
        out.append({
            "BilledCost": money, "BillingAccountId": org, "BillingAccountName": org,
            "BillingAccountType": "Organization", "BillingCurrency": CURRENCY,
            "BillingPeriodEnd": iso(bill_end), "BillingPeriodStart": iso(bill_start),
            "ChargeCategory": "Usage", "ChargeClass": "",
            "ChargeDescription": f"{model} tokens for {team}/{app}" + (f" (allocated from {source})" if source else ""),
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": iso(charge_end), "ChargePeriodStart": iso(charge_start),
            "ConsumedQuantity": _number(quantity), "ConsumedUnit": UNIT,
            "ContractedCost": money, "ContractedUnitPrice": "", "EffectiveCost": money,
            "InvoiceIssuerName": vendor, "ListCost": money, "ListUnitPrice": "",
            "PricingCategory": "Standard", "PricingCurrency": CURRENCY,
            "PricingQuantity": _number(quantity), "PricingUnit": UNIT,
            "ProviderName": vendor, "PublisherName": vendor, "RegionId": "", "RegionName": "",
            "ResourceId": f"{vendor}/{model}", "ResourceName": model, "ResourceType": "Model",
            "ServiceCategory": SERVICE_CATEGORY, "ServiceName": f"{vendor} models",
            "ServiceSubcategory": SERVICE_SUBCATEGORY, "SkuId": f"{vendor}/{model}", "SkuPriceId": "",
            "SubAccountId": team, "SubAccountName": display.get(team, team), "SubAccountType": "Team",
            "Tags": json.dumps({"team": team, "app": app}, sort_keys=True),
            "x_Team": team, "x_App": app, "x_CostCenter": report.cost_center(team),
            "x_Requests": _number(requests), "x_InputTokens": _number(inp), "x_OutputTokens": _number(outp),
            "x_CachedInputTokens": _number(cached), "x_ReasoningTokens": _number(reasoning),
            "x_AllocatedFrom": source,
        })
    return out
