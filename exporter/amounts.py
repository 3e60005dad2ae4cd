"""Per-record bounds on every amount, checked before a record touches any counter.

A record is counted wholly or not at all: every number it adds is checked here first, against
the spec's ``ingest.bounds``, so counting cannot fail half-way (a 400-digit token count cannot
be added to a float) and no sum can be pushed to infinity by one absurd record. The reasons go
back to the sender; they name the field and the bound, never the value.
"""

from __future__ import annotations

from contract.spec import AmountBounds
from exporter.event import GatewayEvent


class AmountCheck:
    """Checks one event's amounts against ``bounds``; ``None`` means it may be counted."""

    __slots__ = ("_cost", "_duration", "_entities", "_future", "_past", "_saved", "_tokens")

    def __init__(self, bounds: AmountBounds) -> None:
        self._tokens = bounds.max_tokens
        self._cost = bounds.max_cost_usd
        self._saved = bounds.max_cache_saved_usd
        self._duration = bounds.max_duration_seconds
        self._entities = bounds.max_entities
        self._past = bounds.max_age_seconds
        self._future = bounds.max_future_seconds

    def event(self, ev: GatewayEvent, now: float) -> str | None:
        """The reason ``ev`` must be rejected, or None."""
        # One chained test for the common case (every record pays it); the reason is worked
        # out only for a record that fails it.
        tokens = self._tokens
        cost, saved = ev.reported_cost_usd, ev.reported_cache_saved_usd
        duration, ttft = ev.duration_seconds, ev.ttft_seconds
        try:
            if (0 <= ev.input_tokens <= tokens and 0 <= ev.output_tokens <= tokens
                    and 0 <= ev.cached_input_tokens <= tokens and 0 <= ev.reasoning_tokens <= tokens
                    and (cost is None or 0.0 <= cost <= self._cost)
                    and (saved is None or 0.0 <= saved <= self._saved)
                    and (duration is None or 0.0 <= duration <= self._duration)
                    and (ttft is None or 0.0 <= ttft <= self._duration)
                    and now - self._past <= ev.timestamp <= now + self._future
                    and (not ev.sensitive_entities
                         or all(0 <= n <= self._entities for n in ev.sensitive_entities.values()))):
                return None
        except TypeError:
            pass  # an adapter let a non-number through: the checks below name it
        return self._reason(ev, now)

    def _reason(self, ev: GatewayEvent, now: float) -> str:
        limit = self._tokens
        for name, n in (("input", ev.input_tokens), ("output", ev.output_tokens),
                        ("cached_input", ev.cached_input_tokens), ("reasoning", ev.reasoning_tokens)):
            if type(n) is not int or not 0 <= n <= limit:
                return f"{name} token count outside 0..{limit} (ingest.bounds.max_tokens)"
        cost = ev.reported_cost_usd
        if cost is not None and not _within(cost, self._cost):
            return f"cost outside 0..{self._cost:g} USD (ingest.bounds.max_cost_usd)"
        saved = ev.reported_cache_saved_usd
        if saved is not None and not _within(saved, self._saved):
            return f"cache saving outside 0..{self._saved:g} USD (ingest.bounds.max_cache_saved_usd)"
        for name, seconds in (("duration", ev.duration_seconds), ("time to first token", ev.ttft_seconds)):
            if seconds is not None and not _within(seconds, self._duration):
                return f"{name} outside 0..{self._duration:g} s (ingest.bounds.max_duration_seconds)"
        timestamp = ev.timestamp
        if type(timestamp) not in (float, int) or not now - self._past <= timestamp <= now + self._future:
            return ("start time too far from the exporter's clock "
                    "(ingest.bounds.max_age_seconds / max_future_seconds)")
        return f"sensitive entity count outside 0..{self._entities} (ingest.bounds.max_entities)"

    def priced(self, cost: float, saved: float) -> str | None:
        """The reason a priced amount must be rejected (tokens within bounds can still price
        beyond them), or None."""
        if not _within(cost, self._cost):
            return f"priced cost outside 0..{self._cost:g} USD (ingest.bounds.max_cost_usd)"
        if not _within(saved, self._saved):
            return f"priced cache saving outside 0..{self._saved:g} USD (ingest.bounds.max_cache_saved_usd)"
        return None


def _within(value: object, limit: float) -> bool:
    # NaN fails both comparisons; a bool or a string fails the type check.
    return type(value) in (float, int) and 0.0 <= value <= limit  # type: ignore[operator]
