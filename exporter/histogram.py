"""Histogram values as the recorder hands them out, and the internal token-usage buckets."""

from __future__ import annotations

from typing import NamedTuple

# OpenTelemetry GenAI semantic conventions: explicit bucket advice for gen_ai.client.token.usage.
TOKEN_USAGE_BUCKETS: tuple[float, ...] = (
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
    4194304.0, 16777216.0, 67108864.0,
)
TOKEN_USAGE_TYPES = ("input", "output")


class HistogramValue(NamedTuple):
    """One histogram series: per-bucket counts (not cumulative, the last one is +Inf), sum, count."""

    bucket_counts: tuple[float, ...]
    sum: float
    count: float  # type: ignore[assignment]  # shadows tuple.count, which nothing calls
