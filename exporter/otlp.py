"""The optional OTLP push: the exporter's cumulative state, sent to an OTLP/HTTP endpoint (an
OpenTelemetry Collector) every ``interval`` seconds as protobuf.

Every export carries the full cumulative state, so a lost export loses nothing: the next one
carries it. That is why failures are retried only until the next export is due, and why a
refused export (a 4xx other than 429) is dropped rather than queued.

Authentication headers come from the environment (``GATEWATCH_OTLP_HEADERS``, in the style of
``OTEL_EXPORTER_OTLP_HEADERS``), never from flags, and their values are never logged.
"""

from __future__ import annotations

import gzip
import http.client
import importlib.metadata
import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from contract.spec import Spec, spec_hash
from exporter.otlp_encode import StateCopy, build_request, copy_state
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder

log = logging.getLogger("gatewatch.otlp")

HEADERS_ENV = "GATEWATCH_OTLP_HEADERS"
METRICS_PATH = "/v1/metrics"
SERVICE_NAME = "gatewatch-exporter"

# RFC 9110 token characters: anything else cannot be a header name.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _package_version() -> str:
    try:
        return importlib.metadata.version("gatewatch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


VERSION = _package_version()


def parse_headers(text: str) -> dict[str, str]:
    """Parse ``key=value,key2=value2`` (values percent-encoded, as OTEL_EXPORTER_OTLP_HEADERS).

    Malformed members are skipped with a warning that names their position or header name,
    never their content: a member may be a secret with its ``=`` missing.
    """
    headers: dict[str, str] = {}
    for position, member in enumerate(text.split(","), start=1):
        if not member.strip():
            continue
        name, sep, raw = member.partition("=")
        name = name.strip()
        if not sep or not _HEADER_NAME.match(name):
            log.warning("%s: member %d is not name=value with a valid header name; ignored", HEADERS_ENV, position)
            continue
        try:
            value: str | None = unquote(raw.strip(), errors="strict")
        except UnicodeDecodeError:
            value = None
        if value is None or not _sendable(value):
            log.warning("%s: the value of header %s cannot be sent in HTTP; ignored", HEADERS_ENV, name)
            continue
        headers[name.lower()] = value
    return headers


def _sendable(value: str) -> bool:
    """HTTP sends header values as Latin-1, and a control character could split the header."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return _CONTROL.search(value) is None


def metrics_url(endpoint: str) -> str:
    """The URL to POST to: ``<endpoint>/v1/metrics``, or the endpoint itself when it ends so."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("OTLP endpoint must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"OTLP endpoint must not carry credentials; put them in {HEADERS_ENV}")
    path = parts.path.rstrip("/")
    if not path.endswith(METRICS_PATH):
        path += METRICS_PATH
    return parts._replace(path=path, fragment="").geturl()


@dataclass(frozen=True, slots=True)
class _Attempt:
    ok: bool
    retry: bool
    status: int | None = None
    detail: str = ""
    retry_after: float | None = None


