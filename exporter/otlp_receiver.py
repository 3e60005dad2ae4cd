"""The OTLP/HTTP receiver: ``POST /v1/traces`` and ``POST /v1/metrics`` in protobuf or JSON,
answered as the OTLP specification says (``opentelemetry-proto`` docs/specification.md,
"OTLP/HTTP"). Metrics are mapped by ``exporter.otlp_metrics``.

The HTTP server reads, authorises and un-gzips the body; this module decodes it, keeps the spans
that are model calls from producers the spec counts (``otlp.sources``), hands them to the
pipeline as ``SpanRecord``s and builds the answer: 200 with ``partial_success`` naming how many
spans were rejected and why, 400 with a ``google.rpc.Status`` when the body does not decode.
Bad data never earns a 5xx, since OTLP clients retry those and would resend the same bad data.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from contract import catalog
from contract.fields import OTEL
from contract.spec import FormatAttribution, Spec
from exporter import otlp_json, otlp_metrics
from exporter.adapters.otel import RESOURCE_PREFIX, SpanRecord, read_attributes

SOURCE = "otlp"
TRACES = "traces"
METRICS = "metrics"
ROUTES = {"/v1/traces": TRACES, "/v1/metrics": METRICS}
# The events_total format label of metric data points (spans are "otel").
OTEL_METRICS = "otel_metrics"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SERVICE_NAME = "service.name"
_REASONS_SHOWN = 5


class OtlpPipeline(Protocol):
    spec: Spec

    def ingest(self, records: list[Any], fmt: str, source: str) -> Any: ...

    def count(self, metric: catalog.Metric, labels: tuple[str, ...], amount: float = 1.0) -> None: ...

    def ingest_totals(self, totals: Any, fmt: str) -> None: ...


class Receiver:
    """What the receiver keeps between requests: the last point of each cumulative stream."""

    def __init__(self, process_start_ns: int | None = None) -> None:
        self.streams = otlp_metrics.Streams(time.time_ns() if process_start_ns is None else process_start_ns)

    def receive(self, pipeline: OtlpPipeline, signal: str, body: bytes, encoding: str) -> Reply:
        if signal == METRICS:
            return receive_metrics(pipeline, body, encoding, self.streams)
        return receive_traces(pipeline, body, encoding)


@dataclass(frozen=True, slots=True)
class Reply:
    status: HTTPStatus
    content_type: str
    body: bytes
    note: str = ""
    # Span-level outcome, for the rejection log.
    rejected: int = 0
    errors: tuple[tuple[int, str], ...] = ()


class MalformedRequestError(Exception):
    """The body is not an export request in the declared encoding; the message says why."""


def encoding_of(content_type: str | None) -> str | None:
    """``PROTOBUF`` or ``JSON`` for an OTLP request's Content-Type, None for anything else."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media if media in (PROTOBUF, JSON) else None


# -- decoding -------------------------------------------------------------------------------

def decode_traces(body: bytes, encoding: str) -> Any:
    """An ExportTraceServiceRequest: the protobuf message, or for JSON the same shape decoded by
    ``exporter.otlp_json`` (hex ids, string integers, only the fields read)."""
    if encoding == PROTOBUF:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError):
            raise MalformedRequestError("body is not a protobuf ExportTraceServiceRequest") from None
        return request
    try:
        return otlp_json.decode_traces(body)
    except otlp_json.MalformedJsonError as err:
        raise MalformedRequestError(str(err)) from None


# -- answering -------------------------------------------------------------------------------

def _status_body(message: str, encoding: str) -> bytes:
    """A google.rpc.Status with code INVALID_ARGUMENT (3), written by hand: two fields do not
    warrant a dependency on googleapis-common-protos."""
    if encoding == JSON:
        return orjson.dumps({"code": 3, "message": message})
    text = message.encode()
    return b"\x08\x03\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _encode(message: Any, encoding: str) -> bytes:
    if encoding == PROTOBUF:
        payload: bytes = message.SerializeToString()
        return payload
    return orjson.dumps(json_format.MessageToDict(message))


def refused(pipeline: OtlpPipeline, signal: str, reason: str) -> None:
    """Count a request refused whole (by this module or by the HTTP layer's checks)."""
    pipeline.count(catalog.EXPORTER_OTLP_REFUSED, (signal, reason if reason in catalog.OTLP_REFUSALS else "other"))


