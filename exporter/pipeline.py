"""The ingest pipeline: raw records in, metrics recorded.

adapter -> amount bounds -> attribution -> label bounds -> pricing -> policy -> duplicate check
-> write-ahead log -> recorder.
Every source (HTTP, file tail) goes through ``Pipeline.ingest``; scrapes go through
``Pipeline.scrape``. One lock serialises counting (chunk by chunk), log appends, scrapes and
snapshot copies, so a snapshot always pairs counters with the tail offsets, the dedupe window
and the log position of the same instant. With a state directory, start-up restores the newest
valid snapshot generation and replays the log after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from contract import catalog
from contract.fields import FORMATS, OTEL
from contract.spec import Model, Spec, spec_hash
from exporter.adapters import ENTITY_TYPES, Adapter, build_adapter
from exporter.amounts import AmountCheck
from exporter.attribution import Attribution, Attributor
from exporter.audit.chain import head_value
from exporter.audit.relevance import AuditShape, audit_static
from exporter.audit.writer import AuditWriter
from exporter.dedupe import Deduplicator, seed_of
from exporter.dedupe import digest as digest_id
from exporter.event import GatewayEvent, Rejection
from exporter.labels import LabelBound
from exporter.legacy_state import LegacySnapshot, dedupe_slices
from exporter.logs import ThrottledLog
from exporter.periods import month_bounds
from exporter.policy import PolicyChecker
from exporter.pricing import PER_MILLION, PriceBook
from exporter.recorder import Recorder, Route, observed
from exporter.snapshot import Generations, SnapshotError, StateSnapshot
from exporter.snapshot import encode as encode_snapshot
from exporter.state import SNAPSHOT, StateStore
from exporter.wal import WriteAheadLog, decode_event, encode_event

log = logging.getLogger("gatewatch.pipeline")
# Errors that can repeat per record or per batch: one line per kind every few seconds, with a count.
_throttled = ThrottledLog(log)

KNOWN_OPERATIONS = (
    "chat", "text_completion", "embeddings", "image_generation", "audio_transcription",
    "speech", "rerank", "other",
)
MAX_ERRORS_REPORTED = 1000
# Shapes of request remembered with their resolved route (see Pipeline.ingest).
MAX_ROUTES = 100_000
# Marks a logged record's attributes as already resolved (no record field has this name).
_RESOLVED = "\x00resolved"
_SENTINELS = frozenset(catalog.SENTINEL_TEAMS)
# Records counted per hold of the pipeline lock: about a millisecond of work, so a scrape
# waits at most that long behind an ingest, however large its batch.
CHUNK_RECORDS = 128
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
    # Values for wal.LABEL_FIELDS: what the log stores in place of the record's raw strings.
    logged: tuple[Any, ...] = ()


class NotDurable(Exception):  # noqa: N818 - it says what the caller must tell the sender
    """The write-ahead log could not be written or synced: the batch must not be acknowledged.
    Chunks logged before the failure may be counted; their ids make a retry a duplicate."""


class StateRefused(Exception):  # noqa: N818
    """No snapshot generation in the state directory is usable; the message says which failed."""


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
        self._state_dir = state.directory if state is not None else None
        self._generations = Generations(state.directory) if state is not None else None
        self._wal = WriteAheadLog(state.directory) if state is not None else None
        self._save_lock = threading.Lock()  # one snapshot at a time (periodic and final)
        # Damage found in the state directory at start, for /readyz and the log.
        self.state_notes: list[str] = []
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
        self._amounts = AmountCheck(spec.ingest.bounds)
        admitted, replay_from = self._restore()
        # After the restore, which carries the start time over with the counters: reports tell
        # a restart that lost the counters by this value changing.
        recorder.set(catalog.EXPORTER_COUNTERS_START, (), recorder.start_time)
        self._configure(spec, admitted)
        # The exporter's own failure counters exist from the first scrape, so their first
        # failure is an increase from 0 that rules can see.
        for result in ("success", "failure"):
            recorder.inc(catalog.EXPORTER_SPEC_RELOADS, (result,), 0.0)
        recorder.inc(catalog.EXPORTER_STATE_WRITE_FAILURES, (), 0.0)
        for part in ("snapshot", "log"):
            recorder.inc(catalog.EXPORTER_STATE_RESTORE_PROBLEMS, (part,), 0.0)
        if self._problems:
            recorder.inc(catalog.EXPORTER_STATE_RESTORE_PROBLEMS, ("snapshot",), self._problems)
        if replay_from is not None:
            self._replay(replay_from)
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
        self._spec_teams = frozenset(t.name for t in spec.teams)
        self._spec_apps = frozenset(a.name for a in spec.apps)
        paths = self._attributor.attribute_paths()
        self._adapters: dict[str, Adapter] = {fmt: build_adapter(fmt, paths) for fmt in (*FORMATS, OTEL)}
        self._prices = PriceBook(spec)
        self._policy = PolicyChecker(spec)
        self._amounts = AmountCheck(spec.ingest.bounds)
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

        ``position`` (key, value) is stored with the counters in the same snapshot (and log
        entry), so a file tail resumes exactly after the last record it handed in.

        With a state directory, the batch is in the write-ahead log and on disk when this
        returns; if the disk refuses, NotDurable is raised and the chunks not yet logged are
        not counted. Records are parsed outside the lock and counted in chunks of
        CHUNK_RECORDS, the lock released between chunks, so a scrape never waits on a whole
        batch (a batch with a position is counted whole).
        """
        adapter = self._adapters.get(fmt)
        if adapter is None:
            raise ValueError(f"unknown format {fmt!r}; expected one of {[*FORMATS, OTEL]}")
        result = IngestResult()
        mark = 0
        # A batch with a position (a tail's, at most its batch_lines) is one unit: one log entry
        # and one hold of the lock, so no snapshot or crash can split its counts from its position.
        step = max(len(records), 1) if position is not None else CHUNK_RECORDS
        for start in range(0, max(len(records), 1), step):
            events = [adapter(raw) for raw in records[start:start + step]]
            last = start + step >= len(records)
            with self._lock:
                try:
                    mark = self._ingest_chunk(events, start, fmt, source, position=position if last else None,
                                              result=result)
                except OSError as err:
                    self.recorder.inc(catalog.EXPORTER_STATE_WRITE_FAILURES, ())
                    _throttled.error("wal-write", "could not write the write-ahead log in %s: %s", self._state_dir, err)
                    raise NotDurable from None
        self._sync(mark)
        return result

    def _sync(self, mark: int) -> None:
        """Wait until the log is on disk up to ``mark`` (group commit); NotDurable if it cannot be."""
        if not mark or self._wal is None:
            return
        try:
            self._wal.sync(mark)
        except OSError as err:
            with self._lock:
                self.recorder.inc(catalog.EXPORTER_STATE_WRITE_FAILURES, ())
            _throttled.error("wal-sync", "could not sync the write-ahead log in %s: %s", self._state_dir, err)
            raise NotDurable from None

    def _ingest_chunk(self, events: list[GatewayEvent | Rejection | None], offset: int, fmt: str, source: str, *,
                      position: tuple[str, Any] | None, result: IngestResult,
                      logged_digests: list[int] | None = None) -> int:
        """Check, log and count one chunk (under the lock); returns the log mark to sync to.
        ``logged_digests`` (replaying a log entry) are the records' id digests, 0 for none.

        Every check comes before anything is counted: a record is counted wholly or not at all,
        and nothing is counted that the log does not hold.
        """
        chunk = IngestResult()
        errors = result.errors
        dedupe = self._dedupe
        window = dedupe.window > 0
        check = self._amounts
        now = self._clock()
        remembered: list[int] = []
        ready_digests: list[int] = []
        routes = self._routes
        price = self._prices.price
        seed = seed_of(fmt)
        ready: list[tuple[GatewayEvent, _Route, float, float, bool]] = []
        for index, event in enumerate(events, offset):
            if event is None:  # set aside by the adapter as not a request
                chunk.ignored += 1
                continue
            reason: str | None
            if type(event) is Rejection:
                reason = event.reason
            else:
                reason = check.event(event, now)  # type: ignore[arg-type]
                if reason is None:
                    try:
                        # Everything but the numbers depends only on the request's shape, which
                        # repeats: each shape is resolved once (attribution, bounds, policy,
                        # series) into a route, and a record costs its route's increments. Routes
                        # are keyed by the shape's hash: comparing whole shapes on every hit cost
                        # more than everything else a record needs, and with at most MAX_ROUTES
                        # shapes and per-process randomised string hashing a 64-bit collision is
                        # ~1e-10. (Inline, not a method: this runs once per record.)
                        attributes = event.attributes  # type: ignore[union-attr]
                        entities = event.sensitive_entities  # type: ignore[union-attr]
                        shape = hash((
                            fmt, tuple(attributes.items()) if attributes else (), event.model,  # type: ignore[union-attr]
                            event.provider, event.operation, event.outcome, event.cache_hit,  # type: ignore[union-attr]
                            event.guardrails, tuple(entities) if entities else (),  # type: ignore[union-attr]
                            event.duration_seconds is None, event.ttft_seconds is None,  # type: ignore[union-attr]
                            event.input_tokens > 0, event.output_tokens > 0,  # type: ignore[union-attr]
                            not event.guardrail_seconds,  # type: ignore[union-attr]
                        ))
                        route = routes.get(shape)
                        if route is None:
                            route = self._new_route(shape, event, fmt)  # type: ignore[arg-type]
                        cost = event.reported_cost_usd  # type: ignore[union-attr]
                        if cost and not event.cache_hit:  # type: ignore[union-attr]  # the common case
                            saved, unpriced = 0.0, False
                        else:
                            cost, saved, unpriced = price(event, route.listed)  # type: ignore[arg-type]
                            # Priced here: the event check saw no such amount.
                            reason = check.priced(cost, saved)
                    except Exception as exc:  # a bug must cost one record, never the exporter
                        _throttled.error("route", "could not route a %s record (index %d); counted as rejected", fmt,
                                         index, exc_info=exc)
                        reason = "internal error while recording; see exporter log"
            if reason is not None:
                chunk.rejected += 1
                if len(errors) < MAX_ERRORS_REPORTED:
                    errors.append((index, reason))
                continue
            if logged_digests is not None:
                digest = logged_digests[index - offset]
            else:
                record_id = event.id  # type: ignore[union-attr]
                digest = digest_id(record_id, seed) if record_id is not None else 0
            if digest and window:
                if dedupe.check_digest(digest):
                    chunk.duplicates += 1
                    continue
                remembered.append(digest)
            ready.append((event, route, cost, saved, unpriced))  # type: ignore[arg-type]
            ready_digests.append(digest)
        mark = 0
        replaying = logged_digests is not None
        if self._wal is not None and not replaying:
            try:
                # Never a raw id or raw attribute on disk: the id's digest and the resolved labels.
                logged = [encode_event(item[0], item[1].logged) for item in ready]
                mark = self._wal.append(fmt, source, position, rejected=chunk.rejected, duplicates=chunk.duplicates,
                                        ignored=chunk.ignored, events=logged, digests=ready_digests)
            except OSError:
                dedupe.forget(remembered)
                raise
        count = self.recorder.count
        audit = self._audit
        for event, route, cost, saved, unpriced in ready:
            entities = event.sensitive_entities
            count(route.series, event, cost, saved, entities.values() if entities else ())
            if route.audit is not None and not replaying:  # the audit log has its own recovery
                audit.append(event.timestamp, event.id, route.audit,  # type: ignore[union-attr]
                             entities.values() if entities else ())
            if unpriced or route.folds or route.team in self._adoption_pending:
                self._note_rare(route, event, unpriced)
            try:
                if event.gaps or event.error is not None or event.rate_limit_source is not None:
                    self._note_explained(route, event, fmt)
                if event.guardrail_seconds:
                    add = self.recorder.add
                    for (seconds_slot, timed_slot), spent in zip(
                            route.guardrail_slots, event.guardrail_seconds, strict=False):
                        if spent is not None and 0.0 <= spent < _MAX_GUARDRAIL_SECONDS:
                            add(seconds_slot, spent)
                            add(timed_slot, 1.0)
            except Exception as exc:  # the request is counted and logged: a bug here loses only its details
                _throttled.error("explain", "could not count what explains a %s record; the request itself is counted",
                                 fmt, exc_info=exc)
        chunk.accepted = len(ready)
        self._count_batch(fmt, source, chunk)
        result.accepted += chunk.accepted
        result.rejected += chunk.rejected
        result.duplicates += chunk.duplicates
        result.ignored += chunk.ignored
        if position is not None:
            self._positions[position[0]] = position[1]
        return mark
    def ingest_totals(self, totals: Iterable[Totals], fmt: str) -> None:
        """Record requests and tokens a producer reported already summed (OTLP GenAI metrics):
        attributed, bounded and priced like events, without the per-request parts (durations,
        guardrails, policy, audit), which sums do not carry. With a state directory they are in
        the write-ahead log, resolved, before this returns (NotDurable if the disk refuses)."""
        mark = 0
        with self._lock:
            resolved = [self._resolve_totals(total, fmt) for total in totals]
            if self._wal is not None:
                try:
                    mark = self._wal.append(fmt, fmt, None, rejected=0, duplicates=0, events=[], digests=[],
                                            totals=[list(total) for total, _ in resolved])
                except OSError as err:
                    self.recorder.inc(catalog.EXPORTER_STATE_WRITE_FAILURES, ())
                    _throttled.error("wal-write", "could not write the write-ahead log in %s: %s", self._state_dir, err)
                    raise NotDurable from None
            for total, folds in resolved:
                self._count_totals(total, folds)
        self._sync(mark)

    def _resolve_totals(self, total: Totals, fmt: str) -> tuple[Totals, list[str]]:
        """``total`` with bounded labels in place of raw ones (as the log stores it), and the
        labels the cardinality guard folded on the way."""
        bounds = self._bounds
        folds: list[str] = []
        self._folds = folds
        who = self._resolve(fmt, total.attributes)
        _, model = self._model(total.model)
        provider = bounds.provider(total.provider)
        operation = bounds.operation(total.operation) if total.requests else total.operation
        self._folds = None
        attributes = {_RESOLVED: "1", "team": who.team, "app": who.app, "classification": who.classification}
        return total._replace(attributes=attributes, model=model, provider=provider, operation=operation), folds

    def _count_totals(self, total: Totals, folds: list[str]) -> None:
        recorder = self.recorder
        team, app = total.attributes["team"], total.attributes["app"]
        base = (team, app, total.model, total.provider)
        if total.requests:
            recorder.inc(catalog.REQUESTS, (*base, total.operation, total.outcome, "miss"), total.requests)
        if total.input_tokens + total.output_tokens:
            for token_type, count in (("input", total.input_tokens), ("output", total.output_tokens)):
                if count:
                    recorder.inc(catalog.TOKENS, (*base, token_type), count)
            listed = self._prices.canonical(total.model)
            if listed is not None:
                price = listed.price
                cost = (total.input_tokens * price.input_per_mtok
                        + total.output_tokens * price.output_per_mtok) / PER_MILLION
                recorder.inc(catalog.COST, base, cost)
            elif total.priced_requests:
                recorder.inc(catalog.EXPORTER_UNPRICED, (total.model,), total.priced_requests)
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

    def _resolve(self, fmt: str, attributes: dict[str, str]) -> Attribution:
        if _RESOLVED not in attributes:
            return self._attributor.resolve(fmt, attributes)
        # A logged record: its attribution was resolved when it arrived. Values beyond the spec
        # go through the bound again, so the admitted set is what it was before the restart.
        bounds = self._bounds
        team, app = attributes["team"], attributes["app"]
        if team not in self._spec_teams and team not in _SENTINELS:
            team = bounds.team(team)
        if app not in self._spec_apps and app not in _SENTINELS:
            app = bounds.app(app)
        return Attribution(team, app, attributes["classification"], team in self._spec_teams)

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

    def _model(self, raw: str) -> tuple[Model | None, str]:
        """The price table's model for ``raw`` (its canonical name is the label), or none and the
        bounded raw name."""
        listed = self._prices.canonical(raw)
        return listed, listed.name if listed is not None else self._bounds.model(raw)

    def _new_route(self, shape: int, event: GatewayEvent, fmt: str) -> _Route:
        if len(self._routes) >= MAX_ROUTES:
            self._routes.clear()  # attacker-chosen values must not grow memory without bound
        bounds = self._bounds
        folds: list[str] = []
        self._folds = folds
        who = self._resolve(fmt, event.attributes)
        listed, model = self._model(event.model)
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
        logged = (
            {_RESOLVED: "1", "team": who.team, "app": who.app, "classification": who.classification},
            model, key[3], key[4], guardrails,
        )
        route = _Route(series, listed, model, who.team if who.known_team else None, tuple(folds), audit,
                       key[0], key[3], timed, logged)
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
        """The /metrics body. With a state directory, every log entry the body counts is on
        disk before it is returned, so no value Prometheus has seen can be lost by a crash."""
        with self._lock:
            self._refresh_period()
            for hook in self.before_scrape:
                hook(self.recorder, self.spec)
            self._flush_audit()
            body = self.recorder.render()
            mark = self._wal.mark() if self._wal is not None else 0
        if mark:
            try:
                self._wal.sync(mark)  # type: ignore[union-attr]
            except OSError as err:
                _throttled.error("wal-sync", "could not sync the write-ahead log in %s: %s", self._state_dir, err)
        return body

    def save(self) -> None:
        """Write a snapshot generation and drop the log it covers. The lock is held only to
        copy the state; files are written outside it."""
        with self._save_lock:
            with self._lock:
                self._flush_audit()
                if self._state is None:
                    return
                failed = self._wal.failed  # type: ignore[union-attr]
                try:
                    seq = self._wal.rotate()  # type: ignore[union-attr]
                except OSError as err:
                    log.error("could not close a write-ahead log segment in %s: %s", self._state_dir, err)
                    failed, seq = True, self._wal.last_seq  # type: ignore[union-attr]
                snapshot = StateSnapshot(
                    wal_seq=seq,
                    recorder=self.recorder.snapshot(),
                    dedupe_filling=self._dedupe.filling(),
                    dedupe_sealed=[],
                    admitted=self._bounds.admitted(),
                    first_seen=dict(self._first_seen),
                    first_success=dict(self._first_success),
                    last_event=dict(self._last_event),
                    positions=dict(self._positions),
                )
                sealed = self._dedupe.sealed()
                keep = self.spec.ingest.snapshot_generations
            try:
                generations = self._generations
                assert generations is not None
                # Sealed slices never change: each file is written once, then only named.
                for piece in sealed:
                    if piece.persisted is None:
                        piece.persisted = generations.sealed_file(piece.end, piece.content())
                        piece.appended = None  # on disk now: the table alone answers lookups
                snapshot.dedupe_sealed = [piece.persisted for piece in sealed]
                kept = generations.write(seq, encode_snapshot(snapshot), keep)
                self._wal.truncate(min(kept))  # type: ignore[union-attr]
                if failed:
                    self._wal.recovered()  # type: ignore[union-attr]
            except OSError as err:
                log.error("could not write the state snapshot to %s: %s", self._state_dir, err)
                with self._lock:
                    self.recorder.inc(catalog.EXPORTER_STATE_WRITE_FAILURES, ())

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

    def _flush_audit(self) -> None:
        # Audit lines first: the chain length a scrape exposes must already be in the files.
        if self._audit is not None:
            self._audit.flush()
            self._publish_audit()

    def close(self) -> None:
        """At shutdown, after the last ingest and the final snapshot."""
        if self._wal is not None:
            self._wal.close()

    # -- restore ----------------------------------------------------------------------------

    def _restore(self) -> tuple[dict[str, list[str]], int | None]:
        """Load the newest valid generation; returns the admitted values and the log seq to
        replay after (None without a state directory). Raises StateRefused when generations
        exist and none is valid: starting from zero would silently reset every counter."""
        self._problems = 0
        if self._state is None or self._generations is None:
            return {}, None
        paths = self._generations.paths()
        failures: list[str] = []
        for path in paths:
            try:
                snapshot, sealed = self._generations.load(path)
                self._restore_recorder(snapshot.recorder)
            except SnapshotError as err:
                failures.append(f"{path.name}: {err}")
                log.error("state snapshot %s failed validation (%s); trying an older generation", path, err)
                continue
            self._problems = len(failures)
            if failures:
                note = (f"state snapshot damaged, restored the older generation {path.name} and replayed the "
                        f"log since it: {'; '.join(failures)}")
                log.error("%s", note)
                self.state_notes.append(note)
            filling = [snapshot.dedupe_filling] if snapshot.dedupe_filling else []
            self._dedupe.load([*sealed, *filling], [*snapshot.dedupe_sealed, *[None] * len(filling)])
            self._restore_rest(snapshot.first_seen, snapshot.first_success, snapshot.last_event, snapshot.positions)
            return snapshot.admitted, snapshot.wal_seq
        if failures:
            raise StateRefused(
                f"every state snapshot in {self._state_dir} failed validation ({'; '.join(failures)}); "
                "refusing to start from zero. Move the state directory aside to start afresh, or restore it "
                "from a backup."
            )
        return self._restore_legacy(), 0

    def _restore_recorder(self, data: bytes) -> None:
        try:
            skipped = self.recorder.restore(data)
        except ValueError as err:
            raise SnapshotError(f"counters: {err}") from None
        if skipped:
            log.warning("metrics whose definition changed were not restored: %s", ", ".join(skipped))

    def _restore_rest(self, first_seen: dict[str, float], first_success: dict[str, float],
                      last_event: dict[str, float], positions: dict[str, Any]) -> None:
        self._first_seen = dict(first_seen)
        self._first_success = dict(first_success)
        self._last_event = dict(last_event)
        self._positions = dict(positions)

    def _restore_legacy(self) -> dict[str, list[str]]:
        """The single-file snapshot earlier versions wrote, carried over once."""
        assert self._state is not None
        path = self._state.directory / SNAPSHOT
        try:
            data = self._state.read()
        except OSError as err:
            raise StateRefused(f"cannot read the state snapshot {path}: {err.strerror or err}") from None
        if data is None:
            return {}
        try:
            legacy = msgspec.msgpack.decode(data, type=LegacySnapshot)
            self._restore_recorder(legacy.recorder)
        except (msgspec.DecodeError, SnapshotError) as err:
            raise StateRefused(
                f"the state snapshot {path} failed validation ({err}); refusing to start from zero. "
                "Move it aside to start afresh, or restore it from a backup."
            ) from None
        self._dedupe.load(dedupe_slices(legacy.dedupe, self._dedupe.window))
        self._restore_rest(legacy.first_seen, legacy.first_success, legacy.last_event, legacy.positions)
        log.info("carried the state snapshot of an earlier version over from %s", path)
        return legacy.admitted

    def _replay(self, after_seq: int) -> None:
        """Count the log entries the snapshot does not cover, exactly as when they arrived."""
        wal = self._wal
        assert wal is not None
        entries = 0
        records = 0
        discarded = IngestResult()  # replay answers nobody
        with self._lock:
            for entry in wal.replay(after_seq):
                position = tuple(entry.position) if entry.position else None
                events = [decode_event(fields) for fields in entry.events]
                self._ingest_chunk(events, 0, entry.fmt, entry.source,  # type: ignore[arg-type]
                                   position=position, result=discarded, logged_digests=entry.digests)
                for fields in entry.totals:
                    self._count_totals(*self._resolve_totals(Totals(*fields), entry.fmt))
                if entry.rejected or entry.duplicates or entry.ignored:
                    self._count_batch(entry.fmt, entry.source,
                                      IngestResult(0, entry.rejected, entry.duplicates, entry.ignored))
                entries += 1
                records += len(entry.events)
        if entries:
            log.info("replayed %d write-ahead log entries (%d records) after snapshot seq %d",
                     entries, records, after_seq)
        if wal.damage is not None:
            damage = wal.damage
            note = (f"write-ahead log damaged at {damage.segment.name} byte {damage.offset} ({damage.reason}); "
                    f"entries from there on were not replayed and the segment was moved aside as .damaged")
            log.error("%s", note)
            self.state_notes.append(note)
            self.recorder.inc(catalog.EXPORTER_STATE_RESTORE_PROBLEMS, ("log",))
