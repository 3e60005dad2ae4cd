"""OTLP metrics built from the recorder's cumulative state, named after the OpenTelemetry GenAI
semantic conventions.

The exporter already aggregates every request into its own series, so OTLP is a second view of
that state rather than a second instrumentation: no per-record SDK call (8-9 us each) and no
SDK cardinality cap folding attribute sets silently. ``copy_state`` runs under the pipeline's
lock and only copies; ``build_request`` turns the copy into an ``ExportMetricsServiceRequest``
outside it.

Mapping: catalog labels become ``gen_ai.*`` attributes where the conventions name one, and
``gatewatch.*`` attributes where they do not (team, app, outcome, cache). The conventions define
no cost or request-count metric, so those live under the ``gatewatch.gen_ai`` namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
)

from contract import catalog
from exporter.histogram import TOKEN_USAGE_BUCKETS, HistogramValue

if TYPE_CHECKING:
    from exporter.recorder import Recorder

SCOPE_NAME = "gatewatch.exporter"

# Semantic-convention attribute keys.
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"

_CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
_SUCCESS = "success"

Labels = tuple[str, ...]
Series = list[tuple[Labels, float | HistogramValue]]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One OTLP metric and where its data points come from.

    ``source`` names the catalog metric read with ``Recorder.series``; ``None`` means the
    recorder's internal token-usage histogram, whose key is (operation, provider, model, type).
    ``attributes`` maps each source label, by name, to its attribute key; a label mapped to
    ``error.type`` is left out for successful requests, as the conventions ask.
    """

    name: str
    kind: Literal["histogram", "sum"]
    unit: str
    description: str
    source: catalog.Metric | None
    attributes: tuple[tuple[str, str], ...]
    integer: bool = False


_TOKEN_USAGE_LABELS = ("operation", "provider", "model", "type")

INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(
        "gen_ai.client.token.usage", "histogram", "{token}",
        "Number of input and output tokens used.",
        None,
        (("operation", OPERATION), ("provider", PROVIDER), ("model", REQUEST_MODEL), ("type", TOKEN_TYPE)),
    ),
    Instrument(
        "gen_ai.client.operation.duration", "histogram", "s",
        "GenAI operation duration, as the gateway measured it.",
        catalog.REQUEST_DURATION,
        (
            ("operation", OPERATION), ("provider", PROVIDER), ("model", REQUEST_MODEL),
            ("outcome", ERROR_TYPE), ("team", "gatewatch.team"),
        ),
    ),
    # The gateway is the provider's client, and the conventions (1.38 on) name the client-side
    # streaming measurement time_to_first_chunk; gen_ai.server.time_to_first_token is for model
    # servers measuring their own generation.
    Instrument(
        "gen_ai.client.operation.time_to_first_chunk", "histogram", "s",
        "Time from the gateway issuing the request to the first chunk of the streamed response.",
        catalog.TIME_TO_FIRST_TOKEN,
        (("provider", PROVIDER), ("model", REQUEST_MODEL), ("team", "gatewatch.team")),
    ),
    Instrument(
        "gatewatch.gen_ai.cost", "sum", "USD",
        "Spend in USD: the gateway-reported cost when present, else priced from the spec's table.",
        catalog.COST,
        (("team", "gatewatch.team"), ("app", "gatewatch.app"), ("model", REQUEST_MODEL), ("provider", PROVIDER)),
    ),
    Instrument(
        "gatewatch.gen_ai.requests", "sum", "{request}",
        "Gateway requests, one per request the gateway logged.",
        catalog.REQUESTS,
        (
            ("team", "gatewatch.team"), ("app", "gatewatch.app"), ("model", REQUEST_MODEL),
            ("provider", PROVIDER), ("operation", OPERATION), ("outcome", "gatewatch.outcome"),
            ("cache", "gatewatch.cache"),
        ),
        integer=True,
    ),
)


@dataclass(frozen=True, slots=True)
class StateCopy:
    """What the encoder needs from the recorder, copied while the pipeline's lock is held."""

    start_time: float
    series: dict[str, Series]


