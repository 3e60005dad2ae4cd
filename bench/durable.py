"""Durable ingest over HTTP: the real exporter process, with and without --state-dir.

    .venv/bin/python bench/durable.py            # the figures in docs/benchmarks.md
    .venv/bin/python bench/durable.py --quick    # a smoke run

The exporter runs as a subprocess (as deployed); one client posts the benchmark's LiteLLM
records in batches of 512 over one keep-alive connection and waits for each 202, so the
figure includes HTTP, the write-ahead log and its fsync per batch. Rates are wall-clock and
given as ratios to F (read + orjson.loads of the same records) measured in the same run. Fresh:
every label set is new; steady: the same traffic again under new ids. Memory is the exporter's
whole-process resident set divided by the sample lines /metrics exposes. Last, the duplicate
window alone: 2,000,000 ids at 2,000/s into the default 900 s window (1.8 million held), beside
the plain set of digests it replaced, in CPU time and resident-memory growth; and how long
scrapes wait while a 1,000,000-record body is counted.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import BATCH, SEED, Dresser, bench_spec_yaml, best, calls, time_parse
from contract import spec as spec_model
from exporter.dedupe import Deduplicator, digest_of
from exporter.pipeline import Pipeline
from exporter.recorder import Recorder
from tests.paths import ROOT
from tests.support.processes import start_exporter

ROUNDS = 2


def post_all(port: int, lines: list[bytes]) -> float:
    """Wall seconds to post ``lines`` in batches and get every 202."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    for i in range(0, len(lines), BATCH):
        body = b"\n".join(lines[i:i + BATCH])
        connection.request("POST", "/ingest/litellm", body, {"Content-Type": "application/x-ndjson"})
        response = connection.getresponse()
        response.read()
        if response.status != 202:
            raise SystemExit(f"ingest answered {response.status}")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def rss_and_lines(port: int, pid: int) -> tuple[int, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", "/metrics")
    body = connection.getresponse().read()
    lines = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) * 1024
    return rss, lines


def run(records: int) -> None:
    with tempfile.TemporaryDirectory(prefix="gatewatch-durable-") as tmp:
        root = Path(tmp)
        spec = root / "bench.yaml"
        spec.write_text(bench_spec_yaml())
        dress = Dresser(SEED)
        lines = [dress(call) for call in calls(records)]
        again = [line.replace(b'"id":"chatcmpl-', b'"id":"chatcmpl-again-', 1) for line in lines]
        path = root / "records.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        # F in wall seconds here, since the exporter's time is another process's.
        f_rate = records / best(2, lambda: _wall(lambda: time_parse(path)))
        print(f"  {'F: read + orjson.loads':<48} {f_rate:,.0f} records/s", flush=True)
        runs = (("no --state-dir", ()), ("--state-dir (write-ahead log)", ("--state-dir",)))
        best_rates: dict[str, tuple[float, float, int, int]] = {}
        # Alternated, best of ROUNDS each: other work on the machine moves single runs a lot.
        for round_ in range(ROUNDS):
            for label, args in runs:
                state = (root / f"state-{round_}",) if args else ()
                exporter = start_exporter(root / f"{label[:6]}-{round_}", *args, *state, spec=spec, log_level="info")
                try:
                    fresh = records / post_all(exporter.port, lines)
                    steady = records / post_all(exporter.port, again)
                    rss, exposed = rss_and_lines(exporter.port, exporter.process.pid)
                finally:
                    exporter.stop()
                old = best_rates.get(label, (0.0, 0.0, rss, exposed))
                best_rates[label] = (max(old[0], fresh), max(old[1], steady), min(old[2], rss), exposed)
        for label, (fresh, steady, rss, exposed) in best_rates.items():
            print(f"  {label:<48} fresh {fresh:,.0f} records/s = {fresh / f_rate:.2f} F; "
                  f"steady {steady:,.0f} records/s = {steady / f_rate:.2f} F; "
                  f"RSS {rss / 2**20:.0f} MiB / {exposed:,} lines = {rss / exposed:.0f} bytes per line", flush=True)


def dedupe_figures(ids: int) -> None:
    """The duplicate window alone: ``ids`` unique ids at 2,000/s into a 900 s window, beside a
    plain Python set of the same digests (what the window used before), in this process."""
    now = [0.0]
    window = Deduplicator(900.0, lambda: now[0])
    names = [f"chatcmpl-{i:012d}" for i in range(ids)]
    gc.collect()
    before = _rss_self()
    started = time.process_time()
    for i, name in enumerate(names):
        now[0] = i / 2000.0
        window.is_duplicate("litellm", name)
    window_seconds = time.process_time() - started
    window_rss = _rss_self() - before
    held = len(window)
    tables = window.memory_bytes()
    del window
    gc.collect()
    before = _rss_self()
    seen: set[int] = set()
    started = time.process_time()
    for name in names:
        digest = digest_of("litellm", name)
        if digest not in seen:
            seen.add(digest)
    set_seconds = time.process_time() - started
    set_rss = _rss_self() - before
    print(f"  {'duplicate window, ' + format(held, ',') + ' ids held':<48} "
          f"{window_seconds / ids * 1e6:.2f} us per check, tables {tables / 2**20:.0f} MiB "
          f"({tables / held:.0f} bytes an id), RSS growth {window_rss / 2**20:.0f} MiB; "
          f"a Python set: {set_seconds / ids * 1e6:.2f} us, RSS growth {set_rss / 2**20:.0f} MiB "
          f"({set_rss / ids:.0f} bytes an id)", flush=True)


def _wall(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def scrape_wait_figures(records: int) -> None:
    """How long a scrape waits while one body of ``records`` one-character records (what a small
    gzip body can expand to) is counted, in-process on the example spec."""
    pipeline = Pipeline(spec_model.load(ROOT / "ops.yaml"), recorder=Recorder())
    ingest = threading.Thread(target=pipeline.ingest, args=([b"1"] * records, "events", "http"))
    started = time.perf_counter()
    ingest.start()
    waits: list[float] = []
    while ingest.is_alive():
        began = time.perf_counter()
        pipeline.scrape()
        waits.append((time.perf_counter() - began) * 1000)
        time.sleep(0.01)
    batch = time.perf_counter() - started
    waits.sort()
    print(f"  {'scrapes during a ' + format(records, ',') + '-record body':<48} {len(waits)} scrapes over "
          f"{batch:.1f} s: median {waits[len(waits) // 2]:.2f} ms, max {waits[-1]:.2f} ms", flush=True)


def _rss_self() -> int:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) * 1024


def _wall(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run with few records")
    args = parser.parse_args()
    os.environ.pop("GATEWATCH_INGEST_TOKEN", None)
    run(6_000 if args.quick else 100_000)
    scrape_wait_figures(100_000 if args.quick else 1_000_000)
    dedupe_figures(100_000 if args.quick else 2_000_000)


if __name__ == "__main__":
    main()
