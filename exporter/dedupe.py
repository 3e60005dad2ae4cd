"""Duplicate detection: loggers retry, and a retried record must not be charged twice.

Ids are kept as 64-bit digests (never the raw id) for a configurable window. The window
survives restarts through the state snapshot, so the digest must be stable across processes:
xxh3 seeded per format, not Python's per-process ``hash``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import msgspec
import xxhash

_SEEDS: dict[str, int] = {}


class DedupeState(msgspec.Struct, array_like=True):
    digests: list[int]
    expiries: list[float]


class Deduplicator:
    def __init__(self, window_seconds: float, clock: Callable[[], float]) -> None:
        self.window = window_seconds
        self._clock = clock
        self._expiry: dict[int, float] = {}
        self._order: deque[tuple[float, int]] = deque()

    def is_duplicate(self, fmt: str, record_id: str) -> bool:
        """True when the id was accepted within the window; otherwise remember it and say False."""
        if self.window <= 0:
            return False
        now = self._clock()
        self._expire(now)
        seed = _SEEDS.get(fmt)
        if seed is None:
            seed = _SEEDS[fmt] = xxhash.xxh3_64_intdigest(fmt.encode())
        digest = xxhash.xxh3_64_intdigest(record_id.encode("utf-8", "surrogatepass"), seed)
        if digest in self._expiry:
            return True
        expiry = now + self.window
        self._expiry[digest] = expiry
        self._order.append((expiry, digest))
        return False

    def __len__(self) -> int:
        return len(self._expiry)

    def _expire(self, now: float) -> None:
        order = self._order
        while order and order[0][0] <= now:
            _, digest = order.popleft()
            self._expiry.pop(digest, None)

    def dump(self) -> DedupeState:
        return DedupeState([d for _, d in self._order], [e for e, _ in self._order])

    def load(self, state: DedupeState) -> None:
        now = self._clock()
        for digest, expiry in zip(state.digests, state.expiries, strict=True):
            if expiry > now:
                self._expiry[digest] = expiry
                self._order.append((expiry, digest))