class OtlpSink:
    """Pushes the pipeline's recorder state as OTLP metrics, on a daemon thread."""

    def __init__(
        self,
        endpoint: str,
        pipeline: Pipeline,
        *,
        interval: float = 15.0,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        instance_id: str | None = None,
        compress: bool = True,
        retry_initial: float = 1.0,
    ) -> None:
        if interval <= 0 or timeout <= 0 or retry_initial <= 0:
            raise ValueError("interval, timeout and retry_initial must be positive")
        self.url = metrics_url(endpoint)
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._target = parts.path + (f"?{parts.query}" if parts.query else "")
        # What logs may show of the endpoint: a query string can carry a token.
        self._where = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self._pipeline = pipeline
        self.interval = interval
        self.timeout = timeout
        self._clock = clock
        self._retry_initial = retry_initial
        self._compress = compress
        self._instance_id = instance_id or str(uuid.uuid4())
        extra = parse_headers(os.environ.get(HEADERS_ENV, "")) if headers is None else dict(headers)
        for name, value in extra.items():
            if not _HEADER_NAME.match(name) or not _sendable(value):
                raise ValueError(f"OTLP header {name!r} is not a valid HTTP header (name or value)")
        self._headers = {
            **extra,
            "Content-Type": "application/x-protobuf",
            "User-Agent": f"{SERVICE_NAME}/{VERSION}",
        }
        if compress:
            self._headers["Content-Encoding"] = "gzip"
        self._stop = threading.Event()
        self._send_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._refused: set[int] = set()
        self._partial: set[str] = set()
        self._failing = False
        self._hashed: tuple[Spec, str] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Push every ``interval`` seconds on a daemon thread until ``stop``."""
        if self._thread is not None or self._stopped:
            return
        self._thread = threading.Thread(target=self._run, name="gatewatch-otlp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and make one last push, all within a few ``timeout``s."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._thread is not None:
            # An export in flight is bounded by the socket timeout; retries end on the stop event.
            self._thread.join(timeout=2 * self.timeout)
        if not self._send_lock.acquire(timeout=self.timeout):
            log.warning("OTLP: an export to %s is still in flight; skipping the final push", self._where)
            return
        try:
            self._push_locked(deadline=time.monotonic() + self.timeout, interruptible=False)
        except Exception:
            log.exception("OTLP: the final push failed")
        finally:
            self._send_lock.release()

    def push_once(self) -> bool:
        """One export (retried until the next one is due); True when the endpoint answered 2xx."""
        with self._send_lock:
            return self._push_locked(deadline=time.monotonic() + self.interval, interruptible=True)

    def _run(self) -> None:
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval
            try:
                with self._send_lock:
                    self._push_locked(deadline=next_at, interruptible=True)
            except Exception:  # the thread must outlive any one bad export
                log.exception("OTLP: export failed unexpectedly; the next one is due in %.0fs", self.interval)
            now = time.monotonic()
            if next_at <= now:  # an export overran its slot: skip the missed ones
                next_at = now + self.interval

    # -- one export ----------------------------------------------------------------------

    def _push_locked(self, *, deadline: float, interruptible: bool) -> bool:
        body = self.encode()
        attempt = 0
        while True:
            result = self._post(body)
            if result.ok:
                if self._failing:
                    log.info("OTLP: exports to %s succeed again", self._where)
                    self._failing = False
                return True
            if not result.retry:
                self._refused_once(result)
                return False
            attempt += 1
            delay = self._backoff(attempt, result.retry_after)
            if time.monotonic() + delay >= deadline:
                self._gave_up(result, attempt)
                return False
            if interruptible:
                if self._stop.wait(delay):
                    return False  # stopping: the final push carries this export's data
            else:
                time.sleep(delay)

    def encode(self) -> bytes:
        """The request body for the current state (gzip-compressed when ``compress``)."""
        state, spec = self._pipeline.read(self._copy)
        request = build_request(state, now=self._clock(), resource=self._resource(spec), scope_version=VERSION)
        body = request.SerializeToString()
        return gzip.compress(body, compresslevel=1) if self._compress else body

    def _copy(self, recorder: Recorder) -> tuple[StateCopy, Spec]:
        return copy_state(recorder), self._pipeline.spec

    def _resource(self, spec: Spec) -> dict[str, str]:
        if self._hashed is None or self._hashed[0] is not spec:
            self._hashed = (spec, spec_hash(spec))
        return {
            "service.name": SERVICE_NAME,
            "service.version": VERSION,
            "service.instance.id": self._instance_id,
            "gatewatch.spec.hash": self._hashed[1],
        }

    def _post(self, body: bytes) -> _Attempt:
        connection_type = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = connection_type(self._host, self._port, timeout=self.timeout)
        try:
            connection.request("POST", self._target, body=body, headers=self._headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as err:
            return _Attempt(ok=False, retry=True, detail=f"{type(err).__name__}: {err}")
        finally:
            connection.close()
        status = response.status
        if 200 <= status < 300:
            self._note_partial_success(payload)
            return _Attempt(ok=True, retry=False, status=status)
        retry = status >= 500 or status == 429
        return _Attempt(
            ok=False,
            retry=retry,
            status=status,
            detail=f"HTTP {status}",
            retry_after=_retry_after(response.getheader("Retry-After")),
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        ceiling = self._retry_initial * 2 ** (attempt - 1)
        delay = random.uniform(ceiling / 2, ceiling)  # jitter: replicas must not retry in step
        return delay if retry_after is None else max(delay, retry_after)

    def _refused_once(self, result: _Attempt) -> None:
        # A refusal (bad auth, bad path, payload too large) repeats on every export; once is enough.
        assert result.status is not None
        if result.status not in self._refused:
            self._refused.add(result.status)
            log.error(
                "OTLP: %s refused the export with HTTP %d; dropping it (later exports carry the "
                "cumulative state; this status is logged once)",
                self._where, result.status,
            )

    def _gave_up(self, result: _Attempt, attempts: int) -> None:
        # A failing endpoint fails every interval: warn at the start of a streak, then stay quiet.
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        log.log(
            level,
            "OTLP: export to %s failed after %d attempt(s) (%s); the next export carries its data",
            self._where, attempts, result.detail,
        )

    def _note_partial_success(self, payload: bytes) -> None:
        if not payload:
            return
        try:
            answer = ExportMetricsServiceResponse.FromString(payload)
        except DecodeError:
            return
        rejected = answer.partial_success.rejected_data_points
        if not rejected:
            return
        message = answer.partial_success.error_message[:200]
        # The same rejection comes back on every export; warn once per message.
        level = logging.DEBUG if message in self._partial else logging.WARNING
        if len(self._partial) < 100:
            self._partial.add(message)
        log.log(level, "OTLP: %s rejected %d data point(s): %s", self._where, rejected, message)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; the HTTP-date form is rare here and falls back to backoff."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
