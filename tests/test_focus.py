"""FOCUS 1.2 output checked column by column: mandatory columns present, types, allowed values,
UTC ISO 8601 timestamps, custom columns prefixed ``x_``. Built from a hand-made chargeback."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest

from contract import spec as spec_model
from reports.chargeback import Chargeback, Line, allocate
from reports.focus import COLUMNS
from reports.outputs import to_focus
from reports.periods import month
from tests.paths import EXAMPLE_SPEC

SPEC = spec_model.load(EXAMPLE_SPEC)
# Written out from the FOCUS 1.2 specification, not from reports.focus.
MANDATORY = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
}
NOT_NULL = MANDATORY - {"BillingAccountName", "ChargeClass", "ChargeDescription", "PricingQuantity", "PricingUnit"}
ALLOWED = {
    "ChargeCategory": {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
    "ChargeClass": {"", "Correction"},
    "ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},
    "ServiceCategory": {"AI and Machine Learning"},
    "BillingCurrency": {"USD"},
    "PricingCategory": {"Standard", "Dynamic", "Committed", "Other", ""},
}
DECIMALS = {"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity", "PricingQuantity"}
UTC_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def report() -> Chargeback:
    days = (date(2026, 10, 1), date(2026, 10, 2))
    daily = tuple(
        Line(d, team, app, model, provider, cost=c, requests=r, tokens=(1000.0 * r, 200.0 * r, 10.0, 0.0))
        for d in days
        for team, app, model, provider, c, r in [
            ("search", "search-api", "gpt-4o", "openai", 12.5, 40),
            ("platform", "eval-harness", "claude-sonnet-4", "anthropic", 3.0, 10),
            ("__unassigned__", "__unassigned__", "gpt-4o-mini", "openai", 0.25, 5),
        ]
    )
    return Chargeback(month("2026-10"), "http://prom", datetime(2026, 11, 1, tzinfo=UTC), daily,
                      tuple(allocate(daily, SPEC.finance.allocations)), {t.name: t.cost_center for t in SPEC.teams})


def rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(to_focus(report(), SPEC))))


def test_mandatory_columns_present() -> None:
    assert set(COLUMNS) >= MANDATORY


def test_custom_columns_are_prefixed() -> None:
    known = MANDATORY | set(ALLOWED) | DECIMALS | {
        "BillingAccountType", "ConsumedUnit", "ContractedUnitPrice", "ListUnitPrice", "PricingCurrency", "RegionId",
        "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceSubcategory", "SkuId", "SkuPriceId",
        "SubAccountId", "SubAccountName", "SubAccountType", "Tags"}
    custom = [c for c in COLUMNS if c not in known]
    assert custom and all(c.startswith("x_") for c in custom)
    assert {"x_Team", "x_App", "x_CostCenter", "x_InputTokens", "x_OutputTokens"} <= set(custom)


@pytest.mark.parametrize("column", sorted(ALLOWED))
def test_allowed_values(column: str) -> None:
    assert {r[column] for r in rows()} <= ALLOWED[column]


def test_types_and_nulls() -> None:
    for row in rows():
        for column in NOT_NULL:
            assert row[column] != "", column
        for column in DECIMALS:
            float(row[column])
        for column in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
            assert UTC_ISO.match(row[column]), (column, row[column])
        assert row["ServiceSubcategory"] == "Generative AI"
        assert row["ConsumedUnit"] == row["PricingUnit"] == "Tokens"
        assert row["ChargeFrequency"] == "Usage-Based" and row["ChargeCategory"] == "Usage"


def test_rows_by_hand() -> None:
    got = rows()
    search = [r for r in got if r["x_Team"] == "search" and r["x_App"] == "search-api"]
    assert [(r["ChargePeriodStart"], r["ChargePeriodEnd"]) for r in search] == [
        ("2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z"), ("2026-10-02T00:00:00Z", "2026-10-03T00:00:00Z")]
    first = search[0]
    assert first["BilledCost"] == first["EffectiveCost"] == first["ListCost"] == "12.5"
    assert first["ConsumedQuantity"] == "48000"  # 40 requests x (1000 input + 200 output)
    assert first["x_CostCenter"] == "CC-1040" and first["BillingPeriodEnd"] == "2026-11-01T00:00:00Z"
    # The shared eval-harness spend (3.0 a day) goes to four teams by their request share; only
    # search has requests here, so all of it lands on search and platform keeps none.
    harness = [r for r in got if r["x_App"] == "eval-harness"]
    assert {(r["x_Team"], r["x_AllocatedFrom"], r["BilledCost"]) for r in harness} == {("search", "platform", "3")}
    assert sum(float(r["BilledCost"]) for r in got) == pytest.approx(2 * (12.5 + 3.0 + 0.25))
    assert any(r["x_Team"] == "__unassigned__" for r in got)
