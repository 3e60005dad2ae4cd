"""The exporter's HTTP endpoint: ingest, /metrics and the probes.

``POST /ingest/{litellm,kong,events}`` takes one JSON object, a JSON array or NDJSON (optionally
gzip-compressed) and answers 202 with per-record counts; ``POST /v1/traces`` and
``POST /v1/metrics`` take OTLP/HTTP (``exporter.otlp_receiver``); ``GET /metrics`` renders the pipeline;
``GET /healthz`` and ``GET /readyz`` are for probes. Nothing a sender posts is ever echoed back
or logged: responses and log lines carry counts, status codes and adapter reasons only.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import queue
import socket
import socketserver
import sys
import threading
import time
import traceback
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from contract import catalog
from contract.spec import Spec
from exporter import otlp_receiver
from exporter.batch import TooManyRecords, split_body
from exporter.http_framing import CHUNKED, NO_BODY, Framing, FramingError, body_framing, read_chunked
from exporter.logs import RejectionLog, ThrottledLog
from exporter.pipeline import NotDurable

log = logging.getLogger("gatewatch.server")

SOURCE = "http"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
INGEST_ROUTES = {"/ingest/litellm": "litellm", "/ingest/kong": "kong", "/ingest/events": "events"}
_METHODS: dict[str, tuple[str, ...]] = {
    **{path: ("POST",) for path in INGEST_ROUTES},
    **{path: ("POST",) for path in otlp_receiver.ROUTES},
    "/metrics": ("GET", "HEAD"),
    "/healthz": ("GET", "HEAD"),
    "/readyz": ("GET", "HEAD"),
}
_GZIP = ("gzip", "x-gzip")
# OTLP refusals counted by reason in genai_exporter_otlp_refused_requests_total; saturation (429,
# 503) is counted by the ingest refusal counter alone, without the pipeline lock.
_NOT_DURABLE = ("the state directory refused a write; retry the batch (records with ids kept before the "
                "failure then count as duplicates)")
_OTLP_REFUSALS = {
    HTTPStatus.BAD_REQUEST: "malformed",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "content_type",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "too_large",
    HTTPStatus.UNAUTHORIZED: "unauthorized",
}
# Seconds a sender is asked to wait when the exporter is saturated: long enough for the ingests
# in flight to finish, short enough that a logger's queue does not overflow meanwhile.
RETRY_AFTER_SECONDS = 1
_RETRY_AFTER = ("Retry-After", str(RETRY_AFTER_SECONDS))
# Connections over the cap are answered by one thread; past this many waiting, they are closed.
_REFUSAL_BACKLOG = 64
# A refused body is still read and dropped, up to these bounds, before the connection closes:
# closing with unread bytes makes the kernel reset the connection, and the client then sees
# "broken pipe" instead of the 413 or 401 that says what was wrong.
_LINGER_BYTES = 64 * 1024 * 1024
_LINGER_SECONDS = 10.0


class IngestPipeline(Protocol):
    """What the server needs from ``exporter.pipeline.Pipeline``."""

    spec: Spec

    def ingest(
        self, records: list[bytes], fmt: str, source: str, position: tuple[str, Any] | None = None
    ) -> Any: ...

    def scrape(self) -> bytes: ...


class App:
    """State the request handlers share: pipeline, readiness, token and in-flight ingests."""

    def __init__(self, pipeline: IngestPipeline, *, token_env: str | None = None) -> None:
        self.pipeline = pipeline
        # --ingest-token-env wins over the spec's ingest.token_env, which follows reloads.
        self._token_env_override = token_env
        self.ready = threading.Event()
        self.rejections = RejectionLog(log)
        self.throttled = ThrottledLog(log)
        self.otlp = otlp_receiver.Receiver()
        self._gate = threading.Condition()
        self._accepting = True
        self._in_flight = 0
        # Lines /readyz adds after "ready": damage found in the state directory at start.
        self.notes: list[str] = []
        # Refused requests by reason (catalog.INGEST_REFUSAL_REASONS), counted here and moved
        # into the recorder before each scrape: refusing must never wait for the pipeline lock.
        self._refusals: dict[str, int] = dict.fromkeys(catalog.INGEST_REFUSAL_REASONS, 0)
        self._refusals_published: dict[str, int] = dict.fromkeys(catalog.INGEST_REFUSAL_REASONS, 0)
        before_scrape = getattr(pipeline, "before_scrape", None)
        if before_scrape is not None:
            before_scrape.append(self.publish_refusals)

    @property
    def limits(self) -> Any:
        """The spec's ingest section, read on each use so a reload takes effect."""
        return self.pipeline.spec.ingest

    def refused(self, reason: str) -> None:
        with self._gate:
            self._refusals[reason] += 1

    def publish_refusals(self, recorder: Any, _spec: Spec) -> None:
        with self._gate:
            counts = dict(self._refusals)
        for reason, count in counts.items():
            recorder.inc(catalog.EXPORTER_INGEST_REFUSED, (reason,), float(count - self._refusals_published[reason]))
        self._refusals_published = counts

    @property
    def token_env(self) -> str | None:
        return self._token_env_override or self.pipeline.spec.ingest.token_env

    def expected_token(self) -> str | None:
        name = self.token_env
        return (os.environ.get(name) or None) if name else None

    def authorized(self, header: str | None) -> bool:
        expected = self.expected_token()
        if expected is None:
            return True
        scheme, _, given = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), expected.encode())

    def enter(self) -> bool:
        """Register an ingest in flight; False once draining has begun.

        Raises HttpError 429 when ``max_concurrent_ingests`` are already in flight: each
        decompresses, splits and counts a whole body, so the cap bounds that memory and CPU.
        """
        with self._gate:
            if not self._accepting:
                return False
            if self._in_flight >= self.limits.max_concurrent_ingests:
                self._refusals["saturated_ingests"] += 1
                raise HttpError(HTTPStatus.TOO_MANY_REQUESTS, "too many ingests in flight; retry later",
                                headers=[_RETRY_AFTER])
            self._in_flight += 1
            return True

    def leave(self) -> None:
        with self._gate:
            self._in_flight -= 1
            self._gate.notify_all()

    def drain(self, timeout: float) -> bool:
        """Refuse new ingests and wait for those in flight, so the final snapshot holds them."""
        self.ready.clear()
        with self._gate:
            self._accepting = False
            return self._gate.wait_for(lambda: self._in_flight == 0, timeout)


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str, *, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


