"""The recorder's snapshot format: msgpack behind a magic header and a digest.

The digest makes any corruption (a torn write, a flipped bit in a counter) an error instead of
a silently wrong counter; the recorder then checks the decoded structure itself.
"""

from __future__ import annotations

import hashlib
import sys

import msgspec

MAGIC = b"gatewatch-recorder\x001\n"
_DIGEST_SIZE = 16


class FamilyState(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    name: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]
    width: int
    keys: list[tuple[str, ...]]
    slots: list[int]


class GaugeState(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    name: str
    labels: tuple[str, ...]
    keys: list[tuple[str, ...]]
    values: list[float]


class RecorderState(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    start_time: float
    # The recorder's flat array of float64 slots, little-endian.
    values: bytes
    families: list[FamilyState]
    gauges: list[GaugeState]


def _digest(payload: bytes | memoryview) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST_SIZE).digest()


def encode(state: RecorderState) -> bytes:
    if sys.byteorder != "little":  # pragma: no cover - every supported platform is little-endian
        raise RuntimeError("snapshots are written on little-endian hosts only")
    payload = msgspec.msgpack.encode(state)
    return MAGIC + _digest(payload) + payload


def decode(data: bytes) -> RecorderState:
    """Raise ValueError unless ``data`` is an intact snapshot."""
    head = len(MAGIC) + _DIGEST_SIZE
    if not data.startswith(MAGIC) or len(data) < head:
        raise ValueError("not a gatewatch recorder snapshot (or a version this exporter cannot read)")
    payload = memoryview(data)[head:]
    if _digest(payload) != data[len(MAGIC):head]:
        raise ValueError("recorder snapshot is corrupt: digest mismatch")
    try:
        state = msgspec.msgpack.decode(payload, type=RecorderState)
    except msgspec.DecodeError as err:
        raise ValueError(f"recorder snapshot is corrupt: {err}") from None
    if len(state.values) % 8:
        raise ValueError("recorder snapshot is corrupt: value block is not whole float64s")
    return state
