"""Posting simulated records to a running exporter, batched as the gateways' HTTP loggers do.

Each format has its own batch: a JSON array POSTed to ``<target>/ingest/<format>`` when it
holds ``batch_size`` records or its oldest record has waited ``flush_every`` seconds. Records
are sent when their time comes (``SimRecord.at``), over one keep-alive connection (stdlib
``http.client``).
"""

from __future__ import annotations

import http.client
import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from simulate.traffic import SimRecord

FORMATS = ("litellm", "kong")
_ERRORS_SHOWN = 5


@dataclass(slots=True)
class PostSummary:
    sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FORMATS, 0))
    batches: int = 0
    http_errors: int = 0          # responses other than 2xx
    connection_errors: int = 0    # batches that got no response at all, after one retry
    responded: bool = False       # the target answered at least once

    @property
    def records_sent(self) -> int:
        return sum(self.sent.values())

    def line(self, target: str) -> str:
        per_format = ", ".join(f"{fmt} {n}" for fmt, n in self.sent.items())
        return (f"sent {self.records_sent} records ({per_format}) in {self.batches} batches to {target}; "
                f"{self.http_errors} HTTP errors, {self.connection_errors} connection failures")


class Poster:
    """POSTs batches to one exporter over a keep-alive connection, reconnecting when it drops."""

    def __init__(self, target: str, token: str | None = None, timeout: float = 10.0,
                 report: Callable[[str], None] | None = None) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected a target like http://127.0.0.1:9464, got {target!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._connection: http.client.HTTPConnection | None = None
        self._report = report or (lambda message: print(message, file=sys.stderr))
        self.summary = PostSummary()

    def post(self, fmt: str, payloads: list[dict[str, Any]]) -> None:
        body = orjson.dumps(payloads)
        self.summary.batches += 1
        for attempt in (1, 2):  # one retry: a keep-alive connection the server closed is routine
            try:
                status, reason = self._send(f"{self._base}/ingest/{fmt}", body)
            except (OSError, http.client.HTTPException) as err:
                self.close()
                if attempt == 2:
                    self.summary.connection_errors += 1
                    if self.summary.connection_errors <= _ERRORS_SHOWN:
                        self._report(f"simulate: cannot reach the exporter: {err.__class__.__name__}: {err}")
                continue
            self.summary.responded = True
            if 200 <= status < 300:
                self.summary.sent[fmt] = self.summary.sent.get(fmt, 0) + len(payloads)
            else:
                self.summary.http_errors += 1
                if self.summary.http_errors <= _ERRORS_SHOWN:
                    self._report(f"simulate: POST /ingest/{fmt} answered {status} {reason}")
            return

    def _send(self, path: str, body: bytes) -> tuple[int, str]:
        if self._connection is None:
            factory = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = factory(self._host, self._port, timeout=self._timeout)
        self._connection.request("POST", path, body=body, headers=self._headers)
        response = self._connection.getresponse()
        response.read()  # drain, so the connection can carry the next request
        if response.will_close:
            self.close()
        return response.status, response.reason

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def run(
    records: Iterable[SimRecord],
    send: Callable[[str, list[dict[str, Any]]], None],
    *,
    batch_size: int = 100,
    flush_every: float = 1.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Send ``records`` when their time comes, batched per format. True when interrupted (Ctrl-C).

    Whatever is pending is flushed at the end, interrupted or not.
    """
    pending: dict[str, list[dict[str, Any]]] = {}
    opened: dict[str, float] = {}

    def flush(fmt: str) -> None:
        batch = pending.pop(fmt, None)
        opened.pop(fmt, None)
        if batch:
            send(fmt, batch)

    interrupted = False
    try:
        for record in records:
            while True:
                now = clock()
                due = min(opened.values(), default=math.inf) + flush_every
                if due <= now:
                    for fmt in [f for f, t in opened.items() if t + flush_every <= now]:
                        flush(fmt)
                    continue
                if record.at <= now:
                    break
                sleep(min(record.at, due) - now)
            pending.setdefault(record.fmt, []).append(record.payload)
            opened.setdefault(record.fmt, now)
            if len(pending[record.fmt]) >= batch_size:
                flush(record.fmt)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for fmt in list(pending):
            flush(fmt)
    return interrupted
