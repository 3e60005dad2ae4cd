"""Appending to the audit trail: buffered lines, a daily file, recovery after a restart.

The writer is not thread-safe: its owner serialises calls (the pipeline calls it under its lock).
It never raises into its caller's ingest path: a failed write is logged, counted through
``on_failure`` and retried on the next flush, with the lines kept in memory up to a bound.

Durability: lines are written (to the OS) on every ``flush`` — the owner flushes at least every
second, before every scrape and snapshot, and at shutdown — and fsynced when a day file is
closed and at shutdown. The length and head the owner exposes are those of written lines, so
Prometheus never records a line the files may not hold.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

from exporter.audit import lines
from exporter.audit.chain import line_hash
from exporter.audit.files import complete_tail, day_files, file_name
from exporter.audit.relevance import AuditShape
from exporter.audit.retention import expired
from exporter.state import fsync_directory

log = logging.getLogger("gatewatch.audit")

# Lines kept while the directory cannot be written (disk full, volume gone). Past this the
# oldest are dropped: the verifier then reports the gap, which is the truth.
MAX_BUFFERED = 100_000


def _day(timestamp: float) -> date:
    return datetime.fromtimestamp(timestamp, UTC).date()


def _midnight_after(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86_400.0


class AuditWriter:
    """Appends audit lines under ``directory``; ``maintain()`` opens today's file (and must run
    about every second); ``close()`` at shutdown."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        retention_max_days: int = 400,
        on_failure: Callable[[], None] = lambda: None,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.retention_max_days = retention_max_days
        self._clock = clock
        self.on_failure = on_failure
        self._max_buffered = max_buffered
        self._buffer: list[bytes] = []
        self._handle: BinaryIO | None = None
        self._purged_on: date | None = None
        self.seq = 0  # the last line appended
        self.head = lines.GENESIS
        self.written_seq = 0  # the last line written to the file
        self.written_head = lines.GENESIS
        self.last_write: float | None = None
        self.failures = 0
        self._previous_day: date | None = None  # the newest day file before the current one
        self._day: date | None = None
        self._next_midnight = 0.0
        self._recover()
        # Lines before this one were there at start: what a start-up verification covers.
        self.recovered_seq = self.seq

    # -- recovery ------------------------------------------------------------------------------

    def _recover(self) -> None:
        """Continue the chain from the last complete line of the newest day file that has one."""
        for day, path in reversed(day_files(self.directory)):
            size = path.stat().st_size
            tail, complete = complete_tail(path, size)
            if complete < size:
                # A torn write from a crash: never part of the chain, never exposed as written.
                log.warning("audit file %s ends in an incomplete line (%d bytes); removing it", path.name,
                            size - complete)
                with path.open("r+b") as handle:
                    handle.truncate(complete)
            if self._day is None:
                self._day, self._next_midnight = day, _midnight_after(day)
            if not tail:
                continue
            self.head = self.written_head = line_hash(tail[-1])
            self.seq = self.written_seq = _seq_of(tail, path)
            self._previous_day = day
            return
        self._previous_day = None

    # -- appending -----------------------------------------------------------------------------

    def append(self, timestamp: float, request_id: str | None, shape: AuditShape, counts: Iterable[int]) -> None:
        """Append one request line of ``shape``; ``counts`` line up with the shape's entity types."""
        try:
            entities: dict[str, int] = {}
            for name, count in zip(shape.entities, counts, strict=False):
                if count:
                    entities[name] = entities.get(name, 0) + count
            if shape.entities_only and not entities:
                return
            if self._clock() >= self._next_midnight:
                self._roll()
            seq = self.seq + 1
            line = lines.request_line(seq, lines.format_time(timestamp), request_id, shape.static,
                                      entities=entities, prev=self.head)
            self._push(seq, line)
        except Exception:  # the audit trail must never cost ingest a record
            log.exception("could not append an audit line")
            self._fail()

    def _push(self, seq: int, line: bytes) -> None:
        buffer = self._buffer
        buffer.append(line)
        self.seq, self.head = seq, line_hash(line)
        if len(buffer) > self._max_buffered:
            del buffer[0]
            log.error("audit buffer full while writes fail: dropped the oldest unwritten line")

    # -- writing -------------------------------------------------------------------------------

    def flush(self) -> bool:
        """Write the buffered lines to today's file; False when that failed (counted, retried later)."""
        buffer = self._buffer
        if not buffer:
            return True
        try:
            handle = self._open()
            data = b"\n".join(buffer) + b"\n"
            start = handle.tell()
            try:
                view = memoryview(data)
                while view:
                    view = view[handle.write(view):]
            except OSError:
                try:  # no torn line may stay behind to be chained after
                    handle.truncate(start)
                finally:
                    self._close()
                raise
        except OSError as err:
            log.error("could not write the audit log to %s: %s", self.directory, err.strerror or err)
            self._fail()
            return False
        self.written_seq, self.written_head = self.seq, self.head
        self.last_write = self._clock()
        buffer.clear()
        return True

    def maintain(self) -> None:
        """Every second or so: roll at UTC midnight (a roll line even on a quiet day), write what
        is buffered, and once a day purge day files beyond the retention maximum."""
        try:
            if self._clock() >= self._next_midnight:
                self._roll()
            self.flush()
            today = _day(self._clock())
            if self._purged_on != today:
                self._purged_on = today
                self.purge_expired(today)
        except Exception:
            log.exception("audit log maintenance failed; retrying in a second")
            self._fail()

    def purge_expired(self, today: date) -> list[Path]:
        removed: list[Path] = []
        for path in expired(self.directory, today, self.retention_max_days):
            try:
                path.unlink()
            except OSError as err:
                log.error("could not purge the audit file %s: %s", path.name, err.strerror or err)
                self._fail()
                continue
            removed.append(path)
            log.info("purged audit file %s (older than %d days)", path.name, self.retention_max_days)
        return removed

    def close(self) -> None:
        """Write and fsync everything (at shutdown)."""
        self.flush()
        self._sync()
        self._close()

    # -- day files -----------------------------------------------------------------------------

    def _roll(self) -> None:
        """Close the current day file (fsynced) and open today's with its roll line."""
        self.flush()
        self._sync()
        self._close()
        now = self._clock()
        today = _day(now)
        if self._day is not None and (self.directory / file_name(self._day)).exists():
            self._previous_day = self._day
        self._day, self._next_midnight = today, _midnight_after(today)
        seq = self.seq + 1
        self._push(seq, lines.roll_line(seq, lines.format_time(now), self._previous_day, self.head))
        if self.flush():
            self._sync()
            fsync_directory(self.directory)

    def _open(self) -> BinaryIO:
        if self._handle is None:
            assert self._day is not None
            self.directory.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.directory / file_name(self._day), "ab", buffering=0)  # noqa: SIM115
        return self._handle

    def _sync(self) -> None:
        if self._handle is not None:
            try:
                os.fsync(self._handle.fileno())
            except OSError as err:
                log.error("could not fsync the audit log: %s", err.strerror or err)
                self._fail()

    def _close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            with contextlib.suppress(OSError):
                handle.close()

    def _fail(self) -> None:
        self.failures += 1
        self.on_failure()


def _seq_of(tail: list[bytes], path: Path) -> int:
    """The seq of the last line, counting on from the last parseable one when the end is damaged."""
    for back, raw in enumerate(reversed(tail)):
        try:
            return int(lines.parse(raw)["seq"]) + back
        except lines.LineError:
            continue
    log.error("no readable line at the end of %s; the chain continues from seq %d", path.name, len(tail))
    return len(tail)


def midnight(day: date) -> float:
    """Unix time of ``day``'s start (UTC), for tests and callers that step a clock."""
    return _midnight_after(day) - 86_400.0

