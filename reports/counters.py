"""Exact counter increases over a period, per series and per UTC day.

``increase()`` is unfit for money: it extrapolates to the window's edges, and it needs two
samples in the window, so a series first seen inside the period loses everything counted
before its first sample. Chargeback must add up to the records, so the increase of every series
is computed from its samples instead:

* The period is cut into windows at UTC midnights (a window ``(a, b]``; the first and last may
  be shorter). For each window and series, three instant queries at ``b`` over ``[b - a]``:
  ``last_over_time`` (value at the end), ``min_over_time`` and ``resets``.
* The baseline is the series' last sample at or before ``a`` (``last_over_time`` over the day
  before ``a``). A series without one was born inside the window and counts from 0.
* Without resets in the window, the first sample is the minimum. If it is not below the
  baseline the increase is ``end - baseline``; if it is, the counter was reset exactly at the
  window's start (an exporter restart that lost its state) and the increase is ``end``.
* With resets inside the window, the raw samples of just those series are read
  (``metric{...}[window]`` at ``b``) and the positive steps added up, a drop counting from 0.

A restart that lost the state directory is a reset that ``resets()`` (and ``increase()``)
cannot always see: a small series that grows past its old value before the next scrape shows
no drop. The exporter publishes when its counters began,
``genai_exporter_counters_start_timestamp_seconds``, restored with them, so it changes exactly
when the counters restart from 0. Per window, ``changes()`` of that gauge per ``instance`` and
``job`` (none in a backfilled history: one exporter) covers the window and the time since every
baseline sample. The series of an exporter whose start changed there are read raw over that
span, with the gauge, and a sample scraped with another start than the sample before it counts
from 0.

A record counts in the window in which the exporter's counter first shows it, i.e. the period
in which it reached the exporter (to the scrape interval at the period's edges).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from contract.catalog import EXPORTER_COUNTERS_START
from contract.promql import quoted
from reports.periods import Period
from reports.prometheus import PrometheusClient

BASELINE_LOOKBACK = 86_400.0  # a gap longer than this means a new counter, not a continued one
Key = tuple[tuple[str, str], ...]  # a series' labels, sorted, without __name__
EXPORTER = ("instance", "job")  # the labels that tell one exporter's series from another's


def windows(period: Period) -> list[tuple[date, float, float]]:
    """(UTC day, a, b) for every window of the period cut at UTC midnights."""
    out = []
    cursor = period.start
    while cursor < period.end:
        midnight = datetime(cursor.year, cursor.month, cursor.day, tzinfo=UTC) + timedelta(days=1)
        stop = min(midnight, period.end)
        out.append((cursor.date(), cursor.timestamp(), stop.timestamp()))
        cursor = stop
    return out


def _key(metric: dict[str, str]) -> Key:
    return tuple(sorted((k, v) for k, v in metric.items() if k != "__name__"))


def _vector(client: PrometheusClient, expr: str, at: float) -> dict[Key, float]:
    return {_key(r["metric"]): float(r["value"][1]) for r in client.query(expr, at)}


def _range(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def _selector(metric: str, key: Key) -> str:
    pairs = ",".join(f'{k}="{quoted(v)}"' for k, v in key)
    return f"{metric}{{{pairs}}}"


def counted_from(samples: Iterable[tuple[float, float]], baseline: float | None, after: float) -> float:
    """The increase shown by ``samples`` (time, value) later than ``after``, from ``baseline``
    (None: the counter starts at 0), a drop being a reset to 0."""
    previous = 0.0 if baseline is None else baseline
    total = 0.0
    for at, value in samples:
        if at <= after:
            continue  # the closed range of Prometheus 2 repeats the sample at the window's start
        total += value - previous if value >= previous else value
        previous = value
    return total


def counted_across(samples: Iterable[tuple[float, float]], starts: Iterable[tuple[float, float]],
                   after: float) -> float:
    """The increase shown by ``samples`` (time, value, in time order) later than ``after``, the
    last one at or before ``after`` being the baseline (none: the counter starts at 0).

    ``starts`` are the samples of the exporter's counters-start gauge: a sample scraped with
    another start than the sample before it counts from 0, as does a drop.
    """
    starts = sorted(starts)
    times = [at for at, _ in starts]
    previous: tuple[float, float | None] | None = None  # value, start
    total = 0.0
    for at, value in samples:
        i = bisect_right(times, at)
        start = starts[i - 1][1] if i else None
        if at > after:
            if previous is None:
                total += value
            else:
                before, began = previous
                restarted = start is not None and began is not None and start != began
                total += value if restarted or value < before else value - before
        previous = (value, start)
    return total


def _exporter(key: Key) -> Key:
    return tuple((k, v) for k, v in key if k in EXPORTER)


def _restarted(client: PrometheusClient, metric: str, exporter: Key, *, selector: str, since: float,
               a: float, b: float) -> dict[Key, float]:
    """Increase in ``(a, b]`` of every series of an exporter whose counters restarted after ``since``."""
    labels = dict(exporter)
    match = ",".join(f'{name}="{quoted(labels.get(name, ""))}"' for name in EXPORTER)
    span = _range(b - since)
    starts = [(float(t), float(v)) for r in client.query(f"{EXPORTER_COUNTERS_START.name}{{{match}}}[{span}]", b)
              for t, v in r["values"]]
    series = client.query(f"{metric}{{{match}{',' + selector if selector else ''}}}[{span}]", b)
    return {_key(r["metric"]): counted_across([(float(t), float(v)) for t, v in r["values"]], starts, a)
            for r in series}


def daily_increases(client: PrometheusClient, metric: str, period: Period,
                    selector: str = "") -> dict[tuple[date, Key], float]:
    """Exact increase of every series of ``metric`` in each UTC day of ``period``."""
    match = f"{metric}{{{selector}}}" if selector else metric
    out: dict[tuple[date, Key], float] = defaultdict(float)
    baseline: dict[Key, float] | None = None
    since = 0.0  # every baseline sample is at or after it
    for day, a, b in windows(period):
        span = _range(b - a)
        if baseline is None:
            baseline = _vector(client, f"last_over_time({match}[{_range(BASELINE_LOOKBACK)}])", a)
            since = a - BASELINE_LOOKBACK
        end = _vector(client, f"last_over_time({match}[{span}])", b)
        low = _vector(client, f"min_over_time({match}[{span}])", b)
        resets = _vector(client, f"resets({match}[{span}])", b)
        restarts = _vector(client, f"max by ({','.join(EXPORTER)}) "
                                   f"(changes({EXPORTER_COUNTERS_START.name}[{_range(b - since)}]))", b)
        restarted = {exporter for exporter, n in restarts.items() if n > 0}
        exact: dict[Key, float] = {}
        for exporter in restarted:
            exact.update(_restarted(client, metric, exporter, selector=selector, since=since, a=a, b=b))
        for key, last in end.items():
            before = baseline.get(key)
            if _exporter(key) in restarted:
                amount = exact.get(key, 0.0)
            elif resets.get(key, 0.0) > 0:
                raw = client.query(f"{_selector(metric, key)}[{span}]", b)
                samples = [(float(t), float(v)) for r in raw for t, v in r["values"]]
                amount = counted_from(samples, before, a)
            elif before is None or low[key] < before:
                amount = last
            else:
                amount = last - before
            if amount:
                out[(day, key)] += amount
        # A window shorter than the lookback must not forget series seen before it.
        if b - a < BASELINE_LOOKBACK:
            baseline = {**baseline, **end}
        else:
            baseline, since = end, a
    return dict(out)
