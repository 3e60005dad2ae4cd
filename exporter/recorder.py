"""In-memory metric state behind /metrics, state snapshots and the OTLP sink.

Every number lives in one flat ``array('d')``: a series owns a block of slots (one for a
counter; bucket counts, +Inf and sum for a histogram; cost and the four token types for the
combined cost/token family). A family maps a label tuple to its block's first slot, so a series
costs a dict entry, its label tuple and 8 bytes per slot: no per-series object.

``record()`` keeps, per request label set, a "cell": the first slots of every series that such
a request updates. An event costs one dict lookup and a handful of ``array`` increments. The
requests family maps its label tuples to cells directly, so one dict serves the hot path and
the exposition.

Readers (``render``, ``series``, ``snapshot``) copy a family's items before walking them
(atomic under the GIL) and a series' slots exist before it is published, so a reader in
another thread sees a consistent exposition without a lock on the hot path (the pipeline
serialises them anyway).
"""

from __future__ import annotations

import math
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate, repeat
from typing import Any

from contract import catalog as c
from contract.catalog import Metric, MetricType
from contract.promql import format_value
from exporter import exposition as x
from exporter.event import GatewayEvent, Measured
from exporter.histogram import TOKEN_USAGE_BUCKETS, HistogramValue
from exporter.recorder_snapshot import FamilyState, GaugeState, RecorderState, decode, encode

__all__ = [
    "SERIES_CAP_LABEL", "TOKEN_USAGE", "TOKEN_USAGE_BUCKETS", "HistogramValue", "Recorder", "Route", "observed",
]

# genai_exporter_label_overflow_total{label=...} for label sets folded by the series cap.
SERIES_CAP_LABEL = "__series_cap__"
# The internal histogram behind OTLP gen_ai.client.token.usage; never exposed on /metrics.
TOKEN_USAGE = "gen_ai.client.token.usage"
_TOKEN_USAGE_LABELS = ("operation", "provider", "model", "token_type")

_INF = math.inf
# Labels with a fixed vocabulary keep their value when the cap folds a series, so a folded
# request still counts as an error or a cache hit, and tokens never mix types.
_VOCABULARY: dict[str, frozenset[str]] = {
    "outcome": frozenset(c.OUTCOMES),
    "cache": frozenset(("hit", "miss")),
    "type": frozenset(c.TOKEN_TYPES),
    "stage": frozenset(c.GUARDRAIL_STAGES),
    "result": frozenset((*c.GUARDRAIL_RESULTS, *c.EVENT_RESULTS, "success", "failure")),
    "policy": frozenset(c.POLICIES),
    "reason": frozenset(c.OTLP_REFUSALS),
}

# The cost/token family: one block per (team, app, model, provider).
_BASE_LABELS = ("team", "app", "model", "provider")
_COST, _INPUT, _OUTPUT, _CACHED, _REASONING = range(5)
_TOKEN_OFFSET = {"input": _INPUT, "output": _OUTPUT, "cached_input": _CACHED, "reasoning": _REASONING}

# A cell: first slots of one request label set's series; -1 until first needed, so a series
# only appears once something was observed in it.
_REQ, _BASE, _SAVED, _DUR, _TTFT, _PROMPT, _TU_IN, _TU_OUT = range(8)

_DUR_BOUNDS = c.REQUEST_DURATION.buckets
_TTFT_BOUNDS = c.TIME_TO_FIRST_TOKEN.buckets
_PROMPT_BOUNDS = c.PROMPT_TOKENS.buckets
# Offsets of the sum slot (after the bucket counts and +Inf).
_DUR_SUM = len(_DUR_BOUNDS) + 1
_TTFT_SUM = len(_TTFT_BOUNDS) + 1
_PROMPT_SUM = len(_PROMPT_BOUNDS) + 1
_TU_SUM = len(TOKEN_USAGE_BUCKETS) + 1


