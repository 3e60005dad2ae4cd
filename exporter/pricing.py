"""Pricing: what a request cost and what a cache hit saved, in USD.

The gateway's own figure wins when it gave one. Otherwise the spec's price table prices the
tokens (cached input at its own rate). A request with tokens that neither the gateway nor the
table can price is reported as unpriced, so cost is never silently zero.
"""

from __future__ import annotations

from contract.spec import Model, Spec
from exporter.event import GatewayEvent

PER_MILLION = 1_000_000.0


# (cost in USD, cache savings in USD, unpriced): unpriced is True when the request had tokens
# but neither the gateway nor the table gave a price. A plain tuple: it is made per record.
Priced = tuple[float, float, bool]


class PriceBook:
    def __init__(self, spec: Spec) -> None:
        self._by_alias: dict[str, Model] = {}
        for model in spec.models:
            for alias in (model.name, *model.aliases):
                self._by_alias[alias] = model
                self._by_alias[alias.lower()] = model

    def canonical(self, raw_model: str) -> Model | None:
        """The table's model for a raw name: exact alias, lower-case, or without a provider/ prefix."""
        model = self._by_alias.get(raw_model)
        if model is None:
            lowered = raw_model.lower()
            model = self._by_alias.get(lowered) or self._by_alias.get(lowered.rpartition("/")[2])
        return model

    def price(self, event: GatewayEvent, model: Model | None) -> Priced:
        reported = event.reported_cost_usd
        if event.cache_hit:
            saved = event.reported_cache_saved_usd
            if saved is None:
                saved = _token_cost(event, model) if model is not None else 0.0
            return reported or 0.0, saved, False
        if reported:
            return reported, 0.0, False
        tokens = event.input_tokens + event.output_tokens
        # A reported 0 for a request that used tokens means the gateway did not know the price.
        if reported is not None and tokens == 0:
            return reported, 0.0, False
        if model is not None:
            return _token_cost(event, model), 0.0, False
        return 0.0, 0.0, tokens > 0


def _token_cost(event: GatewayEvent, model: Model) -> float:
    price = model.price
    cached = min(event.cached_input_tokens, event.input_tokens)
    cached_rate = price.input_per_mtok if price.cached_input_per_mtok is None else price.cached_input_per_mtok
    return (
        (event.input_tokens - cached) * price.input_per_mtok
        + cached * cached_rate
        + event.output_tokens * price.output_per_mtok
    ) / PER_MILLION
