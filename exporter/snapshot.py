"""The state snapshot: every part behind one digest, kept in generations.

A snapshot holds the counters, tail positions, the filling slice of the duplicate window and
references to its sealed slices (each a file written once, named in the snapshot with its own
digest), admitted label values, adoption timestamps, and the last write-ahead-log entry it
covers. The digest covers all of it, so a flipped bit anywhere (a tail offset, a dedupe digest,
a timestamp) makes the whole generation invalid instead of silently wrong.

Generations are files ``state-<seq>.snap``; the newest few are kept, with the log since the
oldest of them, so falling back to an older generation and replaying the log gives the same
totals as the newest would have.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import msgspec

from exporter.dedupe import SliceState
from exporter.state import write_atomically

MAGIC = b"gatewatch-state\x002\n"
_DIGEST_SIZE = 32
_PREFIX, _SUFFIX = "state-", ".snap"
_DEDUPE_PREFIX = "dedupe-"


class SealedSlice(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    end: float
    file: str
    digest: bytes


class StateSnapshot(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    version: int = 2
    wal_seq: int
    recorder: bytes
    dedupe_filling: SliceState | None
    dedupe_sealed: list[SealedSlice]
    admitted: dict[str, list[str]]
    first_seen: dict[str, float]
    first_success: dict[str, float]
    last_event: dict[str, float]
    positions: dict[str, Any]


class SnapshotError(ValueError):
    """A snapshot generation that must not be used; the message says why."""


def digest(data: bytes | memoryview) -> bytes:
    return hashlib.blake2b(data, digest_size=_DIGEST_SIZE).digest()


def encode(snapshot: StateSnapshot) -> bytes:
    payload = msgspec.msgpack.encode(snapshot)
    return MAGIC + digest(payload) + payload


def decode(data: bytes) -> StateSnapshot:
    head = len(MAGIC) + _DIGEST_SIZE
    if not data.startswith(MAGIC) or len(data) < head:
        raise SnapshotError("not a gatewatch state snapshot (or a version this exporter cannot read)")
    payload = memoryview(data)[head:]
    if digest(payload) != data[len(MAGIC):head]:
        raise SnapshotError("digest mismatch: the file was changed or damaged after it was written")
    try:
        snapshot = msgspec.msgpack.decode(payload, type=StateSnapshot)
    except msgspec.DecodeError as err:
        raise SnapshotError(f"undecodable: {err}") from None
    stamps = [*snapshot.first_seen.values(), *snapshot.first_success.values(), *snapshot.last_event.values()]
    if snapshot.wal_seq < 0 or not all(math.isfinite(t) and t >= 0 for t in stamps):
        raise SnapshotError("a sequence number or timestamp is out of range")
    return snapshot


class Generations:
    """The snapshot generations and sealed dedupe slices in a state directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def paths(self) -> list[Path]:
        """Generation files, newest first."""
        found = [p for p in self.directory.glob(f"{_PREFIX}*{_SUFFIX}")
                 if p.name[len(_PREFIX):-len(_SUFFIX)].isdigit()]
        return sorted(found, key=lambda p: int(p.name[len(_PREFIX):-len(_SUFFIX)]), reverse=True)

    def load(self, path: Path) -> tuple[StateSnapshot, list[SliceState]]:
        """A generation and its sealed dedupe slices; SnapshotError if any part fails validation."""
        try:
            data = path.read_bytes()
        except OSError as err:
            raise SnapshotError(f"unreadable: {err.strerror or err}") from None
        snapshot = decode(data)
        slices: list[SliceState] = []
        for ref in snapshot.dedupe_sealed:
            try:
                content = (self.directory / ref.file).read_bytes()
            except OSError as err:
                raise SnapshotError(f"duplicate-window file {ref.file} unreadable: {err.strerror or err}") from None
            if digest(content) != ref.digest:
                raise SnapshotError(f"duplicate-window file {ref.file} fails its digest")
            slices.append(SliceState(ref.end, content))
        return snapshot, slices

    def sealed_file(self, end: float, content: bytes) -> SealedSlice:
        """Write a sealed dedupe slice once (atomically) and return its reference."""
        content_digest = digest(content)
        # Named by content: slices split early share their slot's end.
        name = f"{_DEDUPE_PREFIX}{content_digest[:12].hex()}.bin"
        target = self.directory / name
        if not target.exists():
            write_atomically(target, content)
        return SealedSlice(end, name, content_digest)

    def write(self, seq: int, data: bytes, keep: int) -> list[int]:
        """Write generation ``seq``; keep the newest ``keep`` besides it and delete the rest and
        the dedupe files none of them names. Returns the seqs of the generations kept."""
        write_atomically(self.directory / f"{_PREFIX}{seq:020d}{_SUFFIX}", data)
        paths = self.paths()
        kept, dropped = paths[:keep + 1], paths[keep + 1:]
        for path in dropped:
            path.unlink(missing_ok=True)
        self._prune_sealed(kept)
        return [int(p.name[len(_PREFIX):-len(_SUFFIX)]) for p in kept]

    def _prune_sealed(self, generations: list[Path]) -> None:
        """Delete the dedupe files no kept generation names (none, if one cannot be read)."""
        referenced: set[str] = set()
        for path in generations:
            try:
                referenced.update(ref.file for ref in decode(path.read_bytes()).dedupe_sealed)
            except (OSError, SnapshotError):
                return
        for path in self.directory.glob(f"{_DEDUPE_PREFIX}*.bin"):
            if path.name not in referenced:
                path.unlink(missing_ok=True)
