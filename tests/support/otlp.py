"""Building OTLP export requests for tests, in protobuf and in OTLP/JSON written by hand
(hex ids, 64-bit integers as strings, enums as integers, as the OTLP specification says)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.support.processes import request

START_NS = 1_790_000_000_000_000_000
STATUS_ERROR = Status.STATUS_CODE_ERROR
_ids = itertools.count(1)

Scalar = str | bool | int | float


def any_value(value: Scalar) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=value)


def key_values(attributes: Mapping[str, Scalar]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attributes.items()]


def span(attributes: Mapping[str, Scalar], *, duration: float = 1.0, start_ns: int = START_NS,
         error: bool = False, events: Iterable[tuple[str, float]] = (), span_id: int | None = None,
         status_message: str = "") -> Span:
    """A span with fresh ids; ``events`` are (name, seconds after the start)."""
    number = next(_ids) if span_id is None else span_id
    out = Span(
        trace_id=number.to_bytes(16, "big"), span_id=number.to_bytes(8, "big"), name="chat",
        kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + round(duration * 1e9), attributes=key_values(attributes),
    )
    if error:
        out.status.code = STATUS_ERROR
        out.status.message = status_message
    for name, after in events:
        out.events.add(name=name, time_unix_nano=start_ns + round(after * 1e9))
    return out


def export_request(spans: Sequence[Span], resource: Mapping[str, Scalar] | None = None,
                   scope: str = "tests.producer") -> ExportTraceServiceRequest:
    out = ExportTraceServiceRequest()
    resource_spans = out.resource_spans.add()
    resource_spans.resource.attributes.extend(key_values(resource or {}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = scope
    scope_spans.spans.extend(spans)
    return out


def _json_value(value: Scalar) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a string in OTLP/JSON
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def _json_attributes(attributes: Mapping[str, Scalar]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _json_value(v)} for k, v in attributes.items()]


def json_request(spans: Sequence[Mapping[str, Any]], resource: Mapping[str, Scalar] | None = None,
                 scope: str = "tests.producer") -> dict[str, Any]:
    """OTLP/JSON: ``spans`` are dicts with attributes, and optionally duration, error, span_id."""
    rendered = []
    for s in spans:
        number = s.get("span_id", next(_ids))
        start = s.get("start_ns", START_NS)
        item: dict[str, Any] = {
            "traceId": number.to_bytes(16, "big").hex(), "spanId": number.to_bytes(8, "big").hex(),
            "name": "chat", "kind": 3,  # SPAN_KIND_CLIENT as an integer
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + round(s.get("duration", 1.0) * 1e9)),
            "attributes": _json_attributes(s["attributes"]),
        }
        if s.get("error"):
            item["status"] = {"code": 2, "message": s.get("status_message", "")}
        rendered.append(item)
    return {"resourceSpans": [{
        "resource": {"attributes": _json_attributes(resource or {})},
        "scopeSpans": [{"scope": {"name": scope}, "spans": rendered}],
    }]}


def post_traces(url: str, body: bytes, content_type: str = "application/x-protobuf",
                headers: Mapping[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    return request(url, "POST", "/v1/traces", body, {"Content-Type": content_type, **(headers or {})})
