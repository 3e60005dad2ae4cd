"""The write-ahead log: every accepted chunk of records, on disk before its 202.

Entries are appended under the pipeline lock (so the file order is the counting order) and made
durable by ``sync`` outside it with group commit: one ``fdatasync`` covers every entry written
before it started, and callers that arrive while one runs wait for it and share the next.

Each entry carries a sequence number; a snapshot records the last one it covers, so replay at
start applies exactly the entries after it (idempotent however often the process restarts).
The log lives in segments, one per snapshot interval: ``rotate`` starts a new segment under the
lock while a snapshot is taken, and ``truncate`` deletes segments every kept snapshot covers.

An entry on disk: length (uint32) and xxh64 of the payload (uint64), little-endian, then the
msgpack payload. A torn entry at the very end of the newest segment is what kill -9 or power
loss during a write leaves (its batch was never acknowledged): it is cut off quietly. Any other
damage stops replay there, and the damaged segments are moved aside for inspection.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import xxhash

from exporter.event import GatewayEvent, GuardrailEvaluation
from exporter.state import fsync_directory

log = logging.getLogger("gatewatch.wal")

DIRECTORY = "wal"
_HEADER = struct.Struct("<IQ")
_SUFFIX = ".log"
_MAX_ENTRY = 1 << 30


class Entry(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """One chunk of one batch: what counting it again needs, and nothing else (no record text)."""

    seq: int
    fmt: str
    source: str
    position: tuple[str, Any] | None
    rejected: int
    duplicates: int
    ignored: int
    # Ids are never stored: each event's id digest (0 for none) carries the duplicate window.
    # Each event as an array in GatewayEvent's field order (see encode_event).
    events: list[list[Any]]
    digests: list[int]
    # Sums a producer reported (pipeline.Totals, resolved), as arrays in its field order.
    totals: list[list[Any]] = []


_EVENT_FIELDS = [f.name for f in msgspec.structs.fields(GatewayEvent)]
# Fields the log holds as the pipeline resolved them (bounded labels, never raw record strings),
# in the order ``encode_event`` takes them.
LABEL_FIELDS = ("attributes", "model", "provider", "operation", "guardrails")
_REPLACED = tuple(_EVENT_FIELDS.index(name) for name in LABEL_FIELDS)
_GUARDRAILS = _EVENT_FIELDS.index("guardrails")
_ID = _EVENT_FIELDS.index("id")


def encode_event(event: GatewayEvent, labels: tuple[Any, ...]) -> list[Any]:
    """The event as the log stores it: a plain array in GatewayEvent's field order (cheaper to
    encode than a map), with no id (the entry holds its digest) and ``labels`` (values for
    LABEL_FIELDS) in place of the raw strings."""
    fields = list(msgspec.structs.astuple(event))
    fields[_ID] = None  # the log holds the id's digest only
    for index, value in zip(_REPLACED, labels, strict=True):
        fields[index] = value
    return fields


def decode_event(fields: list[Any] | tuple[Any, ...]) -> GatewayEvent:
    """A GatewayEvent back from its logged array."""
    values = list(fields)
    values[_GUARDRAILS] = tuple(GuardrailEvaluation(*g) for g in values[_GUARDRAILS])
    return GatewayEvent(*values)


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Entry)


@dataclass(frozen=True, slots=True)
class Damage:
    segment: Path
    offset: int
    reason: str


class WriteAheadLog:
    def __init__(self, state_directory: Path) -> None:
        self.directory = state_directory / DIRECTORY
        self.directory.mkdir(exist_ok=True)
        self._fd = -1
        self._sync = threading.Condition()
        self._written = 0  # bytes handed to the kernel, over the log's life in this process
        self._synced = 0
        self._syncing = False
        self.last_seq = 0
        self.damage: Damage | None = None
        # After a failed sync the kernel may have dropped the unsynced pages while a later sync
        # succeeds, so nothing is appended until a snapshot has made the state durable again.
        self._failed = False

    # -- start-up --------------------------------------------------------------------------

    def replay(self, after_seq: int) -> Iterator[Entry]:
        """Entries with seq > ``after_seq``, oldest first; sets ``damage`` if it had to stop early.
        Must run (to the end) before the first ``append``."""
        segments = self._segments()
        for number, segment in enumerate(segments):
            newest = number == len(segments) - 1
            data = segment.read_bytes()
            offset = 0
            while offset < len(data):
                problem, entry, size = _read_entry(data, offset)
                if problem is not None:
                    if newest and problem == "torn":
                        log.warning("write-ahead log %s ends in a torn entry (a write cut short by a crash; "
                                    "never acknowledged): cut off at byte %d", segment.name, offset)
                        with open(segment, "r+b") as handle:
                            handle.truncate(offset)
                            os.fsync(handle.fileno())
                        break
                    self.damage = Damage(segment, offset, problem)
                    self._set_aside(segments[number:])
                    return
                assert entry is not None
                offset += size
                if entry.seq <= self.last_seq:
                    self.damage = Damage(segment, offset, "sequence numbers go backwards")
                    self._set_aside(segments[number:])
                    return
                self.last_seq = entry.seq
                if entry.seq > after_seq:
                    yield entry
        self.last_seq = max(self.last_seq, after_seq)

    def _set_aside(self, segments: list[Path]) -> None:
        for segment in segments:
            os.replace(segment, segment.with_suffix(".damaged"))
        fsync_directory(self.directory)

    # -- writing (under the pipeline lock) -------------------------------------------------

    def append(self, fmt: str, source: str, position: tuple[str, Any] | None, *, rejected: int,
               duplicates: int, ignored: int = 0, events: list[list[Any]], digests: list[int],
               totals: list[list[Any]] | None = None) -> int:
        """Write one entry (not yet durable: see ``sync``); returns its end mark. Raises OSError,
        having written nothing usable, when the disk refuses."""
        if self._failed:
            raise OSError(5, "an earlier write-ahead log sync failed; waiting for a snapshot")
        if self._fd < 0:
            self._open_segment(self.last_seq + 1)
        seq = self.last_seq + 1
        entry = Entry(seq, fmt, source, position, rejected, duplicates, ignored, events, digests, totals or [])
        payload = _ENCODER.encode(entry)
        frame = _HEADER.pack(len(payload), xxhash.xxh64_intdigest(payload)) + payload
        written = os.write(self._fd, frame)
        if written != len(frame):  # a full disk can take part of a write
            os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_CUR) - written)
            raise OSError(28, "short write to the write-ahead log")
        self.last_seq = seq
        self._written += written
        return self._written

    def rotate(self) -> int:
        """Start a new segment with the next entry; returns the last seq of the old one."""
        if self._fd >= 0:
            self._close_segment()
        return self.last_seq

    def _open_segment(self, first_seq: int) -> None:
        path = self.directory / f"{first_seq:020d}{_SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_directory(self.directory)

    def _close_segment(self) -> None:
        with self._sync:
            while self._syncing:  # a sync outside the lock may be using this descriptor
                self._sync.wait()
            fd, self._fd = self._fd, -1
            try:
                # Whatever this segment holds must be durable before a later sync can say so.
                if self._synced < self._written:
                    os.fdatasync(fd)
                    self._synced = self._written
            except OSError:
                self._failed = True
                raise
            finally:
                os.close(fd)

    # -- group commit (outside the lock) ---------------------------------------------------

    def mark(self) -> int:
        return self._written

    @property
    def failed(self) -> bool:
        return self._failed

    def recovered(self) -> None:
        """A snapshot written after a failure holds everything counted: appending may resume."""
        with self._sync:
            self._synced = self._written
            self._failed = False

    def sync(self, upto: int) -> None:
        """Return once every byte written before ``upto`` is on disk. Raises OSError if the
        disk refuses (then nothing after the last successful sync may be called durable)."""
        with self._sync:
            while self._synced < upto:
                if self._failed:
                    raise OSError(5, "an earlier write-ahead log sync failed; waiting for a snapshot")
                if self._syncing:
                    self._sync.wait()
                    continue
                self._syncing = True
                target, fd = self._written, self._fd
                self._sync.release()
                try:
                    if fd >= 0:
                        os.fdatasync(fd)
                except OSError:
                    self._failed = True
                    raise
                finally:
                    self._sync.acquire()
                    self._syncing = False
                    self._sync.notify_all()
                self._synced = max(self._synced, target)

    # -- truncation ------------------------------------------------------------------------

    def truncate(self, covered_seq: int) -> None:
        """Delete the segments whose every entry has seq <= ``covered_seq``."""
        segments = self._segments()
        firsts = [int(s.stem) for s in segments]
        for segment, next_first in zip(segments, firsts[1:], strict=False):
            if next_first - 1 <= covered_seq:
                segment.unlink(missing_ok=True)

    def _segments(self) -> list[Path]:
        return sorted(p for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def close(self) -> None:
        if self._fd >= 0:
            self._close_segment()


def _read_entry(data: bytes, offset: int) -> tuple[str | None, Entry | None, int]:
    """(problem, entry, bytes it took): problem is "torn" for an incomplete entry at the end."""
    end = offset + _HEADER.size
    if end > len(data):
        return "torn", None, 0
    length, checksum = _HEADER.unpack_from(data, offset)
    if length > _MAX_ENTRY:
        return "entry length is implausible", None, 0
    if end + length > len(data):
        return "torn", None, 0
    payload = data[end:end + length]
    if xxhash.xxh64_intdigest(payload) != checksum:
        return "checksum mismatch", None, 0
    try:
        entry = _DECODER.decode(payload)
    except msgspec.DecodeError as err:
        return f"undecodable entry ({err})", None, 0
    return None, entry, _HEADER.size + length
