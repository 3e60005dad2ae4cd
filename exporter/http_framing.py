"""Where a request body ends, strictly as RFC 9112 says, so no byte of it is ever read as a
second request.

A proxy in front of the exporter and the exporter must agree on every message boundary, or
bytes one of them takes for body the other takes for a new request (request smuggling). So
anything the RFC lets a recipient reject is rejected, and the connection closed after the
answer: a repeated or list-valued Content-Length, a Transfer-Encoding whose final coding is not
``chunked``, both headers at once, field names with whitespace before the colon, folded field
lines, chunk sizes that are not plain hex digits, and malformed chunk extensions or trailers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from io import BufferedIOBase
from typing import BinaryIO

CHUNKED = -1  # the body length is given by chunked framing
MAX_CHUNK_LINE = 1024
MAX_TRAILER_LINES = 64
# Up to 18 digits (below 2**63); a longer length is refused, not parsed.
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_FIELD_NAME = re.compile(_TOKEN)
_QUOTED = r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
_CHUNK_EXTENSIONS = re.compile(
    rf"(?:[ \t]*;[ \t]*{_TOKEN}(?:[ \t]*=[ \t]*(?:{_TOKEN}|{_QUOTED}))?)*".encode()
)
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})")
_TRAILER_FIELD = re.compile(rf"{_TOKEN}:[^\r\n]*\r\n".encode())


class FramingError(Exception):
    """The request cannot be framed; answer ``status`` and close the connection."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Framing:
    length: int  # bytes of body, 0 for none, or CHUNKED

    @property
    def has_body(self) -> bool:
        return self.length != 0


NO_BODY = Framing(0)


def body_framing(headers: Message, request_version: str) -> Framing:
    """How the request's body is delimited (RFC 9112 section 6), or FramingError."""
    _check_field_lines(headers)
    encodings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if encodings:
        if lengths:
            raise FramingError(HTTPStatus.BAD_REQUEST, "send Content-Length or Transfer-Encoding, not both")
        if request_version == "HTTP/1.0":
            raise FramingError(HTTPStatus.BAD_REQUEST, "Transfer-Encoding is not defined for HTTP/1.0")
        codings = [c.strip().lower() for value in encodings for c in value.split(",")]
        if codings[-1] != "chunked" or codings.count("chunked") != 1 or "" in codings:
            raise FramingError(HTTPStatus.BAD_REQUEST, "Transfer-Encoding must end in chunked, once")
        if len(codings) > 1:
            raise FramingError(HTTPStatus.NOT_IMPLEMENTED, "only the chunked transfer coding is supported")
        return Framing(CHUNKED)
    if not lengths:
        return NO_BODY
    if len(lengths) > 1 or not _CONTENT_LENGTH.fullmatch(lengths[0].strip()):
        raise FramingError(HTTPStatus.BAD_REQUEST, "Content-Length must be one non-negative integer")
    return Framing(int(lengths[0]))


def _check_field_lines(headers: Message) -> None:
    # A line the header parser could not take as a field ends the fields early, and the lines
    # after it (a Content-Length, say) would silently not count: refuse the whole request.
    if headers.defects or headers.get_payload():
        raise FramingError(HTTPStatus.BAD_REQUEST, "malformed header section")
    for name, value in headers.items():
        if not _FIELD_NAME.fullmatch(name):
            raise FramingError(HTTPStatus.BAD_REQUEST, "malformed header field name")
        if "\r" in value or "\n" in value:
            raise FramingError(HTTPStatus.BAD_REQUEST, "folded header lines are not accepted")


def read_chunked(rfile: BinaryIO | BufferedIOBase, limit: int) -> bytes:
    """A chunked body (RFC 9112 section 7.1); more than ``limit`` bytes raise 413 while reading.

    Chunk extensions are checked for syntax and ignored; trailer fields likewise, and never
    merged into the headers.
    """
    parts: list[bytes] = []
    total = 0
    while True:
        size = _chunk_size(_line(rfile))
        if size == 0:
            break
        total += size
        if total > limit:
            raise FramingError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {limit} bytes")
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.read(2) != b"\r\n":
            raise FramingError(HTTPStatus.BAD_REQUEST, "malformed chunked body")
        parts.append(chunk)
    for _ in range(MAX_TRAILER_LINES):
        line = _line(rfile)
        if line == b"\r\n":
            return b"".join(parts)
        if not _TRAILER_FIELD.fullmatch(line):
            raise FramingError(HTTPStatus.BAD_REQUEST, "malformed trailer field")
    raise FramingError(HTTPStatus.BAD_REQUEST, "too many trailer fields")


def _line(rfile: BinaryIO | BufferedIOBase) -> bytes:
    line = rfile.readline(MAX_CHUNK_LINE + 1)
    if len(line) > MAX_CHUNK_LINE or not line.endswith(b"\r\n"):
        raise FramingError(HTTPStatus.BAD_REQUEST, "malformed chunked body")
    return line


def _chunk_size(line: bytes) -> int:
    match = _CHUNK_SIZE.match(line)
    if match is None or not _CHUNK_EXTENSIONS.fullmatch(line, match.end(), len(line) - 2):
        raise FramingError(HTTPStatus.BAD_REQUEST, "malformed chunk size")
    return int(match.group(1), 16)
