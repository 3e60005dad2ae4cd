"""HTTP/1.1 message framing per RFC 9112, over raw sockets against a real exporter.

Every malformed framing is refused with 400 (or 501 for a transfer coding the exporter does not
implement) and the connection closed; each refused request carries a second, smuggled request
after it, which must never be answered. Valid framings of the same body are ingested.
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.http_framing import FramingError, read_chunked
from tests.support.processes import Exporter, start_exporter, total

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
HEAD = b"POST /ingest/litellm HTTP/1.1\r\nHost: test\r\n"


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    running = start_exporter(tmp_path_factory.mktemp("framing"))
    yield running
    running.kill()


@pytest.fixture
def record(litellm_records: list[dict[str, Any]]) -> bytes:
    fresh = json.loads(json.dumps(litellm_records[0]))
    fresh["id"] = f"chatcmpl-framing-{uuid.uuid4()}"
    return json.dumps(fresh).encode()


def exchange(exporter: Exporter, data: bytes) -> bytes:
    """Send raw bytes, then read everything until the server closes the connection."""
    with socket.create_connection((exporter.host, exporter.port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while piece := sock.recv(65536):
            answer += piece
        return answer


def statuses(answer: bytes) -> list[int]:
    """The status of every response in ``answer`` (a JSON body ends in a bare newline)."""
    return [int(code) for code in re.findall(rb"(?:^|\n)HTTP/1\.[01] (\d{3}) ", answer)]


def chunked(body: bytes, size_format: str = "{:x}") -> bytes:
    half = len(body) // 2
    return b"".join(
        size_format.format(len(part)).encode() + b"\r\n" + part + b"\r\n" for part in (body[:half], body[half:])
    ) + b"0\r\n\r\n"


# (id, headers after the Host line, body builder from the record) -> refused with this status.
REFUSED: list[tuple[str, bytes, Any, int]] = [
    ("two-different-lengths", b"Content-Length: 5\r\nContent-Length: {n}\r\n", lambda r: r, 400),
    ("two-equal-lengths", b"Content-Length: {n}\r\nContent-Length: {n}\r\n", lambda r: r, 400),
    ("length-list", b"Content-Length: {n}, {n}\r\n", lambda r: r, 400),
    ("length-plus-sign", b"Content-Length: +{n}\r\n", lambda r: r, 400),
    ("length-hex", b"Content-Length: 0x10\r\n", lambda r: r, 400),
    ("length-underscore", b"Content-Length: 1_0\r\n", lambda r: r, 400),
    ("length-overlong", b"Content-Length: 0000000000000000000000010\r\n", lambda r: r, 400),
    ("length-non-ascii-digit", b"Content-Length: \xd9\xa3\r\n", lambda r: r, 400),
    ("space-before-colon", b"Content-Length : {n}\r\n", lambda r: r, 400),
    ("folded-line", b"X-Note: a\r\n folded\r\nContent-Length: {n}\r\n", lambda r: r, 400),
    ("te-xchunked", b"Transfer-Encoding: xchunked\r\n", chunked, 400),
    ("te-chunked-identity", b"Transfer-Encoding: chunked, identity\r\n", chunked, 400),
    ("te-chunked-twice", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunked, 400),
    ("te-empty-element", b"Transfer-Encoding: , chunked\r\n", chunked, 400),
    ("te-gzip-chunked", b"Transfer-Encoding: gzip, chunked\r\n", chunked, 501),
    ("te-and-length", b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", chunked, 400),
    ("chunk-size-0x", b"Transfer-Encoding: chunked\r\n", lambda r: chunked(r, "0x{:x}"), 400),
    ("chunk-size-plus", b"Transfer-Encoding: chunked\r\n", lambda r: chunked(r, "+{:x}"), 400),
    ("chunk-size-underscore", b"Transfer-Encoding: chunked\r\n",
     lambda r: b"1_0\r\n" + r[:16] + b"\r\n0\r\n\r\n", 400),
    ("chunk-size-overlong", b"Transfer-Encoding: chunked\r\n", lambda r: chunked(r, "{:020x}"), 400),
    ("chunk-size-space", b"Transfer-Encoding: chunked\r\n", lambda r: chunked(r, " {:x}"), 400),
    ("chunk-size-trailing-space", b"Transfer-Encoding: chunked\r\n", lambda r: chunked(r, "{:x} "), 400),
    ("chunk-size-negative", b"Transfer-Encoding: chunked\r\n", lambda r: b"-1\r\nx\r\n0\r\n\r\n", 400),
    ("chunk-bare-lf", b"Transfer-Encoding: chunked\r\n",
     lambda r: b"%x\n" % len(r) + r + b"\n0\n\n", 400),
    ("chunk-data-overrun", b"Transfer-Encoding: chunked\r\n",
     lambda r: b"%x\r\n" % (len(r) - 1) + r + b"\r\n0\r\n\r\n", 400),
    ("chunk-extension-no-name", b"Transfer-Encoding: chunked\r\n", lambda r: chunked(r, "{:x};=x"), 400),
    ("chunk-extension-space-in-name", b"Transfer-Encoding: chunked\r\n", lambda r: chunked(r, "{:x};a b"), 400),
    ("trailer-malformed", b"Transfer-Encoding: chunked\r\n",
     lambda r: chunked(r)[:-2] + b"not a field\r\n\r\n", 400),
]


@pytest.mark.parametrize(("headers", "build", "status"), [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
def test_bad_framing_is_refused_and_nothing_after_it_runs_as_a_request(
    exporter: Exporter, record: bytes, headers: bytes, build: Any, status: int,
) -> None:
    body = build(record)
    before = total(exporter.scrape(), "genai_exporter_events_total")
    answer = exchange(exporter, HEAD + headers.replace(b"{n}", b"%d" % len(body)) + b"\r\n" + body + SMUGGLED)
    assert statuses(answer) == [status]  # one answer, and the connection closed after it
    assert b"Connection: close" in answer
    assert total(exporter.scrape(), "genai_exporter_events_total") == before


def test_transfer_encoding_on_http_1_0_is_refused(exporter: Exporter, record: bytes) -> None:
    request = b"POST /ingest/litellm HTTP/1.0\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert statuses(exchange(exporter, request + chunked(record) + SMUGGLED)) == [400]


ACCEPTED: list[tuple[str, bytes, Any]] = [
    ("content-length", b"Content-Length: {n}\r\n", lambda r: r),
    ("chunked", b"Transfer-Encoding: chunked\r\n", chunked),
    ("chunked-any-case", b"Transfer-Encoding: Chunked\r\n", chunked),
    ("chunked-upper-hex-and-leading-zeros", b"Transfer-Encoding: chunked\r\n", lambda r: chunked(r, "{:08X}")),
    ("chunk-extensions", b"Transfer-Encoding: chunked\r\n", lambda r: chunked(r, '{:x} ; name=value;q="a \\" b";flag')),
    ("trailer-fields", b"Transfer-Encoding: chunked\r\n",
     lambda r: chunked(r)[:-2] + b"X-Checksum: abc\r\nContent-Length: 99\r\n\r\n"),
]


@pytest.mark.parametrize(("headers", "build"), [case[1:] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
def test_valid_framing_is_ingested_and_the_next_request_on_the_connection_is_answered(
    exporter: Exporter, record: bytes, headers: bytes, build: Any,
) -> None:
    body = build(record)
    closing = b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    answer = exchange(exporter, HEAD + headers.replace(b"{n}", b"%d" % len(body)) + b"\r\n" + body + closing)
    assert statuses(answer) == [202, 200]
    assert b'"accepted":1' in answer


def test_refusals_are_counted_by_reason(exporter: Exporter, record: bytes) -> None:
    def bad_framing() -> float:
        return total(exporter.scrape(), "genai_exporter_ingest_refused_total", reason="bad_framing")

    before = bad_framing()
    exchange(exporter, HEAD + b"Transfer-Encoding: xchunked\r\n\r\n" + chunked(record))
    assert bad_framing() == before + 1


class _Stream:
    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, size: int) -> bytes:
        piece = self._data[self._at:self._at + size]
        self._at += len(piece)
        return piece

    def readline(self, size: int) -> bytes:
        end = self._data.find(b"\n", self._at, self._at + size)
        stop = self._at + size if end < 0 else end + 1
        piece = self._data[self._at:stop]
        self._at += len(piece)
        return piece


@settings(max_examples=300, deadline=None)
@given(size_line=st.binary(min_size=0, max_size=24).filter(lambda line: b";" not in line and b"\n" not in line)
       | st.sampled_from([b"40", b"0x40", b"+40", b"4_0", b"040", b" 40", b"40 ", b"-40", b"0" * 17 + b"40"]))
def test_a_chunk_size_line_is_taken_only_when_it_is_plain_hex_digits(size_line: bytes) -> None:
    stream = _Stream(size_line + b"\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n")
    plain_hex = 1 <= len(size_line) <= 16 and all(c in b"0123456789abcdefABCDEF" for c in size_line)
    try:
        body = read_chunked(stream, 1 << 20)  # type: ignore[arg-type]
    except FramingError:
        assert not plain_hex or int(size_line, 16) != 64
    else:
        assert plain_hex and int(size_line, 16) == 64 and body == b"x" * 64
