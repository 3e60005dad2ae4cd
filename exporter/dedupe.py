"""Duplicate detection: loggers retry, and a retried record must not be charged twice.

Ids are kept as 64-bit digests (never the raw id) for a configurable window. The window
survives restarts through the state snapshot, so the digest must be stable across processes:
xxh3 seeded per format, not Python's per-process ``hash``.

Digests live in one set; expiry works in time slices (a list of the digests each slice
added), so the hot path is one hash, one set lookup, one insert and one append, with no
per-record timestamp objects. An id is remembered for at least the window and at most one
slice longer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import msgspec
import xxhash

SLICES = 16

_SEEDS: dict[str, int] = {}


class DedupeState(msgspec.Struct, array_like=True):
    digests: list[int]
    expiries: list[float]


class Deduplicator:
    def __init__(self, window_seconds: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seen: set[int] = set()
        # (end of the slice, digests first seen in it), oldest first; the last one is filling.
        self._slices: deque[tuple[float, list[int]]] = deque()
        self.window = window_seconds

    @property
    def window(self) -> float:
        return self._window

    @window.setter
    def window(self, seconds: float) -> None:
        self._window = seconds
        self._slice = seconds / SLICES
        self._current_end = -1.0
        self._current: list[int] = []

    def is_duplicate(self, fmt: str, record_id: str) -> bool:
        """True when the id was accepted within the window; otherwise remember it and say False."""
        if self._window <= 0:
            return False
        seed = _SEEDS.get(fmt)
        if seed is None:
            seed = _SEEDS[fmt] = xxhash.xxh3_64_intdigest(fmt.encode())
        digest = xxhash.xxh3_64_intdigest(record_id.encode("utf-8", "surrogatepass"), seed)
        now = self._clock()
        if now >= self._current_end:
            self._advance(now)
        seen = self._seen
        if digest in seen:
            return True
        seen.add(digest)
        self._current.append(digest)
        return False

    def __len__(self) -> int:
        return len(self._seen)

    def _advance(self, now: float) -> None:
        """Start a new slice, forgetting the slices that ended a window ago."""
        self._current = []
        self._current_end = now + self._slice
        slices = self._slices
        slices.append((self._current_end, self._current))
        horizon = now - self._window
        while slices and slices[0][0] <= horizon:
            _, expired = slices.popleft()
            self._seen.difference_update(expired)

    def dump(self) -> DedupeState:
        digests: list[int] = []
        expiries: list[float] = []
        for end, added in self._slices:
            digests += added
            expiries += [end + self._window] * len(added)
        return DedupeState(digests, expiries)

    def load(self, state: DedupeState) -> None:
        now = self._clock()
        slices: dict[float, list[int]] = {}
        for digest, expiry in zip(state.digests, state.expiries, strict=True):
            if expiry > now and digest not in self._seen:
                self._seen.add(digest)
                slices.setdefault(expiry - self._window, []).append(digest)
        self._slices.extendleft(reversed(sorted(slices.items())))
