"""OTLP/JSON trace requests decoded straight into objects shaped like the protobuf messages.

The protobuf library's generic JSON parser costs about ten times the binary parse; this decodes
only the fields the receiver and the span adapter read, with the OTLP/JSON rules (lowerCamelCase
keys, hex trace and span ids, 64-bit integers as strings or numbers, enums as integers, unknown
fields ignored). An attribute's value stays undecoded bytes until someone asks for it, and the
adapter asks only for the keys it reads: message content is skipped, never turned into a string.
"""

from __future__ import annotations

from typing import Any

import msgspec

Int64 = int | str


def _int(value: Int64) -> int:
    if isinstance(value, str):
        if not value.lstrip("-").isdigit():
            raise ValueError("expected an integer or a string of digits")
        return int(value)
    return value


class _Struct(msgspec.Struct, rename="camel", gc=False):
    pass


class AnyValue(_Struct):
    string_value: str | None = None
    bool_value: bool | None = None
    int_value: Int64 | None = None
    double_value: float | None = None

    def __post_init__(self) -> None:
        if self.int_value is not None:
            self.int_value = _int(self.int_value)

    def WhichOneof(self, _: str) -> str | None:  # noqa: N802 - the protobuf message's method name
        for name in ("string_value", "int_value", "double_value", "bool_value"):
            if getattr(self, name) is not None:
                return name
        return None


_ANY_VALUE = msgspec.json.Decoder(AnyValue)
_EMPTY = AnyValue()


class KeyValue(_Struct):
    key: str = ""
    raw: msgspec.Raw = msgspec.field(default=msgspec.Raw(b"{}"), name="value")

    @property
    def value(self) -> AnyValue:
        try:
            return _ANY_VALUE.decode(self.raw)
        except msgspec.DecodeError:
            return _EMPTY  # a malformed value of one attribute is an absent value


_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


class Status(_Struct):
    # OTLP/JSON writes enums as integers; the protobuf JSON mapping's names are read too.
    code: int | str = 0

    def __post_init__(self) -> None:
        if isinstance(self.code, str):
            code = _STATUS_CODES.get(self.code)
            if code is None:
                raise ValueError("expected a status code")
            self.code = code


class Event(_Struct):
    name: str = ""
    time_unix_nano: Int64 = 0

    def __post_init__(self) -> None:
        self.time_unix_nano = _int(self.time_unix_nano)


class Span(_Struct):
    trace_id: Any = ""
    span_id: Any = ""
    start_time_unix_nano: Int64 = 0
    end_time_unix_nano: Int64 = 0
    attributes: list[KeyValue] = []
    events: list[Event] = []
    status: Status = msgspec.field(default_factory=Status)

    def __post_init__(self) -> None:
        self.trace_id = _id(self.trace_id, 16)
        self.span_id = _id(self.span_id, 8)
        self.start_time_unix_nano = _int(self.start_time_unix_nano)
        self.end_time_unix_nano = _int(self.end_time_unix_nano)


def _id(value: Any, size: int) -> bytes:
    if not isinstance(value, str) or len(value) not in (0, 2 * size):
        raise ValueError(f"expected {2 * size} hex digits")
    return bytes.fromhex(value)


class Scope(_Struct, frozen=True):  # type: ignore[misc]  # msgspec allows a frozen Struct on a mutable base
    name: str = ""


class ScopeSpans(_Struct):
    scope: Scope = Scope()
    spans: list[Span] = []


class Resource(_Struct):
    attributes: list[KeyValue] = []





class ResourceSpans(_Struct):
    resource: Resource = msgspec.field(default_factory=Resource)
    scope_spans: list[ScopeSpans] = []


class ExportTraceServiceRequest(_Struct):
    resource_spans: list[ResourceSpans] = []


_REQUEST = msgspec.json.Decoder(ExportTraceServiceRequest)


class MalformedJsonError(Exception):
    pass


def decode_traces(body: bytes) -> ExportTraceServiceRequest:
    try:
        return _REQUEST.decode(body) if body.strip() else ExportTraceServiceRequest()
    except msgspec.ValidationError as err:
        # msgspec names the path; the fixed text never quotes a value.
        text = str(err)
        at = text.find(" - at `")
        raise MalformedJsonError("JSON does not follow the OTLP ExportTraceServiceRequest schema"
                                 + (text[at:] if at >= 0 else "")) from None
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        raise MalformedJsonError("body is not JSON") from None
