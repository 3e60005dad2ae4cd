"""The hash chain: each line carries the SHA-256 of the previous line's bytes (newline excluded)."""

from __future__ import annotations

import hashlib

# Prometheus stores float64: integers below 2**53 exactly. 13 hex digits are 52 bits.
HEAD_HEX_DIGITS = 13


def line_hash(line: bytes) -> str:
    """The hash the next line's ``prev`` must carry."""
    return hashlib.sha256(line).hexdigest()


def head_value(head: str) -> int:
    """The chain head as a gauge value Prometheus keeps exactly: its first 13 hex digits."""
    return int(head[:HEAD_HEX_DIGITS], 16)
