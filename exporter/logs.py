"""Logging for the exporter: one format, and a rate-limited summary of rejected records.

Log lines never carry record content. Rejection reasons come from the adapters, which name
the field that was wrong and what was expected, never its value.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

LEVELS = ("debug", "info", "warning", "error")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str) -> None:
    """Send every gatewatch log line to stderr at ``level`` (one of LEVELS)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@dataclass(slots=True)
class _Pending:
    last_logged: float
    rejected: int = 0
    first_reason: str = ""


class RejectionLog:
    """At most one WARNING per ``interval`` seconds per (source, format), with the counts.

    A gateway sending a stream of broken records must not flood the log; the exact counts are in
    ``genai_exporter_events_total{result="rejected"}`` anyway.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], _Pending] = {}

    def note(self, source: str, fmt: str, rejected: int, errors: Sequence[tuple[int, str]]) -> None:
        if rejected <= 0:
            return
        now = self._clock()
        with self._lock:
            pending = self._pending.get((source, fmt))
            if pending is None:
                pending = self._pending[(source, fmt)] = _Pending(last_logged=now - self._interval)
            pending.rejected += rejected
            if not pending.first_reason and errors:
                pending.first_reason = errors[0][1]
            if now - pending.last_logged < self._interval:
                return
            count, reason = pending.rejected, pending.first_reason
            pending.rejected, pending.first_reason, pending.last_logged = 0, "", now
        self._emit(source, fmt, count, reason)

    def flush(self) -> None:
        """Log whatever is still held back (at shutdown)."""
        with self._lock:
            held = [(key, p.rejected, p.first_reason) for key, p in self._pending.items() if p.rejected]
            self._pending.clear()
        for (source, fmt), count, reason in held:
            self._emit(source, fmt, count, reason)

    def _emit(self, source: str, fmt: str, count: int, reason: str) -> None:
        self._log.warning(
            "rejected %d %s record(s) from %s since the last report; for example: %s",
            count, fmt, source, reason or "(no reason given)",
        )


class ThrottledLog:
    """At most one line per ``interval`` seconds per key; the next one says how many like it
    were held back, so a flood of the same error neither fills the disk nor goes unnoticed."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: object) -> None:
        self._emit(logging.WARNING, key, message, args)

    def error(self, key: str, message: str, *args: object, exc_info: BaseException | None = None) -> None:
        self._emit(logging.ERROR, key, message, args, exc_info)

    def _emit(self, level: int, key: str, message: str, args: tuple[object, ...],
              exc_info: BaseException | None = None) -> None:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            message += f" ({held} more like this in the previous {self._interval:.0f} s were not logged)"
        self._log.log(level, message, *args, exc_info=exc_info)
