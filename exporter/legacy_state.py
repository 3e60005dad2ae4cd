"""The single-file snapshot earlier versions wrote (``snapshot.msgpack``), read once at start
to carry its state over to the generations format (``exporter/snapshot.py``)."""

from __future__ import annotations

from typing import Any

import msgspec

from exporter.dedupe import SliceState


class LegacyDedupe(msgspec.Struct, array_like=True):
    digests: list[int]
    expiries: list[float]


class LegacySnapshot(msgspec.Struct, kw_only=True):
    """Its layout, as earlier versions wrote it."""

    version: int = 1
    recorder: bytes
    dedupe: LegacyDedupe
    admitted: dict[str, list[str]]
    first_seen: dict[str, float]
    first_success: dict[str, float]
    last_event: dict[str, float]
    positions: dict[str, Any]


def dedupe_slices(dedupe: LegacyDedupe, window: float) -> list[SliceState]:
    """The old (digest, expiry) pairs as slices ending a window before their expiry."""
    slices: dict[float, list[int]] = {}
    for digest, expiry in zip(dedupe.digests, dedupe.expiries, strict=False):
        slices.setdefault(expiry - window, []).append(digest)
    return [SliceState(end, b"".join(d.to_bytes(8, "little") for d in digests)) for end, digests in slices.items()]