# A route: the slots one kind of request updates, resolved by ``Recorder.route`` and counted by
# ``Recorder.count``. A plain tuple whose ints are the cell's own objects: about 150 bytes.
# (req, base, saved, dur, ttft, prompt, tu_in, tu_out, guardrail slots, entity slots, policy slots);
# -1 for a series the kind of request does not feed.
Route = tuple[int, int, int, int, int, int, int, int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def observed(ev: GatewayEvent) -> tuple[bool, bool, bool, bool]:
    """Which optional series a request feeds (duration, TTFT, input and output tokens): routes
    differ by it, since a series appears only once something was observed in it."""
    return ev.duration_seconds is not None, ev.ttft_seconds is not None, ev.input_tokens > 0, ev.output_tokens > 0


class _Family:
    """The series of one metric (or of cost and tokens together): label tuple -> first slot.

    With ``cells`` (the requests family) the index maps to cells, whose first entry is the slot.
    """

    __slots__ = ("buckets", "capped", "cells", "escaped", "folded", "index", "keep", "labels", "name",
                 "regular", "width")

    def __init__(self, name: str, labels: tuple[str, ...], *, width: int = 1, buckets: tuple[float, ...] = (),
                 capped: bool = True, cells: bool = False) -> None:
        self.name, self.labels, self.buckets = name, labels, buckets
        self.width = len(buckets) + 2 if buckets else width
        self.capped, self.cells = capped, cells
        self.keep = tuple(_VOCABULARY.get(label) for label in labels)
        self.index: dict[tuple[str, ...], Any] = {}
        # Label tuples whose values need escaping, with the escaped values (rare, so kept aside).
        self.escaped: dict[tuple[str, ...], tuple[str, ...]] = {}
        # Label sets the cap folded, memoised to their overflow slot (or cell), counted once.
        self.folded: dict[tuple[str, ...], Any] = {}
        # Series other than overflow series: what the cap counts.
        self.regular = 0

    def overflow_key(self, key: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v if keep is not None and v in keep else c.OTHER for v, keep in zip(key, self.keep, strict=True))

    def slots(self) -> list[tuple[tuple[str, ...], int]]:
        """(label tuple, first slot) of every series, copied."""
        items = list(self.index.items())
        return [(k, cell[_REQ]) for k, cell in items] if self.cells else items


class Recorder:
    """All metric state of one exporter process."""

    def __init__(self, *, max_series_per_metric: int = 50_000, token_usage_histogram: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        if max_series_per_metric < 1:
            raise ValueError("max_series_per_metric must be at least 1")
        self._cap = max_series_per_metric
        self._token_usage = token_usage_histogram
        self._start = clock()
        self._v = array("d")
        self._cell_size = _TU_OUT + 1 if token_usage_histogram else _PROMPT + 1
        # Folded label sets only pile up when bounding upstream failed; keep even that bounded.
        self._fold_memo_limit = max(max_series_per_metric, 10_000)
        self._families: dict[str, _Family] = {}
        self._gauges: dict[str, dict[tuple[str, ...], float]] = {}
        for metric in c.CATALOG:
            if metric is c.TOKENS or metric is c.COST:
                continue
            if metric.type is MetricType.GAUGE:
                self._gauges[metric.name] = {}
            else:
                self._families[metric.name] = _Family(
                    metric.name, metric.labels, buckets=metric.buckets,
                    capped=metric is not c.EXPORTER_LABEL_OVERFLOW, cells=metric is c.REQUESTS,
                )
        fams = self._families
        self._base = fams["cost+tokens"] = _Family("cost+tokens", _BASE_LABELS, width=5)
        self._token_fam = fams[TOKEN_USAGE] = _Family(TOKEN_USAGE, _TOKEN_USAGE_LABELS, buckets=TOKEN_USAGE_BUCKETS)
        self._req = fams[c.REQUESTS.name]
        self._saved = fams[c.CACHE_SAVED.name]
        self._dur = fams[c.REQUEST_DURATION.name]
        self._ttft = fams[c.TIME_TO_FIRST_TOKEN.name]
        self._prompt = fams[c.PROMPT_TOKENS.name]
        self._guard = fams[c.GUARDRAIL_EVALUATIONS.name]
        self._entity = fams[c.SENSITIVE_ENTITIES.name]
        self._policy = fams[c.POLICY_VIOLATIONS.name]
        self._overflow = fams[c.EXPORTER_LABEL_OVERFLOW.name]

    # -- writing ---------------------------------------------------------------------------------

    def record(self, m: Measured) -> None:
        """Count one accepted event.

        Raises ValueError, having changed nothing, when an amount is negative or not finite.
        """
        ev = m.event
        cost = m.cost_usd
        duration = ev.duration_seconds
        ttft = ev.ttft_seconds
        if (not 0.0 <= cost < _INF
                or (ev.input_tokens | ev.output_tokens | ev.cached_input_tokens | ev.reasoning_tokens) < 0
                or (duration is not None and not 0.0 <= duration < _INF)
                or (ttft is not None and not 0.0 <= ttft < _INF)
                or (ev.cache_hit and not 0.0 <= m.cache_saved_usd < _INF)
                or (m.entities and min(n for _, n in m.entities) < 0)):
            raise ValueError(f"event {ev.id!r}: amounts must be finite and not negative")
        entities = tuple(entity for entity, count in m.entities if count)
        key = (m.team, m.app, m.model, m.provider, m.operation, ev.outcome, "hit" if ev.cache_hit else "miss")
        # One-off route: callers on a hot path keep routes themselves (the pipeline does).
        route = self.route(key, observed(ev), guardrails=m.guardrails, entities=entities, violations=m.violations)
        self.count(route, ev, cost, m.cache_saved_usd, [n for _, n in m.entities if n])

    def route(self, key: tuple[str, ...], feeds: tuple[bool, bool, bool, bool], *,
              guardrails: tuple[tuple[str, str, str], ...] = (), entities: tuple[str, ...] = (),
              violations: tuple[str, ...] = ()) -> Route:
        """The series a kind of request updates, resolved once. ``key`` is its (bounded) label
        set on genai_requests_total: (team, app, model, provider, operation, outcome, cache);
        ``feeds`` is ``observed(event)`` for its events.

        The pipeline keeps routes for the kinds of request it sees, so counting one costs array
        increments and no label lookups. A route stays valid for the recorder's lifetime.
        """
        team, app = key[0], key[1]
        cell = self._req.index.get(key)
        if cell is None:
            cell = self._cell(key)
        duration, ttft, input_tokens, output_tokens = feeds
        token_usage = self._token_usage
        return (
            cell[_REQ],
            cell[_BASE],
            cell[_SAVED],
            self._slot(cell, _DUR, key) if duration else -1,
            self._slot(cell, _TTFT, key) if ttft else -1,
            self._slot(cell, _PROMPT, key) if input_tokens else -1,
            self._slot(cell, _TU_IN, key) if token_usage and input_tokens else -1,
            self._slot(cell, _TU_OUT, key) if token_usage and output_tokens else -1,
            tuple(self._series(self._guard, (team, app, g, stage, result)) for g, stage, result in guardrails),
            tuple(self._series(self._entity, (team, app, entity)) for entity in entities),
            tuple(self._series(self._policy, (team, app, policy)) for policy in violations),
        )

    def count(self, route: Route, ev: GatewayEvent, cost: float, cache_saved: float,
              entity_counts: Iterable[int] = ()) -> None:
        """Count one request on its route: the hot path, once per record. Amounts are the
        adapters' checked numbers; ``entity_counts`` line up with the route's entity names."""
        req, base, saved, dur, ttft, prompt, tu_in, tu_out, guardrails, entities, violations = route
        v = self._v
        v[req] += 1.0
        v[base] += cost
        n = ev.input_tokens
        if n:
            v[base + _INPUT] += n
            v[prompt + bisect_left(_PROMPT_BOUNDS, n)] += 1.0
            v[prompt + _PROMPT_SUM] += n
            if tu_in >= 0:
                v[tu_in + bisect_left(TOKEN_USAGE_BUCKETS, n)] += 1.0
                v[tu_in + _TU_SUM] += n
        n = ev.output_tokens
        if n:
            v[base + _OUTPUT] += n
            if tu_out >= 0:
                v[tu_out + bisect_left(TOKEN_USAGE_BUCKETS, n)] += 1.0
                v[tu_out + _TU_SUM] += n
        n = ev.cached_input_tokens
        if n:
            v[base + _CACHED] += n
        n = ev.reasoning_tokens
        if n:
            v[base + _REASONING] += n
        if saved >= 0:
            v[saved] += cache_saved
        # A route has duration and TTFT slots only for shapes whose event carries them (not None).
        if dur >= 0:
            seconds: float = ev.duration_seconds  # type: ignore[assignment]
            v[dur + bisect_left(_DUR_BOUNDS, seconds)] += 1.0
            v[dur + _DUR_SUM] += seconds
        if ttft >= 0:
            seconds = ev.ttft_seconds  # type: ignore[assignment]
            v[ttft + bisect_left(_TTFT_BOUNDS, seconds)] += 1.0
            v[ttft + _TTFT_SUM] += seconds
        for i in guardrails:
            v[i] += 1.0
        if entities:
            for i, amount in zip(entities, entity_counts, strict=False):
                v[i] += amount
        for i in violations:
            v[i] += 1.0

    def _slot(self, cell: list[int], position: int, key: tuple[str, ...]) -> int:
        slot = cell[position]
        return slot if slot >= 0 else self._resolve(cell, position, key)

    def _cell(self, key: tuple[str, ...]) -> list[int]:
        """The cell of a request label set that the requests family does not hold (yet)."""
        family = self._req
        cell: list[int] | None = family.folded.get(key)
        if cell is not None:
            return cell
        # Below the cap (the common case) no overflow key is needed; a series whose labels happen
        # to be the overflow's counts as a regular one, so the cap may hold one series early.
        overflow = family.overflow_key(key) if family.regular >= self._cap else key
        folded = key != overflow
        if folded:
            request_slot = (family.index.get(overflow) or self._cell(overflow))[_REQ]
        else:
            request_slot = self._alloc(family, key)
        cell = self._new_cell(key, request_slot)
        if folded:
            self._memo_fold(family, key, cell)
        else:
            family.index[key] = cell  # published only now that every slot it names exists
            family.regular += 1
        return cell

    def _new_cell(self, key: tuple[str, ...], request_slot: int) -> list[int]:
        team, app, model, provider, _operation, _outcome, cache = key
        cell = [-1] * self._cell_size
        cell[_REQ] = request_slot
        cell[_BASE] = self._series(self._base, (team, app, model, provider))
        if cache == "hit":
            cell[_SAVED] = self._series(self._saved, (team, app, model))
        return cell

    def _resolve(self, cell: list[int], position: int, key: tuple[str, ...]) -> int:
        team, _app, model, provider, operation, outcome, _cache = key
        if position == _DUR:
            slot = self._series(self._dur, (team, model, provider, operation, outcome))
        elif position == _TTFT:
            slot = self._series(self._ttft, (team, model, provider))
        elif position == _PROMPT:
            slot = self._series(self._prompt, (team, model))
        else:
            token_type = "input" if position == _TU_IN else "output"
            slot = self._series(self._token_fam, (operation, provider, model, token_type))
        cell[position] = slot
        return slot

    def _series(self, family: _Family, key: tuple[str, ...]) -> int:
        """The first slot of ``key``'s series, creating it, or folding it when the cap is reached."""
        slot: int | None = family.index.get(key)
        if slot is not None:
            return slot
        folded: int | None = family.folded.get(key)
        if folded is not None:
            return folded
        if not family.capped or family.regular < self._cap or key == family.overflow_key(key):
            slot = self._alloc(family, key)
            family.index[key] = slot  # published only now that its slots exist
            family.regular += 1
            return slot
        overflow = family.overflow_key(key)
        slot = self._series(family, overflow)
        self._memo_fold(family, key, slot)
        return slot

    def _memo_fold(self, family: _Family, key: tuple[str, ...], target: Any) -> None:
        if len(family.folded) >= self._fold_memo_limit:
            family.folded.clear()
        family.folded[key] = target
        self._v[self._series(self._overflow, (SERIES_CAP_LABEL,))] += 1.0

    def _alloc(self, family: _Family, key: tuple[str, ...]) -> int:
        if x.needs_escaping(key):
            family.escaped[key] = tuple(map(x.escape_label_value, key))
        slot = len(self._v)
        self._v.extend(repeat(0.0, family.width))
        return slot

    def inc(self, metric: Metric, labels: tuple[str, ...], amount: float = 1.0) -> None:
        """Add ``amount`` (finite, >= 0) to a catalog counter."""
        if not 0.0 <= amount < _INF:
            raise ValueError(f"{metric.name}: counter increments must be finite and >= 0, got {amount!r}")
        _check(metric, labels, MetricType.COUNTER)
        if metric.name == c.TOKENS.name:
            offset = _TOKEN_OFFSET.get(labels[-1])
            if offset is None:
                raise ValueError(f"{metric.name}: type must be one of {c.TOKEN_TYPES}, got {labels[-1]!r}")
            slot = self._series(self._base, labels[:-1]) + offset
        elif metric.name == c.COST.name:
            slot = self._series(self._base, labels) + _COST
        elif metric.name == c.REQUESTS.name:
            slot = (self._req.index.get(labels) or self._cell(labels))[_REQ]
        else:
            slot = self._series(self._families[metric.name], labels)
        self._v[slot] += amount

    def counter_slot(self, metric: Metric, labels: tuple[str, ...]) -> int:
        """Where one series of a plain catalog counter lives, for a caller that adds to it per
        record (``add``) instead of paying ``inc``'s checks and lookups every time."""
        _check(metric, labels, MetricType.COUNTER)
        if metric in (c.TOKENS, c.COST, c.REQUESTS):
            raise ValueError(f"{metric.name} is counted through routes, not slots")
        return self._series(self._families[metric.name], labels)

    def add(self, slot: int, amount: float) -> None:
        """Add ``amount`` (the caller checked it: finite, >= 0) at a ``counter_slot``."""
        self._v[slot] += amount

    def set(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        """Set one gauge series (gauges are not capped: their label values come from the spec)."""
        _check(metric, labels, MetricType.GAUGE)
        self._gauges[metric.name][labels] = float(value)

    def replace_gauge(self, metric: Metric, values: dict[tuple[str, ...], float]) -> None:
        """Replace every series of a gauge: a series missing from ``values`` disappears."""
        for labels in values:
            _check(metric, labels, MetricType.GAUGE)
        self._gauges[metric.name] = {labels: float(value) for labels, value in values.items()}

    # -- reading ---------------------------------------------------------------------------------

    @property
    def start_time(self) -> float:
        """When counting began (carried over by ``restore``): the OTLP cumulative start time."""
        return self._start

    def render(self) -> bytes:
        """Every catalog metric that has series, in text exposition format 0.0.4."""
        out: list[str] = []
        for metric in c.CATALOG:
            if metric.type is MetricType.GAUGE:
                lines = self._gauge_lines(metric)
            elif metric is c.TOKENS:
                lines = self._token_lines()
            elif metric is c.COST:
                lines = self._counter_lines(metric, self._base)
            elif metric.type is MetricType.HISTOGRAM:
                lines = self._histogram_lines(metric, self._families[metric.name])
            else:
                lines = self._counter_lines(metric, self._families[metric.name])
            if lines:
                out.append(x.header(metric))
                out += lines
        return "".join(out).encode()

    def _counter_lines(self, metric: Metric, family: _Family) -> list[str]:
        template = x.sample_template(metric.name, metric.labels)
        v = self._v
        items = family.slots()
        if family.escaped:
            escaped = family.escaped
            return [template % (*escaped.get(k, k), v[i]) for k, i in items]
        return [template % (*k, v[i]) for k, i in items]

    def _token_lines(self) -> list[str]:
        name, labels = c.TOKENS.name, _BASE_LABELS
        t_in, t_out, t_cached, t_reasoning = (
            x.sample_template(name, labels, (("type", t),)) for t in ("input", "output", "cached_input", "reasoning"))
        v = self._v
        escaped = self._base.escaped
        lines: list[str] = []
        add = lines.append
        for key, i in self._base.slots():
            k = escaped.get(key, key) if escaped else key
            add(t_in % (*k, v[i + _INPUT]))
            add(t_out % (*k, v[i + _OUTPUT]))
            # cached_input and reasoning series are born with their first non-zero increment.
            n = v[i + _CACHED]
            if n:
                add(t_cached % (*k, n))
            n = v[i + _REASONING]
            if n:
                add(t_reasoning % (*k, n))
        return lines

    def _histogram_lines(self, metric: Metric, family: _Family) -> list[str]:
        template = x.histogram_template(metric)
        labels = x.labels_template(metric.labels)
        n = len(metric.buckets) + 1
        v = self._v
        escaped = family.escaped
        args: list[Any] = [""] * (2 * n + 4)
        lines: list[str] = []
        add = lines.append
        for key, i in family.slots():
            text = labels % (escaped.get(key, key) if escaped else key)
            counts = list(accumulate(v[i:i + n]))
            braced = f"{{{text}}}" if text else ""
            args[0:2 * n:2] = repeat(f"{text}," if text else "", n)
            args[1:2 * n:2] = counts
            args[2 * n:] = (braced, v[i + n], braced, counts[-1])
            add(template % tuple(args))
        return lines

    def _gauge_lines(self, metric: Metric) -> list[str]:
        template = x.sample_template(metric.name, metric.labels)
        return [
            template % (*(map(x.escape_label_value, k) if x.needs_escaping(k) else k), format_value(value))
            for k, value in list(self._gauges[metric.name].items())
        ]

    def line_count(self) -> int:
        """Sample lines ``render()`` would expose now."""
        total = 0
        v = self._v
        for metric in c.CATALOG:
            if metric.type is MetricType.GAUGE:
                total += len(self._gauges[metric.name])
            elif metric is c.TOKENS:
                for _, i in self._base.slots():
                    total += 2 + (v[i + _CACHED] > 0) + (v[i + _REASONING] > 0)
            elif metric is c.COST:
                total += len(self._base.index)
            elif metric.type is MetricType.HISTOGRAM:
                total += len(self._families[metric.name].index) * (len(metric.buckets) + 3)
            else:
                total += len(self._families[metric.name].index)
        return total

    def series(self, metric: Metric) -> Iterator[tuple[tuple[str, ...], float | HistogramValue]]:
        """Every series of a catalog metric with its value; histograms as HistogramValue."""
        if metric.name not in c.BY_NAME:
            raise ValueError(f"{metric.name} is not a catalog metric")
        v = self._v
        if metric.type is MetricType.GAUGE:
            yield from list(self._gauges[metric.name].items())
        elif metric.name == c.TOKENS.name:
            for k, i in self._base.slots():
                for token_type, offset in _TOKEN_OFFSET.items():
                    value = v[i + offset]
                    if value or offset in (_INPUT, _OUTPUT):
                        yield (*k, token_type), value
        elif metric.name == c.COST.name:
            for k, i in self._base.slots():
                yield k, v[i + _COST]
        elif metric.type is MetricType.HISTOGRAM:
            yield from self._histogram_values(self._families[metric.name])
        else:
            for k, i in self._families[metric.name].slots():
                yield k, v[i]

    def token_usage(self) -> Iterator[tuple[tuple[str, ...], HistogramValue]]:
        """The internal gen_ai.client.token.usage histogram, keyed (operation, provider, model,
        token_type); empty unless the recorder was made with ``token_usage_histogram=True``."""
        yield from self._histogram_values(self._token_fam)

    def _histogram_values(self, family: _Family) -> Iterator[tuple[tuple[str, ...], HistogramValue]]:
        n = len(family.buckets) + 1
        v = self._v
        for k, i in family.slots():
            counts = tuple(v[i:i + n])
            yield k, HistogramValue(counts, v[i + n], sum(counts))

    # -- persistence -----------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Everything needed to restore this state exactly; see ``restore``."""
        families = [(f, f.slots()) for f in self._families.values()]
        gauges = [(name, list(series.items())) for name, series in self._gauges.items()]
        values = self._v.tobytes()  # after the indexes: every slot they name is already there
        return encode(RecorderState(
            start_time=self._start,
            values=values,
            families=[
                FamilyState(name=f.name, labels=f.labels, buckets=f.buckets, width=f.width,
                            keys=[k for k, _ in items], slots=[i for _, i in items])
                for f, items in families if items
            ],
            gauges=[
                GaugeState(name=name, labels=c.BY_NAME[name].labels, keys=[k for k, _ in items],
                           values=[value for _, value in items])
                for name, items in gauges if items
            ],
        ))

    def restore(self, data: bytes) -> tuple[str, ...]:
        """Load a ``snapshot()`` into this fresh recorder; ``render()`` is then byte-identical.

        Raises ValueError on corrupt or inconsistent data, loading nothing. A metric whose
        definition changed since the snapshot (labels, buckets) cannot be restored exactly: it
        is left out and its name returned, so an upgrade keeps every other counter.
        """
        if self._v or any(self._gauges.values()):
            raise RuntimeError("restore() needs a fresh Recorder")
        state = decode(data)
        if not math.isfinite(state.start_time):
            raise ValueError("recorder snapshot: start_time is not a finite number")
        old = array("d", state.values)
        new = array("d")
        strings: dict[str, str] = {}  # one copy of each label value, however many series use it
        skipped: list[str] = []
        indexes: list[tuple[_Family, dict[tuple[str, ...], int]]] = []
        for fs in state.families:
            family = self._families.get(fs.name)
            if family is None or family.labels != fs.labels or family.buckets != fs.buckets:
                skipped.append(fs.name)
                continue
            if fs.width != family.width or len(fs.keys) != len(fs.slots):
                raise ValueError(f"recorder snapshot: {fs.name} is inconsistent")
            index: dict[tuple[str, ...], int] = {}
            for raw, slot in zip(fs.keys, fs.slots, strict=True):
                if len(raw) != len(family.labels) or not 0 <= slot <= len(old) - family.width:
                    raise ValueError(f"recorder snapshot: {fs.name} has a bad series {raw!r}")
                key = tuple(strings.setdefault(s, s) for s in raw)
                if key in index:
                    raise ValueError(f"recorder snapshot: {fs.name} repeats the series {key!r}")
                index[key] = len(new)
                new.extend(old[slot:slot + family.width])
            indexes.append((family, index))
        if not all(0.0 <= value < _INF for value in new):
            raise ValueError("recorder snapshot: a counter or histogram value is negative or not finite")
        gauges: dict[str, dict[tuple[str, ...], float]] = {}
        for gs in state.gauges:
            metric = c.BY_NAME.get(gs.name)
            if metric is None or metric.type is not MetricType.GAUGE or metric.labels != gs.labels:
                skipped.append(gs.name)
                continue
            if len(gs.keys) != len(gs.values) or any(len(k) != len(metric.labels) for k in gs.keys):
                raise ValueError(f"recorder snapshot: {gs.name} is inconsistent")
            if not all(math.isfinite(value) for value in gs.values):
                raise ValueError(f"recorder snapshot: {gs.name} holds a value that is not finite")
            gauges[gs.name] = {
                tuple(strings.setdefault(s, s) for s in k): value for k, value in zip(gs.keys, gs.values, strict=True)
            }
        self._start = state.start_time
        self._v = new
        for family, index in indexes:
            family.escaped = {k: tuple(map(x.escape_label_value, k)) for k in index if x.needs_escaping(k)}
            family.regular = sum(1 for k in index if k != family.overflow_key(k))
            if not family.cells:
                family.index = index
        for family, index in indexes:  # cells name the other families' slots: those come first
            if family.cells:
                family.index = {key: self._new_cell(key, slot) for key, slot in index.items()}
        self._gauges.update(gauges)
        return tuple(skipped)


def _check(metric: Metric, labels: tuple[str, ...], kind: MetricType) -> None:
    known = c.BY_NAME.get(metric.name)
    if known is None or (known is not metric and known != metric):
        raise ValueError(f"{metric.name} is not the catalog's metric of that name")
    if metric.type is not kind:
        raise ValueError(f"{metric.name} is a {metric.type}, not a {kind}")
    if len(labels) != len(metric.labels) or not all(type(v) is str for v in labels):
        raise ValueError(f"{metric.name} takes string values for {metric.labels}, got {labels!r}")
