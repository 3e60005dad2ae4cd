"""Soak: steady ingest with the durable log on, sampling memory and scrape latency.

    make soak                                                     # 30 minutes at 2,000 records/s
    .venv/bin/python bench/soak.py --minutes 8 --dedupe-window 180    # a short run

The real exporter runs with --state-dir and a 15-minute duplicate window (or --dedupe-window); a client posts
LiteLLM records with unique ids at a fixed rate (the series stay the same, the window fills),
and every 15 s the soak scrapes /metrics and reads the process's resident memory. It prints one
row per sample and, at the end, the first and last quarter's medians: memory should level off
once the window is full, and scrape latency should not grow with the window.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import SEED, Dresser, bench_spec_yaml, calls
from tests.support.processes import start_exporter

SAMPLE_SECONDS = 15.0
BATCH = 100


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) * 1024


def _feed(port: int, templates: list[bytes], rate: float, stop: threading.Event) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = 0
    started = time.monotonic()
    while not stop.is_set():
        body = b"\n".join(
            templates[(sent + i) % len(templates)].replace(b'"id":"chatcmpl-', b'"id":"chatcmpl-%d-' % (sent + i), 1)
            for i in range(BATCH))
        connection.request("POST", "/ingest/litellm", body, {"Content-Type": "application/x-ndjson"})
        connection.getresponse().read()
        sent += BATCH
        ahead = started + sent / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="records per second")
    parser.add_argument("--dedupe-window", type=float, default=900.0, metavar="SECONDS",
                        help="the duplicate window; a short run with a short window shows it fill, then level off")
    args = parser.parse_args()
    os.environ.pop("GATEWATCH_INGEST_TOKEN", None)
    with tempfile.TemporaryDirectory(prefix="gatewatch-soak-") as tmp:
        root = Path(tmp)
        spec = root / "bench.yaml"
        spec.write_text(bench_spec_yaml() + f"ingest: {{dedupe_window_seconds: {args.dedupe_window}}}\n")
        dress = Dresser(SEED)
        templates = [dress(call) for call in calls(5_000)]
        exporter = start_exporter(root / "run", "--state-dir", root / "state", spec=spec, log_level="info")
        stop = threading.Event()
        feeder = threading.Thread(target=_feed, args=(exporter.port, templates, args.rate, stop), daemon=True)
        samples: list[tuple[float, float, float]] = []
        try:
            feeder.start()
            deadline = time.monotonic() + args.minutes * 60
            print(f"{'minute':>7} {'RSS MiB':>8} {'scrape ms':>10}", flush=True)
            began = time.monotonic()
            while time.monotonic() < deadline:
                time.sleep(min(SAMPLE_SECONDS, max(0.0, deadline - time.monotonic())))
                connection = http.client.HTTPConnection("127.0.0.1", exporter.port, timeout=60)
                started = time.perf_counter()
                connection.request("GET", "/metrics")
                connection.getresponse().read()
                scrape_ms = (time.perf_counter() - started) * 1000
                connection.close()
                rss = _rss(exporter.process.pid) / 2**20
                minute = (time.monotonic() - began) / 60
                samples.append((minute, rss, scrape_ms))
                print(f"{minute:7.2f} {rss:8.1f} {scrape_ms:10.1f}", flush=True)
        finally:
            stop.set()
            feeder.join(30)
            exporter.stop()
        quarter = max(1, len(samples) // 4)
        first, last = samples[:quarter], samples[-quarter:]
        print(f"first quarter: RSS {statistics.median(s[1] for s in first):.1f} MiB, "
              f"scrape {statistics.median(s[2] for s in first):.1f} ms; "
              f"last quarter: RSS {statistics.median(s[1] for s in last):.1f} MiB, "
              f"scrape {statistics.median(s[2] for s in last):.1f} ms")


if __name__ == "__main__":
    main()
