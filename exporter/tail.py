"""Follow a JSONL file the gateway writes (Kong file-log, a LiteLLM log file), exactly once.

Only complete lines are handed over; a partial last line waits for its newline. Each batch goes
to the pipeline with the position just after its last line, and the pipeline stores that
position in the same atomic snapshot as the counters, so after a crash the tail resumes exactly
where the restored counters stopped: no record lost, none counted twice.

A position is (device, inode, offset, fingerprint): the inode follows the file through a
rename-style rotation, and the fingerprint (a digest of the file's first bytes) tells a reused
inode, or a file truncated and refilled while the exporter was down, from the file last read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from exporter.logs import RejectionLog

log = logging.getLogger("gatewatch.tail")

SOURCE = "file"
READ_SIZE = 1 << 20
FINGERPRINT_BYTES = 1024
# Past this, a rotated file that is still growing is left behind: its writer never reopened.
MAX_ROTATION_WAIT = 30.0
# Stands in for a line longer than the limit: not JSON, so the adapter rejects and counts it.
OVERSIZE_RECORD = b"\x00line too long"


class Sink(Protocol):
    """What the tail needs from ``exporter.pipeline.Pipeline``."""

    def ingest(
        self, records: list[bytes], fmt: str, source: str, position: tuple[str, Any] | None = None
    ) -> Any: ...

    def position(self, key: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Position:
    device: int
    inode: int
    offset: int
    fingerprint_size: int
    fingerprint: str

    def encode(self) -> list[Any]:
        return [self.device, self.inode, self.offset, self.fingerprint_size, self.fingerprint]

    @classmethod
    def decode(cls, value: Any) -> Position | None:
        """The stored position, or None when there is none or it has an unexpected shape."""
        if not isinstance(value, list | tuple) or len(value) != 5:
            return None
        device, inode, offset, size, digest = value
        if not all(isinstance(n, int) and n >= 0 for n in (device, inode, offset, size)):
            return None
        if not isinstance(digest, str):
            return None
        return cls(device, inode, offset, size, digest)


def position_key(path: str | os.PathLike[str]) -> str:
    return f"tail:{os.path.abspath(path)}"


def fingerprint(handle: BinaryIO, size: int) -> str:
    head = os.pread(handle.fileno(), size, 0)
    return hashlib.blake2b(head, digest_size=16).hexdigest()


class FileTail:
    """Follows one file. ``poll_once`` does one round of work (tests drive it directly);
    ``start`` runs it every ``poll_interval`` seconds on a thread until ``stop``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        fmt: str,
        sink: Sink,
        *,
        poll_interval: float = 0.2,
        batch_lines: int = 1000,
        max_line_bytes: int = 10 * 1024 * 1024,
        rotation_grace: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.key = position_key(path)
        self._sink = sink
        self._poll_interval = poll_interval
        self._batch_lines = batch_lines
        self._max_line = max_line_bytes
        self._grace = rotation_grace
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: BinaryIO | None = None
        self._device = self._inode = 0
        self._offset = 0          # committed: just after the last line handed over
        self._pending = b""       # bytes read past the offset, no newline yet
        self._skipping = False    # inside a line longer than the limit
        self._skipped = 0         # bytes of that line already read and dropped
        self._draining = False    # the open file was rotated away before a restart
        self._rotation: tuple[float, float, int] | None = None  # first seen, last growth, size
        self._fingerprint: tuple[int, str] = (0, fingerprint_of(b""))
        self._resumed = False
        self._waiting_logged = False
        self.records_handed = 0
        self._rejections = RejectionLog(log)

    # -- thread --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"tail {self.path.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.close()
        self._rejections.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except OSError as err:
                log.error("tail %s: %s; retrying", self.path, err.strerror or err)
            except Exception:
                log.exception("tail %s: unexpected error; retrying", self.path)
            self._stop.wait(self._poll_interval)

    # -- one round -----------------------------------------------------------------------

    def poll_once(self) -> int:
        """Hand over every complete line available now; returns how many were handed over."""
        before = self.records_handed
        if self._file is None and not self._open():
            return 0
        # A rotation switches files; two switches in one round is already unusual.
        for _ in range(4):
            self._restart_if_truncated()
            self._read_to_eof()
            if self._stop.is_set() or not self._switch_if_rotated():
                break
        return self.records_handed - before

    def _open(self) -> bool:
        if not self._resumed:
            self._resumed = True
            if self._resume():
                return True
        return self._open_current()

    def _resume(self) -> bool:
        """Reopen the file the stored position points at, wherever rotation moved it."""
        stored = Position.decode(self._sink.position(self.key))
        if stored is None:
            return False
        candidates = [self.path, *sorted(_rotated_siblings(self.path))]
        for candidate in candidates:
            try:
                handle = open(candidate, "rb", buffering=0)  # noqa: SIM115 - kept open while following
            except OSError:
                continue
            info = os.fstat(handle.fileno())
            if (info.st_dev, info.st_ino) != (stored.device, stored.inode):
                handle.close()
                continue
            if info.st_size < stored.offset or fingerprint(handle, stored.fingerprint_size) != stored.fingerprint:
                handle.close()
                if candidate == self.path:
                    log.warning("tail %s: the file was truncated or replaced since the last run; "
                                "reading it from the start", self.path)
                    return False
                continue
            handle.seek(stored.offset)
            self._adopt(handle, stored.offset)
            self._draining = candidate != self.path
            if self._draining:
                log.info("tail %s: finishing the rotated file %s from offset %d first",
                         self.path, candidate.name, stored.offset)
            else:
                log.info("tail %s: resuming at offset %d", self.path, stored.offset)
            return True
        log.warning("tail %s: the file last read (inode %d) is gone; reading the current file from the start",
                    self.path, stored.inode)
        return False

    def _open_current(self) -> bool:
        try:
            handle = open(self.path, "rb", buffering=0)  # noqa: SIM115 - kept open while following
        except FileNotFoundError:
            if not self._waiting_logged:
                log.info("tail %s: waiting for the file to appear", self.path)
                self._waiting_logged = True
            return False
        self._waiting_logged = False
        self._adopt(handle, 0)
        self._draining = False
        self._commit([])
        log.info("tail %s: following from the start (inode %d)", self.path, self._inode)
        return True

    def _adopt(self, handle: BinaryIO, offset: int) -> None:
        self.close()
        info = os.fstat(handle.fileno())
        self._file = handle
        self._device, self._inode = info.st_dev, info.st_ino
        self._offset = offset
        self._pending = b""
        self._skipping = False
        self._skipped = 0
        self._rotation = None
        size = min(offset, FINGERPRINT_BYTES)
        self._fingerprint = (size, fingerprint(handle, size))

    def _read_to_eof(self) -> None:
        assert self._file is not None
        while not self._stop.is_set():
            chunk = self._file.read(READ_SIZE)
            if not chunk:
                break
            self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        """Split what was read into complete lines and hand them over in batches."""
        data = self._pending + chunk
        end = data.rfind(b"\n")
        if end < 0:
            self._hold(data)
            return
        self._pending = data[end + 1 :]
        lines = data[: end + 1].split(b"\n")
        lines.pop()  # the empty piece after the final newline
        batch: list[bytes] = []
        offset = self._offset + self._skipped
        self._skipped = 0
        for line in lines:
            offset += len(line) + 1
            if self._skipping:
                # The end of an oversized line: the whole line stands as one rejected record.
                self._skipping = False
                batch.append(OVERSIZE_RECORD)
            elif len(line) > self._max_line:
                batch.append(OVERSIZE_RECORD)
            elif line.strip():
                batch.append(line)
            if len(batch) >= self._batch_lines:
                self._commit(batch, offset)
                batch = []
        if batch or offset != self._offset:
            self._commit(batch, offset)
        self._hold(self._pending)

    def _hold(self, data: bytes) -> None:
        """Keep a partial line, unless it is already too long to ever be a record."""
        if not self._skipping and len(data) > self._max_line:
            log.warning("tail %s: the line at offset %d is longer than %d bytes; it counts as one "
                        "rejected record", self.path, self._offset, self._max_line)
            self._skipping = True
        if self._skipping:
            self._skipped += len(data)
            data = b""
        self._pending = data

    def _commit(self, batch: list[bytes], offset: int | None = None) -> None:
        if offset is not None:
            self._offset = offset
        result = self._sink.ingest(batch, self.fmt, SOURCE, position=(self.key, self._position().encode()))
        self.records_handed += len(batch)
        if result is not None and result.rejected:
            self._rejections.note(SOURCE, self.fmt, result.rejected, result.errors)

    def _position(self) -> Position:
        size, digest = self._fingerprint
        wanted = min(self._offset, FINGERPRINT_BYTES)
        if size != wanted and self._file is not None:
            self._fingerprint = size, digest = wanted, fingerprint(self._file, wanted)
        return Position(self._device, self._inode, self._offset, size, digest)

    # -- rotation and truncation ---------------------------------------------------------

    def _restart_if_truncated(self) -> None:
        """Checked before reading: a file truncated and refilled past the offset between two polls
        is only recognisable by its first bytes, and only before those bytes are read."""
        assert self._file is not None
        read_to = self._offset + self._skipped + len(self._pending)
        size, digest = self._fingerprint
        if os.fstat(self._file.fileno()).st_size >= read_to and (
            not size or fingerprint(self._file, size) == digest
        ):
            return
        log.warning("tail %s: truncated; reading it again from the start", self.path)
        self._file.seek(0)
        self._offset, self._pending, self._skipping, self._skipped = 0, b"", False, 0
        self._fingerprint = (0, fingerprint_of(b""))
        self._commit([])

    def _switch_if_rotated(self) -> bool:
        """At EOF: True when the file was rotated and the new one is now open."""
        assert self._file is not None
        if not self._draining:
            try:
                info = os.stat(self.path)
            except FileNotFoundError:
                return False  # rotated, the new file not created yet: the old one may still grow
            if (info.st_dev, info.st_ino) == (self._device, self._inode):
                return False
        if not self._rotated_file_settled():
            return False
        self._finish_rotated()
        log.info("tail %s: rotated; following the new file", self.path)
        return self._open_current()

    def _rotated_file_settled(self) -> bool:
        """True once the rotated file stopped growing for the grace period (or a long while
        passed): a logger keeps writing to the renamed file until it reopens its path, and
        lines it writes there after the switch would be lost."""
        assert self._file is not None
        now = self._clock()
        size = os.fstat(self._file.fileno()).st_size
        if self._rotation is None:
            self._rotation = (now, now, size)
        elif self._rotation[2] != size:
            self._rotation = (self._rotation[0], now, size)
        first_seen, last_growth, _ = self._rotation
        return now - last_growth >= self._grace or now - first_seen >= MAX_ROTATION_WAIT

    def _finish_rotated(self) -> None:
        """The rotated file ends here: a last line without a newline is still a record."""
        tail, self._pending = self._pending, b""
        if self._skipping or tail.strip():
            end = self._offset + self._skipped + len(tail)
            self._commit([OVERSIZE_RECORD if self._skipping else tail], end)
        self._skipping, self._skipped = False, 0
        self.close()


def fingerprint_of(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def _rotated_siblings(path: Path) -> list[Path]:
    """Files next to ``path`` that rotation tools name after it (path.1, path-20260101, ...)."""
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.name != path.name and p.name.startswith(path.name)]