def copy_state(recorder: Recorder) -> StateCopy:
    """Copy every instrument's series out of ``recorder``. Cheap: meant to run under the lock."""
    series: dict[str, Series] = {}
    for instrument in INSTRUMENTS:
        source = recorder.token_usage() if instrument.source is None else recorder.series(instrument.source)
        series[instrument.name] = list(source)
    return StateCopy(start_time=recorder.start_time, series=series)


def encode(recorder: Recorder, *, now: float, resource: Mapping[str, str]) -> bytes:
    """The serialised ``ExportMetricsServiceRequest`` for the recorder's state at ``now``."""
    payload: bytes = build_request(copy_state(recorder), now=now, resource=resource).SerializeToString()
    return payload


def build_request(
    state: StateCopy, *, now: float, resource: Mapping[str, str], scope_version: str = ""
) -> ExportMetricsServiceRequest:
    start_ns = _nanos(state.start_time)
    now_ns = _nanos(now)
    request = ExportMetricsServiceRequest()
    # Filled in place: handing finished Metric messages to a constructor would copy them all.
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(
        KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in resource.items()
    )
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = SCOPE_NAME
    scope_metrics.scope.version = scope_version
    for instrument in INSTRUMENTS:
        rows = state.series.get(instrument.name)
        if rows:
            _fill(scope_metrics.metrics.add(), instrument, rows, start_ns, now_ns)
    return request


def _fill(metric: Metric, instrument: Instrument, rows: Series, start_ns: int, now_ns: int) -> None:
    label_names = _TOKEN_USAGE_LABELS if instrument.source is None else instrument.source.labels
    plan = [(label_names.index(label), key) for label, key in instrument.attributes]
    metric.name = instrument.name
    metric.unit = instrument.unit
    metric.description = instrument.description
    if instrument.kind == "histogram":
        bounds = TOKEN_USAGE_BUCKETS if instrument.source is None else instrument.source.buckets
        metric.histogram.aggregation_temporality = _CUMULATIVE
        shared = _Fragments(
            HistogramDataPoint,
            HistogramDataPoint(start_time_unix_nano=start_ns, time_unix_nano=now_ns, explicit_bounds=bounds),
        )
        add_histogram = metric.histogram.data_points.add
        for labels, value in rows:
            assert isinstance(value, HistogramValue)
            point = add_histogram(
                count=int(value.count), sum=value.sum, bucket_counts=[int(c) for c in value.bucket_counts]
            )
            point.MergeFromString(shared.point(labels, plan))
        return
    metric.sum.aggregation_temporality = _CUMULATIVE
    metric.sum.is_monotonic = True
    shared = _Fragments(NumberDataPoint, NumberDataPoint(start_time_unix_nano=start_ns, time_unix_nano=now_ns))
    add_number = metric.sum.data_points.add
    for labels, value in rows:
        assert isinstance(value, float | int)
        point = add_number(as_int=round(value)) if instrument.integer else add_number(as_double=value)
        point.MergeFromString(shared.point(labels, plan))


class _Fragments:
    """Serialised pieces of one instrument's data points, built once per export.

    Building each attribute as a message costs several microseconds per data point at tens of
    thousands of points. Protobuf parses concatenated encodings as a merge (repeated fields
    append), so a point's timestamps, bounds and attributes are merged in from bytes serialised
    once per distinct value instead.
    """

    __slots__ = ("_attributes", "_point_type", "_shared")

    def __init__(self, point_type: type[HistogramDataPoint] | type[NumberDataPoint], shared: Message) -> None:
        self._point_type = point_type
        self._shared = shared.SerializeToString()
        self._attributes: dict[tuple[str, str], bytes] = {}

    def point(self, labels: Labels, plan: Sequence[tuple[int, str]]) -> bytes:
        parts = [self._shared]
        for index, key in plan:
            value = labels[index]
            if key == ERROR_TYPE and value == _SUCCESS:
                continue
            fragment = self._attributes.get((key, value))
            if fragment is None:
                attribute = KeyValue(key=key, value=AnyValue(string_value=value))
                fragment = self._attributes[(key, value)] = self._point_type(
                    attributes=[attribute]
                ).SerializeToString()
            parts.append(fragment)
        return b"".join(parts)


def _nanos(seconds: float) -> int:
    return round(seconds * 1e9)
