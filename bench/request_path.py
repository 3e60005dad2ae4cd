"""Request-path benchmark: what strict framing, the per-body limits and tolerant decoding cost.

    .venv/bin/python bench/request_path.py           # the figures in docs/benchmarks.md
    .venv/bin/python bench/request_path.py --quick   # a smoke run

One run, one pinned core, CPU seconds of this process. Each check is timed beside the path
without it on the same records in the same run, and the whole HTTP ingest (a real server on
loopback, keep-alive, LiteLLM batches of 512, the client in the same process) is given as a
ratio to F, reading the same records and ``orjson.loads`` on each, as in bench/ingest.py.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import io
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import BATCH, SEED, Dresser, bench_spec_yaml, best, calls, cpu, pin_one_core, time_parse
from contract import spec as spec_model
from exporter.runtime import tune_garbage_collector

HEADERS = (b"POST /ingest/litellm HTTP/1.1\r\nHost: exporter:9464\r\nUser-Agent: python-httpx/0.27\r\n"
           b"Accept: */*\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n"
           b"Content-Type: application/json\r\nContent-Length: 1843200\r\n\r\n")


def _per_call(fn: Callable[[], object], count: int) -> float:
    start = cpu()
    for _ in range(count):
        fn()
    return (cpu() - start) / count


def time_http(bodies: list[bytes], spec: spec_model.Spec, *, gzipped: bool) -> tuple[float, int]:
    """CPU seconds to post every body to a real exporter server in this process; records accepted."""
    from exporter.pipeline import Pipeline
    from exporter.recorder import Recorder
    from exporter.server import App, ExporterServer, parse_listen

    pipeline = Pipeline(spec, recorder=Recorder(), state=None)
    server = ExporterServer(parse_listen("127.0.0.1:0"), App(pipeline))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    headers = {"Content-Type": "application/json", **({"Content-Encoding": "gzip"} if gzipped else {})}
    accepted = 0
    try:
        start = cpu()
        for body in bodies:
            connection.request("POST", "/ingest/litellm", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 202:
                raise SystemExit(f"ingest answered {response.status}: {answer[:200]!r}")
            accepted += int(answer.split(b'"accepted":', 1)[1].split(b",", 1)[0])
        return cpu() - start, accepted
    finally:
        connection.close()
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Workload:
    lines: list[bytes]
    ndjson: list[bytes]  # batches of BATCH records
    arrays: list[bytes]
    spec: spec_model.Spec
    f_rate: float
    repeats: int


def run(records: int, repeats: int, *, http_only: bool) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []

    def row(name: str, value: str) -> None:
        rows.append((name, value))
        print(f"  {name:<60} {value}", file=sys.stderr, flush=True)

    row("pinned to CPU", str(pin_one_core()))
    tune_garbage_collector()
    spec = spec_model.parse(bench_spec_yaml(), "<bench spec>")
    dress = Dresser(SEED)
    lines = [dress(call) for call in calls(records)]
    path = Path(f"/tmp/gatewatch-request-path-{SEED}.jsonl")
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    try:
        f_rate = records / best(repeats, lambda: time_parse(path))
    finally:
        path.unlink()
    row("records", f"{records:,}")
    row("F: read + orjson.loads", f"{f_rate:,.0f} records/s")

    batches = [lines[i:i + BATCH] for i in range(0, len(lines), BATCH)]
    work = Workload(lines, [b"\n".join(batch) + b"\n" for batch in batches],
                    [b"[" + b",".join(batch) + b"]" for batch in batches], spec, f_rate, repeats)
    if not http_only:
        _checks(row, work)
    _http(row, work)
    return rows


def _checks(row: Callable[[str, str], None], work: Workload) -> None:
    """Each new check beside the path without it."""
    lines, ndjson, arrays, spec, repeats, records = (
        work.lines, work.ndjson, work.arrays, work.spec, work.repeats, len(work.lines))
    from exporter.adapters import _BUILDERS, build_adapter
    from exporter.batch import split_body
    from exporter.http_framing import body_framing

    # Framing: the checks on one typical request's header section.
    headers = http.client.parse_headers(io.BytesIO(HEADERS.split(b"\r\n", 1)[1]))
    framing = best(repeats, lambda: _per_call(lambda: body_framing(headers, "HTTP/1.1"), 20_000))
    row("strict framing checks, per request", f"{framing * 1e6:.1f} us")

    # The record limit, checked on each body before it is split.
    for shape, bodies in (("NDJSON", ndjson), ("array", arrays)):
        def split(limit: int | None, bodies: list[bytes] = bodies) -> float:
            start = cpu()
            for body in bodies:
                split_body(body, limit)
            return cpu() - start
        plain = best(repeats, lambda split=split: split(None))
        limited = best(repeats, lambda split=split: split(spec.ingest.max_records_per_body))
        row(f"split {shape} batch of {BATCH}: with the record limit / without",
            f"{limited / len(bodies) * 1e3:.3f} / {plain / len(bodies) * 1e3:.3f} ms = {limited / plain:.2f}x")

    # Tolerant decoding: the adapter as the pipeline calls it, beside the bare adapter.
    paths = frozenset()
    bare, tolerant = _BUILDERS["litellm"](paths), build_adapter("litellm", paths)

    def adapt(adapter: Callable[[bytes], object]) -> float:
        start = cpu()
        for line in lines:
            adapter(line)
        return cpu() - start
    bare_time = best(repeats, lambda: adapt(bare))
    tolerant_time = best(repeats, lambda: adapt(tolerant))
    row("LiteLLM adapter, tolerant of lone surrogates / bare",
        f"{tolerant_time / records * 1e6:.2f} / {bare_time / records * 1e6:.2f} us per record "
        f"= {tolerant_time / bare_time:.3f}x")


def _http(row: Callable[[str, str], None], work: Workload) -> None:
    """The whole request path over loopback, as a ratio to F."""
    ndjson, spec, records, f_rate, repeats = work.ndjson, work.spec, len(work.lines), work.f_rate, work.repeats
    gzipped_ndjson = [gzip.compress(body, 1) for body in ndjson]
    for label, bodies, gzipped in (("NDJSON", ndjson, False), ("gzip NDJSON", gzipped_ndjson, True)):
        timings = [time_http(bodies, spec, gzipped=gzipped) for _ in range(repeats)]
        seconds, accepted = min(timings)
        if accepted != records:
            raise SystemExit(f"HTTP ingest accepted {accepted} of {records} records")
        rate = records / seconds
        row(f"HTTP ingest, {label}, batches of {BATCH} (fresh pipeline)",
            f"{rate:,.0f} records/s = {rate / f_rate:.2f} F")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--http-only", action="store_true",
                        help="only F and the HTTP rows (runs against an older checkout too)")
    args = parser.parse_args()
    records, repeats = (4_096, 1) if args.quick else (51_200, 3)
    rows = run(records, repeats, http_only=args.http_only)
    width = max(len(name) for name, _ in rows)
    print(f"| {'figure':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    main()
