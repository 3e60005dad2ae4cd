"""Duplicate detection: loggers retry, and a retried record must not be charged twice.

Ids are kept as 64-bit digests (never the raw id) for a configurable window. The window
survives restarts, so the digest must be stable across processes: xxh3 seeded per format, not
Python's per-process ``hash``.

The window is a ring of time slices. Each slice is an open-addressing hash table in one
``array('Q')`` (8 bytes a slot, at most half full: 16 to 64 bytes an id, where a Python set of
ints costs about 70), so a window of a few million ids takes tens of MB. Expiry drops a whole
slice, with no per-id work. A table is never rehashed at once: one that fills moves into a
table four times its size a few slots per insert (lookups meanwhile probe both), and the next
slot is sized from what the last one took, so no insert pays for a whole table under the lock.

Sealed slices never change again: they are persisted once each (``sealed``), and only the
filling slice goes into every snapshot, so a snapshot's cost does not grow with the window. An
id is remembered for at least the window and at most one slice longer.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
import xxhash

SLICES = 4
_MIN_SLOTS = 4096
# A table that fills moves into one this many times larger, and this many of its slots move
# with each insert: the move ends long before the larger table fills.
_GROWTH = 4
_MOVE_PER_INSERT = 16

_SEEDS: dict[str, int] = {}


class SliceState(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """One time slice: when it ends and its digests (little-endian uint64s, no order)."""

    end: float
    digests: bytes


def seed_of(fmt: str) -> int:
    seed = _SEEDS.get(fmt)
    if seed is None:
        seed = _SEEDS[fmt] = xxhash.xxh3_64_intdigest(fmt.encode())
    return seed


def digest(record_id: str, seed: int) -> int:
    """The id's digest under a format's seed (``seed_of``); never 0, which marks an empty slot."""
    return xxhash.xxh3_64_intdigest(record_id.encode("utf-8", "surrogatepass"), seed) or 1


def digest_of(fmt: str, record_id: str) -> int:
    return digest(record_id, seed_of(fmt))


class _Slice:
    """One time slot's open-addressing table (0 is an empty slot; digests are never 0)."""

    __slots__ = ("appended", "count", "end", "mask", "moved", "old", "old_mask", "persisted", "table")

    def __init__(self, end: float, slots: int, *, keep_order: bool = True) -> None:
        self.end = end
        self.table = array("Q", bytes(8 * slots))
        self.mask = slots - 1
        self.count = 0
        # While growing: the previous table, and how many of its slots have moved.
        self.old: array[int] | None = None
        self.old_mask = 0
        self.moved = 0
        # The digests in insertion order until the slice is on disk: a snapshot copies them
        # with one memcpy instead of walking the table under the lock.
        self.appended: array[int] | None = array("Q") if keep_order else None
        # Set by whoever writes the sealed slice to disk, so it is written once.
        self.persisted: Any = None

    def tables(self) -> list[tuple[array[int], int]]:
        if self.old is None:
            return [(self.table, self.mask)]
        return [(self.table, self.mask), (self.old, self.old_mask)]

    def contains(self, digest: int) -> bool:
        for table, mask in self.tables():
            i = digest & mask
            found = table[i]
            while found:
                if found == digest:
                    return True
                i = (i + 1) & mask
                found = table[i]
        return False

    def add(self, digest: int) -> None:
        """Insert a digest known to be absent."""
        if 2 * (self.count + 1) > len(self.table):
            self._grow()
        _place(self.table, self.mask, digest)
        self.count += 1
        if self.appended is not None:
            self.appended.append(digest)
        if self.old is not None:
            self._move()

    def _grow(self) -> None:
        if self.old is not None:  # cannot happen with these ratios; finish the move if it does
            self._move(len(self.old))
        slots = _GROWTH * len(self.table)
        self.old, self.old_mask, self.moved = self.table, self.mask, 0
        self.table, self.mask = array("Q", bytes(8 * slots)), slots - 1

    def _move(self, slots: int = _MOVE_PER_INSERT) -> None:
        old = self.old
        assert old is not None
        table, mask = self.table, self.mask
        end = min(self.moved + slots, len(old))
        for digest in old[self.moved:end]:
            if digest:
                _place(table, mask, digest)
        self.moved = end
        if end == len(old):
            self.old = None

    def content(self) -> bytes:
        if self.appended is not None:
            return self.appended.tobytes()
        digests = array("Q", filter(None, self.table))
        if self.old is not None:
            digests.extend(filter(None, self.old[self.moved:]))
        return digests.tobytes()

    def state(self) -> SliceState:
        return SliceState(self.end, self.content())


def _place(table: array[int], mask: int, digest: int) -> None:
    i = digest & mask
    while table[i]:
        i = (i + 1) & mask
    table[i] = digest


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
        return self.check_digest(digest(record_id, seed_of(fmt)))

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
        if current.old is not None or 2 * (current.count + 1) > len(table):
            if current.contains(digest):  # it may still sit in the table being moved
                return True
            current.add(digest)
        else:
            table[i] = digest  # the probe stopped at the first free slot: the digest's place
            current.count += 1
            current.appended.append(digest)  # type: ignore[union-attr]
        return False

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
        return sum(len(table) * 8 for piece in self._slices for table, _ in piece.tables())

    def _advance(self, now: float) -> _Slice:
        """Start a new slice, forgetting the slices that ended a window ago."""
        previous = self._slices[-1].count if self._slices else 0  # what the last time slot took
        current = self._current = _Slice(now + self._slice, _slots_for(previous))
        slices = self._slices
        slices.append(current)
        horizon = now - self._window
        while slices and slices[0].end <= horizon:
            slices.popleft()
        self._index_sealed()
        return current

    def _index_sealed(self) -> None:
        self._sealed_tables = [pair for piece in self._slices if piece is not self._current for pair in piece.tables()]

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
