"""Duplicate detection: loggers retry, and a retried record must not be charged twice.

Ids are kept as 64-bit digests (never the raw id) for a configurable window. The window
survives restarts, so the digest must be stable across processes: xxh3 seeded per format, not
Python's per-process ``hash``.

The window is a ring of time slices. Each slice is an open-addressing hash table in one
``array('Q')`` (8 bytes a slot, at most half full: 16 to 32 bytes an id, where a Python set of
ints costs about 70), so a window of a few million ids takes tens of MB. Expiry drops a whole
slice, with no per-id work. A table is never resized: one that fills is sealed early and a
table twice its size takes the rest of its time slot, and the next slot is sized from what the
last one took. Sealed slices never change again: they are persisted once each (``sealed``), and
only the filling slice goes into every snapshot, so a snapshot's cost does not grow with the
window. An id is remembered for at least the window and at most one slice longer.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
import xxhash

SLICES = 4
_MIN_SLOTS = 1024

_SEEDS: dict[str, int] = {}


class SliceState(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """One time slice: when it ends and its digests (little-endian uint64s, no order)."""

    end: float
    digests: bytes


def digest_of(fmt: str, record_id: str) -> int:
    seed = _SEEDS.get(fmt)
    if seed is None:
        seed = _SEEDS[fmt] = xxhash.xxh3_64_intdigest(fmt.encode())
    # 0 marks an empty slot.
    return xxhash.xxh3_64_intdigest(record_id.encode("utf-8", "surrogatepass"), seed) or 1


class _Slice:
    """One open-addressing table, never resized: a full one is sealed and a larger one follows
    for the rest of its time slot, so no insert ever pays for rehashing a whole table."""

    __slots__ = ("appended", "count", "end", "mask", "persisted", "table")

    def __init__(self, end: float, slots: int, *, keep_order: bool = True) -> None:
        self.end = end
        self.table = array("Q", bytes(8 * slots))
        self.mask = slots - 1
        self.count = 0
        # The digests in insertion order until the slice is on disk: a snapshot copies them
        # with one memcpy instead of walking the table under the lock.
        self.appended: array[int] | None = array("Q") if keep_order else None
        # Set by whoever writes the sealed slice to disk, so it is written once.
        self.persisted: Any = None

    def full(self) -> bool:
        return 2 * (self.count + 1) > len(self.table)

    def contains(self, digest: int) -> bool:
        table, mask = self.table, self.mask
        i = digest & mask
        while True:
            found = table[i]
            if found == digest:
                return True
            if not found:
                return False
            i = (i + 1) & mask

    def add(self, digest: int) -> None:
        """Insert a digest known to be absent, into a slice that is not full."""
        table, mask = self.table, self.mask
        i = digest & mask
        while table[i]:
            i = (i + 1) & mask
        table[i] = digest
        self.count += 1
        if self.appended is not None:
            self.appended.append(digest)

    def content(self) -> bytes:
        if self.appended is not None:
            return self.appended.tobytes()
        return array("Q", filter(None, self.table)).tobytes()

    def state(self) -> SliceState:
        return SliceState(self.end, self.content())


def _slots_for(count: int) -> int:
    slots = _MIN_SLOTS
    while slots < 3 * count:  # filled to a third to half when traffic holds steady
        slots *= 2
    return slots


class Deduplicator:
    def __init__(self, window_seconds: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        # Oldest first; the last one is filling.
        self._slices: deque[_Slice] = deque()
        self.window = window_seconds

    @property
    def window(self) -> float:
        return self._window

    @window.setter
    def window(self, seconds: float) -> None:
        self._window = seconds
        self._slice = seconds / SLICES
        self._current: _Slice | None = None
        self._sealed_tables: list[tuple[array[int], int]] = []

    def is_duplicate(self, fmt: str, record_id: str) -> bool:
        """True when the id was accepted within the window; otherwise remember it and say False."""
        if self._window <= 0:
            return False
        return self.check_digest(digest_of(fmt, record_id))

    def check_digest(self, digest: int) -> bool:
        current = self._current
        if current is None or self._clock() >= current.end:
            current = self._advance(self._clock())
        # The probe loop inlined over (table, mask) pairs: a method call per slice cost more
        # than the probing itself.
        for table, mask in self._sealed_tables:
            found = table[digest & mask]
            if found:
                i = digest & mask
                while found:
                    if found == digest:
                        return True
                    i = (i + 1) & mask
                    found = table[i]
        table, mask = current.table, current.mask
        i = digest & mask
        found = table[i]
        while found:
            if found == digest:
                return True
            i = (i + 1) & mask
            found = table[i]
        if current.full():
            self._split(current).add(digest)
        else:
            table[i] = digest  # the probe stopped at the first free slot: the digest's place
            current.count += 1
            current.appended.append(digest)  # type: ignore[union-attr]
        return False

    def _split(self, full: _Slice) -> _Slice:
        """Seal a full slice early; a table twice its size takes the rest of its time slot."""
        current = self._current = _Slice(full.end, 2 * len(full.table))
        self._slices.append(current)
        self._index_sealed()
        return current

    def forget(self, digests: list[int]) -> None:
        """Undo ``check_digest`` calls that remembered ``digests`` (their chunk was not kept)."""
        current = self._current
        if current is None or not digests:
            return
        dropped = set(digests)
        fresh = _Slice(current.end, len(current.table))
        for d in current.appended or ():
            if d not in dropped:
                fresh.add(d)
        self._slices[-1] = self._current = fresh

    def __len__(self) -> int:
        return sum(piece.count for piece in self._slices)

    def memory_bytes(self) -> int:
        return sum(len(piece.table) * 8 for piece in self._slices)

    def _advance(self, now: float) -> _Slice:
        """Start a new slice, forgetting the slices that ended a window ago."""
        # Sized for what the last time slot took (all of its slices, if it was split).
        ended = self._slices[-1].end if self._slices else None
        previous = sum(piece.count for piece in self._slices if piece.end == ended)
        current = self._current = _Slice(now + self._slice, _slots_for(previous))
        slices = self._slices
        slices.append(current)
        horizon = now - self._window
        while slices and slices[0].end <= horizon:
            slices.popleft()
        self._index_sealed()
        return current

    def _index_sealed(self) -> None:
        self._sealed_tables = [(piece.table, piece.mask) for piece in self._slices if piece is not self._current]

    # -- persistence ---------------------------------------------------------------------

    def sealed(self) -> list[_Slice]:
        """The slices that will not change again (every one but the filling one)."""
        current = self._current
        return [piece for piece in self._slices if piece is not current]

    def filling(self) -> SliceState | None:
        current = self._current
        return None if current is None or current not in self._slices else current.state()

    def dump(self) -> list[SliceState]:
        return [piece.state() for piece in self._slices]

    def load(self, slices: list[SliceState], persisted: list[Any] | None = None) -> None:
        """Add persisted slices (any order); expired ones are dropped. ``persisted`` lines up
        with ``slices``: the record of each one's file when it is on disk already, else None."""
        now = self._clock()
        horizon = now - self._window
        loaded: list[_Slice] = []
        pairs = zip(slices, persisted or [None] * len(slices), strict=True)
        for state, on_disk in sorted(pairs, key=lambda pair: pair[0].end):
            if state.end <= horizon or len(state.digests) % 8:
                continue
            digests = array("Q")
            digests.frombytes(state.digests)
            piece = _Slice(state.end, _slots_for(len(digests)), keep_order=on_disk is None)
            for digest in digests:
                if digest and not piece.contains(digest):
                    piece.add(digest)
            piece.persisted = on_disk
            loaded.append(piece)
        self._slices.extendleft(reversed(loaded))
        if self._slices and self._current is not None and self._slices[-1] is not self._current:
            self._slices.remove(self._current)
            self._slices.append(self._current)
        self._index_sealed()
