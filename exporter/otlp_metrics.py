"""OTLP GenAI metrics in (``POST /v1/metrics``): for producers that emit the semantic
conventions' metrics instead of spans, as Envoy AI Gateway can.

What maps exactly onto the contract, and is recorded (docs/otlp-in.md says what does not):

* ``gen_ai.client.token.usage`` (histogram of tokens per request, by ``gen_ai.token.type``): its
  sum is the tokens of that type, its count the requests that used them;
* ``gen_ai.client.operation.duration`` and ``gen_ai.server.request.duration`` (histograms, one
  observation per request): their count is the requests, by the outcome ``error.type`` gives.

Cost is priced from the token sums with the table's input and output prices (the metrics say
nothing of cached tokens). Cumulative streams are turned into increments here: the first point
of a stream counts in full only when the stream started after this process did (else it is the
baseline), and a restarted stream (new start time, or a count that went down) counts in full.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from contract.fields import OTEL_MODEL_OPERATIONS, OTEL_OPERATION
from exporter.adapters._common import RecordError
from exporter.adapters.otel import (
    PROVIDER,
    REQUEST_MODEL,
    RESOURCE_PREFIX,
    RESPONSE_MODEL,
    SPAN_PREFIX,
    outcome_of,
    provider_name,
    read_attributes,
)
from exporter.pipeline import Totals

TOKEN_USAGE = "gen_ai.client.token.usage"
REQUEST_COUNTS = ("gen_ai.client.operation.duration", "gen_ai.server.request.duration")
MAPPED = frozenset((TOKEN_USAGE, *REQUEST_COUNTS))
TOKEN_TYPE = "gen_ai.token.type"
# gen_ai.token.type values: the conventions' names, and the older ones producers still send.
TOKEN_TYPES = {"input": "input", "prompt": "input", "output": "output", "completion": "output"}
_DELTA, _CUMULATIVE = 1, 2
_POINT_KEYS = frozenset((OTEL_OPERATION, TOKEN_TYPE, *PROVIDER, *REQUEST_MODEL, *RESPONSE_MODEL,
                         "error.type", "http.response.status_code"))
# Streams remembered for cumulative points; past it the oldest are forgotten (their next point
# becomes a baseline): a producer minting attribute sets must not grow memory without bound.
MAX_STREAMS = 100_000


class MalformedMetricsError(Exception):
    """The body is not an ExportMetricsServiceRequest in the declared encoding."""


def decode_metrics(body: bytes, encoding_is_json: bool) -> Any:
    request = ExportMetricsServiceRequest()
    if not encoding_is_json:
        try:
            request.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError):
            raise MalformedMetricsError("body is not a protobuf ExportMetricsServiceRequest") from None
        return request
    try:
        document = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        raise MalformedMetricsError("body is not JSON") from None
    if not isinstance(document, dict):
        raise MalformedMetricsError("expected a JSON object with resourceMetrics")
    try:
        # Exemplars (hex span ids, sampled values) say nothing the mapping reads: drop them.
        json_format.ParseDict(_without_exemplars(document), request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, ValueError, TypeError, AttributeError):
        raise MalformedMetricsError("JSON does not follow the OTLP ExportMetricsServiceRequest schema") from None
    return request


def _without_exemplars(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_exemplars(v) for k, v in value.items() if k != "exemplars"}
    if isinstance(value, list):
        return [_without_exemplars(v) for v in value]
    return value


class Point(NamedTuple):
    count: int  # type: ignore[assignment]  # shadows tuple.count, which nothing calls
    sum: float


class Streams:
    """Last cumulative point per stream, to turn cumulative points into increments."""

    def __init__(self, process_start_ns: int) -> None:
        self._start_ns = process_start_ns
        self._last: dict[tuple[Any, ...], tuple[int, Point]] = {}
        self._lock = threading.Lock()

    def increment(self, key: tuple[Any, ...], start_ns: int, point: Point) -> Point:
        with self._lock:
            previous = self._last.get(key)
            if len(self._last) >= MAX_STREAMS and previous is None:
                self._last.pop(next(iter(self._last)))
            self._last[key] = (start_ns, point)
        if previous is None:
            return point if start_ns >= self._start_ns else Point(0, 0.0)
        last_start, last = previous
        if start_ns != last_start or point.count < last.count:
            return point  # the producer restarted the stream
        return Point(point.count - last.count, max(point.sum - last.sum, 0.0))


class Mapped(NamedTuple):
    totals: list[Totals]
    accepted: int
    rejected: list[str]  # one reason per rejected point
    ignored: int


def map_request(request: Any, streams: Streams, signal_of: Any, attribute_paths: frozenset[str]) -> Mapped:
    """The request's GenAI points as Totals; ``signal_of(service, scope)`` is the spec's choice."""
    resource_keys = frozenset(p.removeprefix(RESOURCE_PREFIX) for p in attribute_paths
                              if p.startswith(RESOURCE_PREFIX)) | {"service.name", "service.instance.id"}
    point_paths = {p.removeprefix(SPAN_PREFIX): p for p in attribute_paths if p.startswith(SPAN_PREFIX)}
    wanted = _POINT_KEYS | frozenset(point_paths)
    totals: list[Totals] = []
    rejected: list[str] = []
    accepted = ignored = 0
    for resource_metrics in request.resource_metrics:
        resource = read_attributes(resource_metrics.resource.attributes, resource_keys)
        service = resource.get("service.name")
        service = service if isinstance(service, str) else ""
        labels = {RESOURCE_PREFIX + k: v for k, v in resource.items() if isinstance(v, str) and v}
        for scope_metrics in resource_metrics.scope_metrics:
            counted = signal_of(service, scope_metrics.scope.name) == "metrics"
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                points = getattr(metric, kind).data_points if kind in ("histogram", "exponential_histogram") else ()
                if not counted or metric.name not in MAPPED or not points:
                    ignored += len(points) if points else 1
                    continue
                temporality = getattr(metric, kind).aggregation_temporality
                for point in points:
                    try:
                        total = _total(metric.name, temporality, point, labels=labels, resource=resource,
                                       scope=scope_metrics.scope.name, streams=streams, wanted=wanted,
                                       point_paths=point_paths)
                    except RecordError as err:
                        rejected.append(err.reason)
                        continue
                    accepted += 1
                    if total is not None:
                        totals.append(total)
    return Mapped(totals, accepted, rejected, ignored)


def _total(name: str, temporality: int, point: Any, *, labels: dict[str, str], resource: dict[str, object],
           scope: str, streams: Streams, wanted: frozenset[str], point_paths: dict[str, str]) -> Totals | None:
    attributes = read_attributes(point.attributes, wanted)
    model = _text(attributes, REQUEST_MODEL) or _text(attributes, RESPONSE_MODEL)
    if model is None:
        raise RecordError("data point has no gen_ai.request.model or gen_ai.response.model")
    provider = _text(attributes, PROVIDER)
    if provider is None:
        raise RecordError("data point has no gen_ai.provider.name or gen_ai.system")
    if point.count < 0 or not point.sum >= 0:
        raise RecordError("data point count and sum must not be negative")
    if temporality == _CUMULATIVE:
        # Every attribute tells streams apart (not only those read here), compared as their
        # serialised bytes so that no value becomes a string.
        key = (resource.get("service.name"), resource.get("service.instance.id"), scope, name,
               b"".join(sorted(kv.SerializeToString() for kv in point.attributes)))
        change = streams.increment(key, point.start_time_unix_nano, Point(point.count, point.sum))
    elif temporality == _DELTA:
        change = Point(point.count, point.sum)
    else:
        raise RecordError("data point has no aggregation temporality")
    if not change.count and not change.sum:
        return None
    point_labels = dict(labels)
    for attribute, path in point_paths.items():
        value = attributes.get(attribute)
        if isinstance(value, str) and value:
            point_labels[path] = value
    operation = attributes.get(OTEL_OPERATION)
    operation = OTEL_MODEL_OPERATIONS.get(operation, operation) if isinstance(operation, str) and operation \
        else "chat"
    common = (point_labels, model, provider_name(provider), operation)
    if name == TOKEN_USAGE:
        token_type = TOKEN_TYPES.get(str(attributes.get(TOKEN_TYPE, "")).lower())
        if token_type is None:
            raise RecordError("gen_ai.client.token.usage point without an input or output gen_ai.token.type")
        tokens = round(change.sum)
        if token_type == "input":
            return Totals(*common, outcome="success", input_tokens=tokens, priced_requests=change.count)
        return Totals(*common, outcome="success", output_tokens=tokens)
    return Totals(*common, outcome=outcome_of(attributes), requests=change.count)


def _text(attributes: dict[str, object], names: Iterable[str]) -> str | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, str) and value:
            return value
    return None