def malformed(pipeline: OtlpPipeline, signal: str, message: str, encoding: str) -> Reply:
    refused(pipeline, signal, "malformed")
    return Reply(HTTPStatus.BAD_REQUEST, encoding, _status_body(message, encoding), note=message)


def receive_traces(pipeline: OtlpPipeline, body: bytes, encoding: str) -> Reply:
    try:
        request = decode_traces(body, encoding)
    except MalformedRequestError as err:
        return malformed(pipeline, TRACES, str(err), encoding)
    spec = pipeline.spec
    resource_keys = _resource_keys(spec) | {SERVICE_NAME}
    records: list[SpanRecord] = []
    ignored = 0
    for resource_spans in request.resource_spans:
        resource = read_attributes(resource_spans.resource.attributes, resource_keys)
        service = resource.get(SERVICE_NAME)
        service = service if isinstance(service, str) else ""
        kept = {RESOURCE_PREFIX + k: v for k, v in resource.items() if isinstance(v, str) and v}
        for scope_spans in resource_spans.scope_spans:
            spans = scope_spans.spans
            if spec.otlp.signal(service, scope_spans.scope.name) != "spans":
                ignored += len(spans)
                continue
            records.extend(SpanRecord(kept, span) for span in spans)
    result = pipeline.ingest(records, OTEL, SOURCE) if records else None
    if ignored:  # the pipeline counts the spans the adapter set aside; these never reached it
        pipeline.count(catalog.EXPORTER_EVENTS, (SOURCE, OTEL, "ignored"), ignored)
    response = ExportTraceServiceResponse()
    rejected = result.rejected if result is not None else 0
    errors = tuple(result.errors) if result is not None else ()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = _summary(rejected, errors)
    accepted = result.accepted if result is not None else 0
    duplicates = result.duplicates if result is not None else 0
    ignored += result.ignored if result is not None else 0
    return Reply(
        HTTPStatus.OK, encoding, _encode(response, encoding),
        note=f"accepted={accepted} rejected={rejected} duplicates={duplicates} ignored={ignored}",
        rejected=rejected, errors=errors,
    )


def receive_metrics(pipeline: OtlpPipeline, body: bytes, encoding: str, streams: otlp_metrics.Streams) -> Reply:
    try:
        request = otlp_metrics.decode_metrics(body, encoding == JSON)
    except otlp_metrics.MalformedMetricsError as err:
        return malformed(pipeline, METRICS, str(err), encoding)
    spec = pipeline.spec
    mapped = otlp_metrics.map_request(request, streams, spec.otlp.signal, _attribution_paths(spec))
    if mapped.totals:
        pipeline.ingest_totals(mapped.totals, OTEL)
    for result, count in (("accepted", mapped.accepted), ("rejected", len(mapped.rejected)),
                          ("ignored", mapped.ignored)):
        if count:
            pipeline.count(catalog.EXPORTER_EVENTS, (SOURCE, OTEL_METRICS, result), count)
    response = ExportMetricsServiceResponse()
    errors = tuple(enumerate(mapped.rejected))
    if errors:
        response.partial_success.rejected_data_points = len(errors)
        response.partial_success.error_message = _summary(len(errors), errors, "data point")
    return Reply(
        HTTPStatus.OK, encoding, _encode(response, encoding),
        note=f"accepted={mapped.accepted} rejected={len(errors)} ignored={mapped.ignored}",
        rejected=len(errors), errors=errors,
    )


def _attribution_paths(spec: Spec) -> frozenset[str]:
    """The attribute paths (``resource.<key>``, ``span.<key>``) the spec's rules read for OTel."""
    rule = spec.attribution.get(OTEL, FormatAttribution())
    return frozenset((*rule.team, *rule.app, *spec.classification.sources.get(OTEL, ())))


def _resource_keys(spec: Spec) -> frozenset[str]:
    return frozenset(p.removeprefix(RESOURCE_PREFIX) for p in _attribution_paths(spec) if p.startswith(RESOURCE_PREFIX))


def _summary(rejected: int, errors: tuple[tuple[int, str], ...], item: str = "span") -> str:
    """``3 spans rejected: <reason> (2); <reason> (1)``: the adapters' reasons name fields,
    never values."""
    reasons = Counter(reason for _, reason in errors).most_common(_REASONS_SHOWN)
    listed = "; ".join(f"{reason} ({count})" for reason, count in reasons)
    return f"{rejected} {item}{'s' if rejected != 1 else ''} rejected: {listed}"
