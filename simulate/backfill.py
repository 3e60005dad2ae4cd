"""History as OpenMetrics: simulated traffic over a past range, through the real pipeline.

The generated records (without their text, which the exporter never reads) go through
``exporter.pipeline.Pipeline`` in-process on a simulated clock, exactly as the live exporter
would take them from ``POST /ingest/<format>``. Every ``step`` seconds of simulated time the
value of every series ``/metrics`` would show is written with that timestamp, so
``promtool tsdb create-blocks-from openmetrics FILE DIR`` turns the file into the TSDB blocks
that scraping the exporter over the range would have produced.

What promtool 2.42 requires of the file, as checked against the real binary: every sample has a
timestamp (in seconds); a series' samples appear in increasing time order (an earlier sample
after a later one is dropped without an error); the file ends with ``# EOF``. It does not mind
samples of different families alternating, so the file is written one simulated scrape after
another, with each family's ``# HELP``/``# TYPE`` once at the top (counter families named
without ``_total``, their samples with it). promtool rereads the whole file once per block
(2 h by default), so long ranges want ``--max-block-duration``: 14 days of the example spec at
a 300 s step (2.4 GB) took it 4.5 min with 24h blocks and 1 min with 336h.

``sample_every`` N runs 1 in N records through the pipeline (the traffic is generated at
rate/N) and multiplies every counter and histogram by N: N times cheaper, the same totals and
rates in expectation, and every value a multiple of N.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import accumulate
from typing import Any, TextIO

import orjson

from contract import catalog
from contract.catalog import Metric, MetricType
from contract.promql import format_le, format_value
from contract.spec import Spec
from exporter.exposition import escape_help, escape_label_value
from exporter.histogram import HistogramValue
from exporter.periods import month_bounds
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from simulate.traffic import SimRecord, generate

SOURCE = "http"            # what the exporter's HTTP ingest labels its records with
BATCH = 256                # records per ingest call, as a gateway logger would batch them
BATCH_SPAN = 1.0           # seconds of traffic per batch at most, like the loggers' flush interval
_HELP_QUOTE = str.maketrans({'"': '\\"'})  # OpenMetrics escapes quotes in HELP too


@dataclass(frozen=True, slots=True)
class BackfillSummary:
    records: int       # records run through the pipeline
    scrapes: int       # timestamps written
    samples: int       # sample lines written
    series: int        # series at the last timestamp


def family_name(metric: Metric) -> str:
    """The OpenMetrics family name: counters drop ``_total``, which their samples keep."""
    if metric.type is MetricType.COUNTER:
        return metric.name.removesuffix("_total")
    return metric.name


def header(families: Sequence[Metric] = catalog.CATALOG) -> str:
    lines = []
    for metric in families:
        name = family_name(metric)
        lines.append(f"# HELP {name} {escape_help(metric.help).translate(_HELP_QUOTE)}\n")
        lines.append(f"# TYPE {name} {metric.type}\n")
    return "".join(lines)


def backfill(
    spec: Spec,
    scenario: str,
    out: TextIO,
    *,
    start: float,
    end: float,
    rate: float,
    step: float = 60.0,
    seed: int = 1,
    incident_after: float = 0.0,
    diurnal: bool = False,
    sample_every: int = 1,
    progress: Callable[[float], None] | None = None,
    families: Sequence[Metric] = catalog.CATALOG,
) -> BackfillSummary:
    """Write the OpenMetrics history of ``scenario`` from ``start`` to ``end`` (unix seconds) to ``out``;
    only ``families`` (default: every metric) when a consumer reads just a few."""
    if end <= start:
        raise ValueError("end must be after start")
    if step <= 0 or sample_every < 1:
        raise ValueError("step must be positive and sample_every at least 1")
    clock = _Clock(start)
    recorder = Recorder(max_series_per_metric=spec.ingest.cardinality.max_series_per_metric, clock=clock)
    pipeline = Pipeline(spec, recorder=recorder, clock=clock)
    records = generate(spec, scenario, start=start, duration=end - start, rate=rate / sample_every, seed=seed,
                       incident_after=incident_after, diurnal=diurnal, text=False)
    writer = _Writer(out, float(sample_every), families)
    out.write(header(families))
    count = 0
    scrapes = 0
    month = month_bounds(start)
    for at, batch in _batches(records, start, end, step):
        if batch:
            clock.now = batch[-1][0].at
            by_format: dict[str, list[bytes]] = {}
            for record, raw in batch:
                by_format.setdefault(record.fmt, []).append(raw)
            for fmt, raws in by_format.items():
                pipeline.ingest(raws, fmt, SOURCE)
            count += len(batch)
            continue
        clock.now = at
        if not month[0] <= at < month[1]:
            month = month_bounds(at)
            pipeline.scrape()  # the budget period gauges roll over on a scrape, as live
        pipeline.read(partial(writer.scrape, at=at))
        scrapes += 1
        if progress is not None:
            progress((at - start) / (end - start))
    out.write("# EOF\n")
    return BackfillSummary(count, scrapes, writer.samples, writer.last_series)


class _Clock:
    """The simulated time the pipeline and recorder read."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _batches(records: Iterator[SimRecord], start: float, end: float,
             step: float) -> Iterator[tuple[float, list[tuple[SimRecord, bytes]]]]:
    """(scrape time, []) at every step from ``start`` to ``end`` and (time, batch) between them,
    in time order. A batch never spans a scrape, holds at most BATCH records and BATCH_SPAN seconds.
    """
    k = 0
    due = start
    batch: list[tuple[SimRecord, bytes]] = []
    for record in records:
        while record.at >= due or (batch and (len(batch) >= BATCH or record.at - batch[0][0].at > BATCH_SPAN)):
            if batch:
                yield batch[-1][0].at, batch
                batch = []
                continue
            yield due, []
            k += 1
            due = start + k * step
        batch.append((record, orjson.dumps(record.payload)))
    if batch:
        yield batch[-1][0].at, batch
    while due <= end:
        yield due, []
        k += 1
        due = start + k * step


