"""The ingest pipeline: raw records in, metrics recorded.

adapter -> duplicate check -> attribution -> label bounds -> pricing -> policy -> recorder.
Every source (HTTP, file tail) goes through ``Pipeline.ingest``; scrapes go through
``Pipeline.scrape``. One lock serialises both, so a snapshot always pairs counters with the
tail offsets and dedupe window of the same instant.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from exporter import catalog
from exporter.adapters import ENTITY_TYPES, Adapter, build_adapter
from exporter.attribution import Attributor
from exporter.audit.chain import head_value
from exporter.audit.relevance import AuditShape, audit_static
from exporter.audit.writer import AuditWriter
from exporter.dedupe import DedupeState, Deduplicator
from exporter.event import GatewayEvent, Rejection
from exporter.fields import FORMATS, OTEL
from exporter.labels import LabelBound
from exporter.periods import month_bounds
from exporter.policy import PolicyChecker
from exporter.pricing import PER_MILLION, PriceBook
from exporter.recorder import Recorder, Route, observed
from exporter.spec import Model, Spec, spec_hash
from exporter.state import StateStore

log = logging.getLogger("gatewatch.pipeline")

KNOWN_OPERATIONS = (
    "chat", "text_completion", "embeddings", "image_generation", "audio_transcription",
    "speech", "rerank", "other",
)
MAX_ERRORS_REPORTED = 1000
# Shapes of request remembered with their resolved route (see Pipeline.ingest).
MAX_ROUTES = 100_000
# A guardrail duration beyond a day is a broken clock, not a measurement.
_MAX_GUARDRAIL_SECONDS = 86_400.0


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    # Records the adapter set aside as not requests (OTel spans that are not model calls).
    ignored: int = 0
    # (index in the batch, reason); at most MAX_ERRORS_REPORTED, the counts stay exact.
    errors: list[tuple[int, str]] = field(default_factory=list)


class _Route(NamedTuple):
    series: Route
    listed: Model | None  # the price table's model, if it has one
    model: str  # the model label
    team: str | None  # the spec team, for adoption timestamps; None for others
    folds: tuple[str, ...]  # labels the cardinality guard folded for this shape
    audit: AuditShape | None = None  # set when the shape's requests go into the audit trail
    team_label: str = ""  # bounded team and provider labels, for the explaining counters
    provider_label: str = ""
    # Per guardrail, in event order: the slots of its time and timed-evaluation counters (only
    # for shapes whose records report guardrail durations).
    guardrail_slots: tuple[tuple[int, int], ...] = ()


class Totals(NamedTuple):
    """Requests or tokens summed by a producer for one label set (see Pipeline.ingest_totals)."""

    attributes: dict[str, str]
    model: str
    provider: str
    operation: str
    outcome: str
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    # Requests behind the token sums, counted as unpriced when the table has no price.
    priced_requests: int = 0


class Snapshot(msgspec.Struct, kw_only=True):
    version: int = 1
    recorder: bytes
    dedupe: DedupeState
    admitted: dict[str, list[str]]
    first_seen: dict[str, float]
    first_success: dict[str, float]
    last_event: dict[str, float]
    positions: dict[str, Any]


class _Bounds:
    """One LabelBound per bounded label, built from the spec and the values admitted so far."""

    def __init__(self, spec: Spec, on_fold: Callable[[str], None], admitted: dict[str, list[str]]) -> None:
        limits = spec.ingest.cardinality

        def bound(label: str, known: Any, limit: int) -> LabelBound:
            return LabelBound(label, known, limit, on_fold, admitted.get(label, ()))

        self.team = bound("team", [t.name for t in spec.teams], limits.teams)
        self.app = bound("app", [a.name for a in spec.apps], limits.apps)
        self.model = bound("model", [m.name for m in spec.models], limits.models)
        self.provider = bound("provider", [m.provider for m in spec.models], limits.providers)
        self.guardrail = bound("guardrail", [g.name for g in spec.guardrails], limits.guardrails)
        self.guardrail_names = {alias: g.name for g in spec.guardrails for alias in g.aliases}
        # The entity types adapters normalise to; anything else is bounded like any other label.
        self.entity = bound("entity", ENTITY_TYPES, limits.entities)
        self.operation = bound("operation", KNOWN_OPERATIONS, limits.operations)

    def admitted(self) -> dict[str, list[str]]:
        bounds = (self.team, self.app, self.model, self.provider, self.guardrail, self.entity, self.operation)
        return {b.label: list(b.admitted) for b in bounds}


class Pipeline:
    def __init__(
        self,
        spec: Spec,
        *,
        recorder: Recorder,
        state: StateStore | None = None,
        clock: Callable[[], float] = time.time,
        audit: AuditWriter | None = None,
    ) -> None:
        self.recorder = recorder
        self._state = state
        self._audit = audit
        self._clock = clock
        self._lock = threading.Lock()
        self._first_seen: dict[str, float] = {}
        self._first_success: dict[str, float] = {}
        self._last_event: dict[str, float] = {}
        self._positions: dict[str, Any] = {}
        self._routes: dict[int, _Route] = {}
        self._folds: list[str] | None = None
        # Called under the lock before each scrape renders: gauges read from outside the
        # pipeline (the review verdict store) are brought up to date here.
        self.before_scrape: list[Callable[[Recorder, Spec], object]] = []
        self._dedupe = Deduplicator(spec.ingest.dedupe_window_seconds, clock)
        admitted = self._restore()
        # After the restore, which carries the start time over with the counters: reports tell
        # a restart that lost the counters by this value changing.
        recorder.set(catalog.EXPORTER_COUNTERS_START, (), recorder.start_time)
        self._configure(spec, admitted)
        # The exporter's own failure counters exist from the first scrape, so their first
        # failure is an increase from 0 that rules can see.
        for result in ("success", "failure"):
            recorder.inc(catalog.EXPORTER_SPEC_RELOADS, (result,), 0.0)
        recorder.inc(catalog.EXPORTER_STATE_WRITE_FAILURES, (), 0.0)
        if audit is not None:
            recorder.inc(catalog.AUDIT_WRITE_FAILURES, (), 0.0)
            audit.on_failure = self._count_audit_failure
            audit.maintain()
            self._publish_audit()

    # -- configuration -------------------------------------------------------------------

    def _configure(self, spec: Spec, admitted: dict[str, list[str]]) -> None:
        self.spec = spec
        self._bounds = _Bounds(spec, self._count_fold, admitted)
        self._attributor = Attributor(spec, self._bounds.team, self._bounds.app)
        paths = self._attributor.attribute_paths()
        self._adapters: dict[str, Adapter] = {fmt: build_adapter(fmt, paths) for fmt in (*FORMATS, OTEL)}
        self._prices = PriceBook(spec)
        self._policy = PolicyChecker(spec)
        self._routes = {}
        # Spec teams not yet seen succeeding: the only ones whose records touch adoption state.
        self._adoption_pending = {t.name for t in spec.teams} - self._first_success.keys()
        self._dedupe.window = spec.ingest.dedupe_window_seconds
        if self._audit is not None:
            self._audit.retention_max_days = spec.audit.retention_max_days
        self._period: tuple[float, float] | None = None
        self._publish_spec_gauges()

    def reload(self, spec: Spec) -> None:
        """Swap in a new spec; counters, admitted values and the dedupe window carry over."""
        with self._lock:
            self._configure(spec, self._bounds.admitted())

    def _publish_spec_gauges(self) -> None:
        spec, rec = self.spec, self.recorder
        rec.replace_gauge(catalog.TEAM_BUDGET, {(t.name, t.budget.period): t.budget.monthly_usd for t in spec.teams})
        rec.replace_gauge(
            catalog.TEAM_INFO, {(t.name, t.owner, t.cost_center, t.tier): 1.0 for t in spec.teams}
        )
        rec.replace_gauge(catalog.SPEC_INFO, {(spec_hash(spec),): 1.0})
        self._refresh_period()

    def _refresh_period(self) -> None:
        """Budget period bounds: the UTC calendar month around now, updated when it rolls over."""
        now = self._clock()
        if self._period is not None and self._period[0] <= now < self._period[1]:
            return
        start, end = month_bounds(now)
        self._period = (start, end)
        teams = self.spec.teams
        self.recorder.replace_gauge(catalog.TEAM_BUDGET_PERIOD_START, {(t.name, t.budget.period): start for t in teams})
        self.recorder.replace_gauge(catalog.TEAM_BUDGET_PERIOD_END, {(t.name, t.budget.period): end for t in teams})

    def _count_fold(self, label: str) -> None:
        # Bounds run only while a route is built; the route counts its folds on every record.
        if self._folds is not None:
            self._folds.append(label)

    # -- ingest --------------------------------------------------------------------------

    def ingest(
        self,
        records: list[Any],
        fmt: str,
        source: str,
        position: tuple[str, Any] | None = None,
    ) -> IngestResult:
        """Normalise and record a batch. Never raises for bad records: they are counted.

        ``records`` are raw records' bytes, or ``SpanRecord``s for the ``otel`` format.

        ``position`` (key, value) is stored with the counters in the same snapshot, so a file
        tail resumes exactly after the last record it handed in.
        """
        adapter = self._adapters.get(fmt)
        if adapter is None:
            raise ValueError(f"unknown format {fmt!r}; expected one of {[*FORMATS, OTEL]}")
        result = IngestResult()
        errors = result.errors
        with self._lock:
            is_duplicate = self._dedupe.is_duplicate
            routes = self._routes
            price = self._prices.price
            count = self.recorder.count
            audit = self._audit
            for index, raw in enumerate(records):
                event = adapter(raw)
                if event is None:
                    result.ignored += 1
                    continue
                if type(event) is Rejection:
                    result.rejected += 1
                    if len(errors) < MAX_ERRORS_REPORTED:
                        errors.append((index, event.reason))
                    continue
                if event.id is not None and is_duplicate(fmt, event.id):
                    result.duplicates += 1
                    continue
                try:
                    # Everything but the numbers depends only on the request's shape, which
                    # repeats: each shape is resolved once (attribution, bounds, policy, series)
                    # into a route, and a record costs its route's increments. Routes are keyed
                    # by the shape's hash: comparing whole shapes on every hit cost more than
                    # everything else a record needs, and with at most MAX_ROUTES shapes and
                    # per-process randomised string hashing a 64-bit collision is ~1e-10.
                    attributes = event.attributes
                    entities = event.sensitive_entities
                    shape = hash((
                        fmt, tuple(attributes.items()) if attributes else (), event.model, event.provider,
                        event.operation, event.outcome, event.cache_hit, event.guardrails,
                        tuple(entities) if entities else (), event.duration_seconds is None,
                        event.ttft_seconds is None, event.input_tokens > 0, event.output_tokens > 0,
                        not event.guardrail_seconds,
                    ))
                    route = routes.get(shape)
                    if route is None:
                        route = self._new_route(shape, event, fmt)
                    cost = event.reported_cost_usd
                    if cost and not event.cache_hit:  # the common case, without a call
                        saved, unpriced = 0.0, False
                    else:
                        cost, saved, unpriced = price(event, route.listed)
                    count(route.series, event, cost, saved, entities.values() if entities else ())
                    if route.audit is not None:
                        audit.append(event.timestamp, event.id, route.audit,  # type: ignore[union-attr]
                                     entities.values() if entities else ())
                    if unpriced or route.folds or route.team in self._adoption_pending:
                        self._note_rare(route, event, unpriced)
                    if event.gaps or event.error is not None or event.rate_limit_source is not None:
                        self._note_explained(route, event, fmt)
                    if event.guardrail_seconds:
                        add = self.recorder.add
                        for (seconds_slot, timed_slot), spent in zip(
                                route.guardrail_slots, event.guardrail_seconds, strict=False):
                            if spent is not None and 0.0 <= spent < _MAX_GUARDRAIL_SECONDS:
                                add(seconds_slot, spent)
                                add(timed_slot, 1.0)
                except Exception:  # a bug must cost one record, never the exporter
                    log.exception("could not record a %s record (index %d); counted as rejected", fmt, index)
                    result.rejected += 1
                    if len(errors) < MAX_ERRORS_REPORTED:
                        errors.append((index, "internal error while recording; see exporter log"))
                    continue
                result.accepted += 1
            self._count_batch(fmt, source, result)
            if position is not None:
                self._positions[position[0]] = position[1]
        return result

    def ingest_totals(self, totals: Iterable[Totals], fmt: str) -> None:
        """Record requests and tokens a producer reported already summed (OTLP GenAI metrics):
        attributed, bounded and priced like events, without the per-request parts (durations,
        guardrails, policy, audit), which sums do not carry."""
        with self._lock:
            recorder, bounds = self.recorder, self._bounds
            for total in totals:
                self._folds = folds = []
                who = self._attributor.resolve(fmt, total.attributes)
                listed = self._prices.canonical(total.model)
                model = listed.name if listed is not None else bounds.model(total.model)
                provider = bounds.provider(total.provider)
                self._folds = None
                base = (who.team, who.app, model, provider)
                if total.requests:
                    operation = bounds.operation(total.operation)
                    recorder.inc(catalog.REQUESTS, (*base, operation, total.outcome, "miss"), total.requests)
                tokens = total.input_tokens + total.output_tokens
                if tokens:
                    for token_type, count in (("input", total.input_tokens), ("output", total.output_tokens)):
                        if count:
                            recorder.inc(catalog.TOKENS, (*base, token_type), count)
                    if listed is not None:
                        price = listed.price
                        cost = (total.input_tokens * price.input_per_mtok
                                + total.output_tokens * price.output_per_mtok) / PER_MILLION
                        recorder.inc(catalog.COST, base, cost)
                    elif total.priced_requests:
                        recorder.inc(catalog.EXPORTER_UNPRICED, (model,), total.priced_requests)
                for label in folds:
                    recorder.inc(catalog.EXPORTER_LABEL_OVERFLOW, (label,))

    def count(self, metric: catalog.Metric, labels: tuple[str, ...], amount: float = 1.0) -> None:
        """Add to one of the exporter's own counters, between batches."""
        with self._lock:
            self.recorder.inc(metric, labels, amount)

    def _note_rare(self, route: _Route, event: GatewayEvent, unpriced: bool) -> None:
        """What only some records need: unpriced and overflow counts, adoption timestamps."""
        if unpriced:
            self.recorder.inc(catalog.EXPORTER_UNPRICED, (route.model,))
        for label in route.folds:
            self.recorder.inc(catalog.EXPORTER_LABEL_OVERFLOW, (label,))
        team = route.team
        if team in self._adoption_pending:
            if team not in self._first_seen:
                self._first_seen[team] = now = self._clock()
                self.recorder.set(catalog.TEAM_FIRST_SEEN, (team,), now)
            if event.outcome == "success":
                self._first_success[team] = now = self._clock()
                self.recorder.set(catalog.TEAM_FIRST_SUCCESS, (team,), now)
                self._adoption_pending.discard(team)

    def _note_explained(self, route: _Route, event: GatewayEvent, fmt: str) -> None:
        """What explains a record: the gaps in reading it, its error kind, the limit it hit."""
        rec = self.recorder
        for reason in event.gaps:
            rec.inc(catalog.EXPORTER_RECORD_GAPS, (fmt, reason))
        if event.error is not None:
            rec.inc(catalog.REQUEST_ERRORS, (route.team_label, route.provider_label, event.outcome, event.error))
        if event.rate_limit_source is not None:
            rec.inc(catalog.RATE_LIMITED, (route.team_label, route.provider_label, event.rate_limit_source,
                                           event.rate_limit_type or "unknown"))

    def _new_route(self, shape: int, event: GatewayEvent, fmt: str) -> _Route:
        if len(self._routes) >= MAX_ROUTES:
            self._routes.clear()  # attacker-chosen values must not grow memory without bound
        bounds = self._bounds
        self._folds = folds = []
        who = self._attributor.resolve(fmt, event.attributes)
        listed = self._prices.canonical(event.model)
        model = listed.name if listed is not None else bounds.model(event.model)
        names = bounds.guardrail_names
        guardrails = tuple((bounds.guardrail(names.get(g.name, g.name)), g.stage, g.result) for g in event.guardrails)
        policy = self._policy.check(who.team, model, who.classification, event.outcome, guardrails,
                                    guardrails_known=fmt != OTEL)
        key = (who.team, who.app, model, bounds.provider(event.provider), bounds.operation(event.operation),
               event.outcome, "hit" if event.cache_hit else "miss")
        entity_names = tuple(bounds.entity(name) for name in event.sensitive_entities)
        series = self.recorder.route(
            key,
            observed(event),
            guardrails=guardrails + policy.missing_guardrails,
            entities=entity_names,
            violations=policy.violations,
        )
        self._folds = None
        audit = None if self._audit is None else audit_static(
            fmt, key, guardrails + policy.missing_guardrails, policy.violations, entity_names,
        )
        slot = self.recorder.counter_slot
        timed = tuple(
            (slot(catalog.GUARDRAIL_SECONDS, (name, stage)), slot(catalog.GUARDRAIL_TIMED, (name, stage)))
            for name, stage, _ in guardrails
        ) if event.guardrail_seconds else ()
        route = _Route(series, listed, model, who.team if who.known_team else None, tuple(folds), audit,
                       key[0], key[3], timed)
        self._routes[shape] = route
        return route

    def _count_batch(self, fmt: str, source: str, result: IngestResult) -> None:
        rec = self.recorder
        for outcome, count in (
            ("accepted", result.accepted),
            ("rejected", result.rejected),
            ("duplicate", result.duplicates),
            ("ignored", result.ignored),
        ):
            if count:
                rec.inc(catalog.EXPORTER_EVENTS, (source, fmt, outcome), count)
        if result.accepted:
            self._last_event[source] = now = self._clock()
            rec.set(catalog.EXPORTER_LAST_EVENT, (source,), now)

    # -- scrape and state ----------------------------------------------------------------

    def scrape(self) -> bytes:
        """The /metrics body. With a state directory, the snapshot is written first, so no
        value Prometheus has seen can be lost by a crash right after."""
        with self._lock:
            self._refresh_period()
            for hook in self.before_scrape:
                hook(self.recorder, self.spec)
            self._save_locked()
            return self.recorder.render()

    def save(self) -> None:
        with self._lock:
            self._save_locked()

    def read(self, reader: Callable[[Recorder], Any]) -> Any:
        """Run ``reader`` on the recorder while no batch is half-recorded (for the OTLP sink)."""
        with self._lock:
            return reader(self.recorder)

    def position(self, key: str) -> Any:
        with self._lock:
            return self._positions.get(key)

    # -- audit trail ----------------------------------------------------------------------

    def audit_tick(self) -> None:
        """Every second: roll the audit file at midnight, write buffered lines, purge expired days."""
        if self._audit is None:
            return
        with self._lock:
            self._audit.maintain()
            self._publish_audit()

    def close_audit(self) -> None:
        """At shutdown, after the last ingest: write and fsync the audit log."""
        if self._audit is None:
            return
        with self._lock:
            self._audit.close()
            self._publish_audit()

    def _publish_audit(self) -> None:
        audit, rec = self._audit, self.recorder
        assert audit is not None
        rec.set(catalog.AUDIT_CHAIN_LENGTH, (), audit.written_seq)
        rec.set(catalog.AUDIT_CHAIN_HEAD, (), head_value(audit.written_head))
        if audit.last_write is not None:
            rec.set(catalog.AUDIT_LAST_WRITE, (), audit.last_write)

    def _count_audit_failure(self) -> None:
        self.recorder.inc(catalog.AUDIT_WRITE_FAILURES, ())

    def _save_locked(self) -> None:
        # Audit lines first: the chain length a scrape exposes must already be in the files.
        if self._audit is not None:
            self._audit.flush()
            self._publish_audit()
        if self._state is None:
            return
        snapshot = Snapshot(
            recorder=self.recorder.snapshot(),
            dedupe=self._dedupe.dump(),
            admitted=self._bounds.admitted(),
            first_seen=self._first_seen,
            first_success=self._first_success,
            last_event=self._last_event,
            positions=self._positions,
        )
        try:
            self._state.write(msgspec.msgpack.encode(snapshot))
        except OSError as err:
            log.error("could not write the state snapshot to %s: %s", self._state.directory, err)
            self.recorder.inc(catalog.EXPORTER_STATE_WRITE_FAILURES, ())

    def _restore(self) -> dict[str, list[str]]:
        if self._state is None:
            return {}
        data = self._state.read()
        if data is None:
            return {}
        try:
            snapshot = msgspec.msgpack.decode(data, type=Snapshot)
            self.recorder.restore(snapshot.recorder)
        except (msgspec.DecodeError, ValueError) as err:
            moved = self._state.quarantine()
            log.error("state snapshot unreadable (%s); moved to %s and starting fresh", err, moved)
            return {}
        self._dedupe.load(snapshot.dedupe)
        self._first_seen = dict(snapshot.first_seen)
        self._first_success = dict(snapshot.first_success)
        self._last_event = dict(snapshot.last_event)
        self._positions = dict(snapshot.positions)
        return snapshot.admitted