class DecompressionRatioError(HttpError):
    """A compressed body that expands more than max_decompression_ratio times."""


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_listen(text: str) -> Listen:
    """``host:port``, ``:port`` (all interfaces) or ``[v6-address]:port``."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port (or :port for all interfaces), got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, as [::1]:9464, got {text!r}")
    return Listen(host, int(port))


class ExporterServer(ThreadingHTTPServer):
    daemon_threads = True
    # Gateways open bursts of connections when they flush their log queues.
    request_queue_size = 128
    # The ingest gate, not thread joins, makes shutdown wait for requests in flight.
    block_on_close = False

    def __init__(self, listen: Listen, app: App) -> None:
        self.app = app
        if ":" in listen.host:
            self.address_family = socket.AF_INET6
        super().__init__((listen.host, listen.port), _Handler)
        self._connections = 0
        self._connections_lock = threading.Lock()
        self._refusals: queue.Queue[socket.socket] = queue.Queue(_REFUSAL_BACKLOG)
        threading.Thread(target=self._refuse_loop, name="http-refusals", daemon=True).start()

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection, up to ``max_connections``; past that a 503."""
        with self._connections_lock:
            admitted = self._connections < self.app.limits.max_connections
            if admitted:
                self._connections += 1
        if not admitted:
            self.app.refused("saturated_connections")
            self.app.throttled.warning("connections", "refused connections over max_connections (%d) with 503",
                                       self.app.limits.max_connections)
            try:
                self._refusals.put_nowait(request)
            except queue.Full:
                self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._leave()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._leave()

    def _leave(self) -> None:
        with self._connections_lock:
            self._connections -= 1

    def _refuse_loop(self) -> None:
        answer = (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: %d\r\nConnection: close\r\nContent-Length: 38\r\n\r\n"
            b'{"error": "too many open connections"}' % RETRY_AFTER_SECONDS
        )
        while True:
            connection = self._refusals.get()
            try:
                connection.settimeout(1.0)
                connection.sendall(answer)
                connection.shutdown(socket.SHUT_WR)
                # Read what the client sent before closing, so the close is no reset that
                # would destroy the answer before the client reads it; briefly, so a client
                # trickling bytes cannot hold this thread.
                deadline = time.monotonic() + 1.0
                with contextlib.suppress(OSError):
                    while time.monotonic() < deadline and connection.recv(65536):
                        pass
            except OSError:
                pass
            finally:
                self.shutdown_request(connection)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup that can stall start-up.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The stock version prints a traceback to stderr, outside the log and its format.
        log.debug("connection dropped: %s", type(sys.exc_info()[1]).__name__)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{Listen(str(host) or '0.0.0.0', int(port))}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gatewatch"
    sys_version = ""
    # An idle keep-alive connection or a stalled body must not hold a thread forever.
    timeout = 60
    # Headers and body go out in two writes; with Nagle on, the second waits for the client's
    # delayed ACK (~40 ms per request on keep-alive connections).
    disable_nagle_algorithm = True
    server: ExporterServer
    _extra_headers: tuple[tuple[str, str], ...] = ()

    # -- dispatch ------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.perf_counter()
        self._body_read = False
        self._extra_headers = ()
        self._note = ""
        self._framing: Framing | None = None  # None: the body's end is unknown
        path = urlsplit(self.path).path
        self._route = path if path in _METHODS else "(unknown path)"
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        try:
            self._framing = body_framing(self.headers, self.request_version)
            status = self._route_request(path)
        except (HttpError, FramingError) as err:
            status = err.status
            if isinstance(err, FramingError):
                self.close_connection = True  # where the next request would start is unknown
                self.server.app.refused("too_large" if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
                                        else "bad_framing")
            else:
                self._extra_headers = (*self._extra_headers, *err.headers)
            with contextlib.suppress(OSError):
                self._send_json(status, {"error": err.message})
        except OSError:
            # The client went away mid-request; nothing to answer.
            self.close_connection = True
            status = HTTPStatus.BAD_REQUEST
            self._note = "connection lost"
        except Exception as err:
            # A bug costs one request, never the process. The message may quote input, so the
            # log names the exception type and where it was raised, not its text.
            frames = "".join(traceback.format_tb(err.__traceback__))
            self.server.app.throttled.error("internal", "internal error handling %s %s: %s\n%s",
                                            self.command, self._route, type(err).__name__, frames)
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            with contextlib.suppress(OSError):
                self._send_json(status, {"error": "internal error; see the exporter log"})
        log.debug(
            "%s %s %d%s (%.1f ms)", self.command, self._route, status,
            f" {self._note}" if self._note else "", (time.perf_counter() - started) * 1000,
        )
        if self.close_connection and not self._body_read and self._has_body():
            self._discard_body()

    def _discard_body(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_WR)  # the answer is complete
            self.connection.settimeout(2.0)
            deadline = time.monotonic() + _LINGER_SECONDS
            dropped = 0
            while dropped < _LINGER_BYTES and time.monotonic() < deadline:
                data = self.rfile.read1(65536)
                if not data:
                    break
                dropped += len(data)
        except OSError:
            pass

    def _route_request(self, path: str) -> HTTPStatus:
        allowed = _METHODS.get(path)
        if allowed is None:
            raise HttpError(HTTPStatus.NOT_FOUND, "unknown path")
        if self.command not in allowed:
            self._extra_headers = (("Allow", ", ".join(allowed)),)
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, f"use {' or '.join(allowed)}")
        app = self.server.app
        if path == "/metrics":
            self._send(HTTPStatus.OK, app.pipeline.scrape(), METRICS_CONTENT_TYPE)
            return HTTPStatus.OK
        if path == "/healthz":
            self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
            return HTTPStatus.OK
        if path == "/readyz":
            if app.ready.is_set():
                body = "".join(f"{line}\n" for line in ("ready", *app.notes)).encode()
                self._send(HTTPStatus.OK, body, "text/plain; charset=utf-8")
                return HTTPStatus.OK
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"not ready\n", "text/plain; charset=utf-8")
            return HTTPStatus.SERVICE_UNAVAILABLE
        if path in otlp_receiver.ROUTES:
            return self._otlp(otlp_receiver.ROUTES[path])
        return self._ingest(INGEST_ROUTES[path])

    # -- ingest --------------------------------------------------------------------------

    def _require_token(self) -> None:
        if not self.server.app.authorized(self.headers.get("Authorization")):
            self._extra_headers = (("WWW-Authenticate", 'Bearer realm="gatewatch"'),)
            raise HttpError(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token")

    def _ingest(self, fmt: str) -> HTTPStatus:
        app = self.server.app
        self._require_token()
        limits = app.limits
        # Read before taking an ingest slot: a slow sender must not hold one while it uploads.
        # What bodies being read can cost is bounded by max_connections x max_body_bytes.
        raw = self._read_body(limits.max_body_bytes)
        if not app.enter():
            raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down", headers=[_RETRY_AFTER])
        try:
            records = self._records(raw, limits)
            try:
                result = app.pipeline.ingest(records, fmt, SOURCE)
            except NotDurable:
                raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, _NOT_DURABLE, headers=[_RETRY_AFTER]) from None
        finally:
            app.leave()
        app.rejections.note(SOURCE, fmt, result.rejected, result.errors)
        self._note = f"accepted={result.accepted} rejected={result.rejected} duplicates={result.duplicates}"
        self._send_json(HTTPStatus.ACCEPTED, {
            "accepted": result.accepted,
            "rejected": result.rejected,
            "duplicates": result.duplicates,
            "errors": [{"index": index, "reason": reason} for index, reason in result.errors],
        })
        return HTTPStatus.ACCEPTED

    def _otlp(self, signal: str) -> HTTPStatus:
        """OTLP/HTTP export (see exporter.otlp_receiver), under the same token, body limits and
        ingest caps as the record routes; refusals are counted by reason."""
        app = self.server.app
        pipeline: Any = app.pipeline
        encoding = otlp_receiver.encoding_of(self.headers.get("Content-Type"))
        try:
            self._require_token()
            if encoding is None:
                raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                                f"Content-Type must be {otlp_receiver.PROTOBUF} or {otlp_receiver.JSON}")
            limits = app.limits
            raw = self._read_body(limits.max_body_bytes)
            if not app.enter():
                raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down", headers=[_RETRY_AFTER])
            try:
                reply = app.otlp.receive(pipeline, signal, self._decompressed(raw, limits), encoding)
            except NotDurable:
                raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, _NOT_DURABLE, headers=[_RETRY_AFTER]) from None
            finally:
                app.leave()
        except HttpError as err:
            reason = _OTLP_REFUSALS.get(err.status)
            if reason is not None:
                otlp_receiver.refused(pipeline, signal, reason)
            raise
        app.rejections.note(otlp_receiver.SOURCE, signal, reply.rejected, reply.errors)
        self._note = reply.note
        self._send(reply.status, reply.body, reply.content_type)
        return reply.status

    def _decompressed(self, raw: bytes, limits: Any) -> bytes:
        """Undo Content-Encoding within the size limit and the decompression ratio."""
        app = self.server.app
        try:
            return _decode(raw, self.headers.get("Content-Encoding"), limits.max_body_bytes,
                           limits.max_decompression_ratio)
        except DecompressionRatioError:
            app.refused("decompression_ratio")
            raise
        except HttpError as err:
            if err.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                app.refused("too_large")
            raise

    def _records(self, raw: bytes, limits: Any) -> list[bytes]:
        """Decompress and split the body, within the decompression ratio and the record limit."""
        body = self._decompressed(raw, limits)
        app = self.server.app
        try:
            records = split_body(body, limits.max_records_per_body)
        except TooManyRecords as err:
            app.refused("too_many_records")
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            f"body holds more than {err.limit} records (max_records_per_body); "
                            f"post smaller batches") from None
        if records is None:
            raise HttpError(HTTPStatus.BAD_REQUEST, "expected a JSON object, a JSON array or newline-delimited JSON")
        return records

    def _read_body(self, limit: int) -> bytes:
        """The request body, refused as soon as it is known to exceed ``limit`` bytes."""
        framing = self._framing or NO_BODY
        if framing.length == CHUNKED:
            body = read_chunked(self.rfile, limit)
            self._body_read = True
            return body
        if "Content-Length" not in self.headers:
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        size = framing.length
        if size > limit:
            self.server.app.refused("too_large")
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {limit} bytes")
        body = self.rfile.read(size)
        if len(body) != size:
            self.close_connection = True
            raise HttpError(HTTPStatus.BAD_REQUEST, "body shorter than Content-Length")
        self._body_read = True
        return body

    # -- responses -----------------------------------------------------------------------

    def _send_json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        self._send(status, orjson.dumps(payload) + b"\n", "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        if not self._body_read and self._has_body():
            # An unread body would be parsed as the next request on this connection.
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in self._extra_headers:
            self.send_header(name, value)
        self._extra_headers = ()
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _has_body(self) -> bool:
        framing = getattr(self, "_framing", None)
        return framing is None or framing.has_body

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The stock version quotes the request line back; that could be anything the client sent.
        self.close_connection = True
        self._body_read = True
        self._extra_headers = ()
        if getattr(self, "command", None) is None:
            self.command = ""
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            # Unparsed request line: answer with a status line all the same (no client speaks 0.9).
            self.request_version = "HTTP/1.0"
        status = HTTPStatus(code) if code in HTTPStatus._value2member_map_ else HTTPStatus.BAD_REQUEST
        with contextlib.suppress(OSError):
            self._send_json(status, {"error": status.phrase})
        log.debug("refused a malformed request: %d %s", status, status.phrase)

    def log_message(self, format: str, *args: Any) -> None:
        # The stock access log quotes request lines and paths; _dispatch logs a sanitised line.
        pass


def _decode(body: bytes, encoding: str | None, limit: int, max_ratio: int) -> bytes:
    """Undo Content-Encoding. The size limit applies to the decompressed body too, and so does
    a ratio to the compressed size: a small bomb is refused before it costs memory or records."""
    coding = (encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    if coding not in _GZIP:
        raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Content-Encoding must be gzip or identity")
    by_ratio = max_ratio * len(body)
    if by_ratio < limit:
        try:
            return _inflate(body, by_ratio)
        except HttpError as err:
            if err.status != HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
                raise
            raise DecompressionRatioError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                f"body expands more than {max_ratio} times when decompressed "
                                f"(max_decompression_ratio)") from None
    return _inflate(body, limit)


def _inflate(body: bytes, limit: int) -> bytes:
    out: list[bytes] = []
    total = 0
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            # max_length bounds memory: a small bomb cannot inflate past the limit.
            chunk = inflater.decompress(data, limit + 1 - total)
            total += len(chunk)
            out.append(chunk)
            if total > limit or inflater.unconsumed_tail:
                raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                f"decompressed body larger than {limit} bytes")
            if not inflater.eof:
                raise HttpError(HTTPStatus.BAD_REQUEST, "truncated gzip body")
            data = inflater.unused_data  # concatenated gzip members
    except zlib.error:
        raise HttpError(HTTPStatus.BAD_REQUEST, "body is not valid gzip") from None
    return b"".join(out)