class _Writer:
    """Formats one scrape of every series, with label strings built once per series."""

    def __init__(self, out: TextIO, scale: float, families: Sequence[Metric]) -> None:
        self._out = out
        self._scale = scale
        self._families = families
        self._prefixes: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.samples = 0
        self.last_series = 0

    def scrape(self, recorder: Recorder, at: float) -> None:
        ts = str(int(at)) if at == int(at) else repr(at)
        lines: list[str] = []
        add = lines.append
        scale = self._scale
        series = 0
        for metric in self._families:
            counted = metric.type is not MetricType.GAUGE
            factor = scale if counted else 1.0
            for key, value in recorder.series(metric):
                series += 1
                prefix = self._prefix(metric, key)
                if isinstance(value, HistogramValue):
                    bucket_prefixes, sum_prefix, count_prefix = prefix
                    for bucket, total in zip(bucket_prefixes, accumulate(value.bucket_counts), strict=True):
                        add(f"{bucket}{_number(total * factor)} {ts}\n")
                    add(f"{count_prefix}{_number(value.count * factor)} {ts}\n")
                    add(f"{sum_prefix}{_number(value.sum * factor)} {ts}\n")
                else:
                    add(f"{prefix}{_number(value * factor)} {ts}\n")
        self._out.write("".join(lines))
        self.samples += len(lines)
        self.last_series = series

    def _prefix(self, metric: Metric, key: tuple[str, ...]) -> Any:
        cache_key = (metric.name, key)
        prefix = self._prefixes.get(cache_key)
        if prefix is not None:
            return prefix
        pairs = ",".join(f'{n}="{escape_label_value(v)}"' for n, v in zip(metric.labels, key, strict=True))
        if metric.type is MetricType.HISTOGRAM:
            sep = "," if pairs else ""
            les = [format_le(b) for b in metric.buckets] + ["+Inf"]
            braces = f"{{{pairs}}}" if pairs else ""
            prefix = (
                tuple(f'{metric.name}_bucket{{{pairs}{sep}le="{le}"}} ' for le in les),
                f"{metric.name}_sum{braces} ",
                f"{metric.name}_count{braces} ",
            )
        else:
            prefix = f"{metric.name}{{{pairs}}} " if pairs else f"{metric.name} "
        self._prefixes[cache_key] = prefix
        return prefix


def _number(value: float) -> str:
    if not math.isfinite(value):
        return format_value(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
