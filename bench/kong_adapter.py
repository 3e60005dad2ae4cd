"""Kong adapter benchmark: the rate of turning Kong log entries into events, as a ratio to F, the
rate of `orjson.loads` on the same entries, measured in the same run on one pinned core.

    .venv/bin/python bench/kong_adapter.py          # the figures in docs/benchmarks.md
    .venv/bin/python bench/kong_adapter.py --quick

Entries are every Kong fixture that becomes an event: the sample log and one per release shape
(3.6 to 3.14, tests/fixtures/kong/releases/), compact JSON as http-log posts it, in a fixed order.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter.adapters import build_adapter
from exporter.event import GatewayEvent
from tests.conformance.kong.fixtures import ATTRIBUTE_PATHS, FIXTURES_BY_RELEASE
from tests.paths import KONG_FIXTURE


def entries() -> list[bytes]:
    sample = [line for line in KONG_FIXTURE.read_bytes().splitlines() if line.strip()]
    shapes = [
        json.dumps(f.load(), separators=(",", ":")).encode()
        for f in FIXTURES_BY_RELEASE if isinstance(f.expected, GatewayEvent)
    ]
    return sample + shapes


def best_of(repeats: int, work: Callable[[bytes], object], data: list[bytes]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for record in data:
            work(record)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    shapes = entries()
    data = shapes * (200 if args.quick else 4000)
    repeats = 2 if args.quick else 7
    adapter = build_adapter("kong", frozenset(ATTRIBUTE_PATHS))
    f_seconds = best_of(repeats, orjson.loads, data)
    a_seconds = best_of(repeats, adapter, data)
    print(f"{len(data):,} entries ({len(shapes)} shapes, {sum(map(len, shapes)) // len(shapes):,} bytes on average)")
    print(f"F (orjson.loads): {len(data) / f_seconds:,.0f} entries/s")
    print(f"Kong adapter:     {len(data) / a_seconds:,.0f} entries/s = {f_seconds / a_seconds:.2f} F")


if __name__ == "__main__":
    main()
