"""The normalised gateway event: what every adapter produces, whatever the gateway's dialect."""

from __future__ import annotations

import msgspec


class GuardrailEvaluation(msgspec.Struct, frozen=True, gc=False):
    """One guardrail's verdict on one request.

    ``result`` is one of catalog.GUARDRAIL_RESULTS; ``stage`` is ``input`` or ``output``.
    """

    name: str
    stage: str
    result: str


class GatewayEvent(msgspec.Struct, frozen=True, gc=False):
    """One gateway request, normalised.

    Adapters build it with positional arguments, in field order: on the ingest hot path that is
    several times cheaper than keywords. It holds no reference cycles, so the garbage collector
    need not track it (``gc=False``).

    ``attributes`` holds the raw string fields that attribution may read (team, app and
    data-classification candidates), keyed by their path in the source record, for example
    ``metadata.user_api_key_team_alias`` or ``consumer.username``. The adapter only copies them;
    the spec's attribution rules decide which ones count. They never reach a metric label
    unmapped and unbounded.
    """

    id: str | None
    timestamp: float
    attributes: dict[str, str]
    model: str
    provider: str
    operation: str
    outcome: str
    cache_hit: bool = False
    streaming: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    reported_cost_usd: float | None = None
    reported_cache_saved_usd: float | None = None
    duration_seconds: float | None = None
    ttft_seconds: float | None = None
    guardrails: tuple[GuardrailEvaluation, ...] = ()
    sensitive_entities: dict[str, int] = {}
    # Seconds each of ``guardrails`` took (same order; None when not reported). Kept apart from
    # the verdicts, which are part of a request's shape while a duration is not.
    guardrail_seconds: tuple[float | None, ...] = ()
    # For failures: the gateway's normalised error kind (catalog.ERROR_KINDS), and for requests
    # a limit refused, who refused (catalog.RATE_LIMIT_SOURCES) and which limit (RATE_LIMIT_TYPES).
    error: str | None = None
    rate_limit_source: str | None = None
    rate_limit_type: str | None = None
    # What the adapter could not read (catalog.RECORD_GAP_REASONS): the record still counts.
    gaps: tuple[str, ...] = ()


class Rejection(msgspec.Struct, frozen=True):
    """A record that could not be normalised, with a reason fit to show the sender."""

    reason: str


class Measured(msgspec.Struct, frozen=True, kw_only=True):
    """An event after attribution, bounding and pricing: everything the recorder needs.

    Every string here is a bounded label value (spec names, admitted values, or the sentinels
    ``__other__`` / ``__unassigned__``); nothing raw from the record remains but the numbers.
    """

    event: GatewayEvent
    team: str
    app: str
    model: str
    provider: str
    operation: str
    cost_usd: float
    cache_saved_usd: float
    # (guardrail, stage, result), bounded guardrail names, including not_run rows for
    # guardrails the team requires that left no evaluation.
    guardrails: tuple[tuple[str, str, str], ...] = ()
    # (entity type, count), bounded entity names.
    entities: tuple[tuple[str, int], ...] = ()
    # Policy names from catalog.POLICIES, at most once each.
    violations: tuple[str, ...] = ()
