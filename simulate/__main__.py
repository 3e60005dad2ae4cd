"""``python -m simulate``: post simulated gateway traffic to a running exporter, or
write it as OpenMetrics history for ``promtool tsdb create-blocks-from openmetrics``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from contract import spec as spec_model
from simulate.backfill import backfill
from simulate.post import Poster, run
from simulate.scenarios import SCENARIOS, SUMMARIES
from simulate.traffic import generate

_SCENARIOS = "\n".join(f"  {name:<24}{text}" for name, text in SUMMARIES.items())
_EPILOG = f"""\
scenarios (the incident starts after --incident-after seconds, on top of ordinary traffic;
targets are chosen from the spec, named here for the example spec):
{_SCENARIOS}

examples:
  python -m simulate --target http://127.0.0.1:9464 --rate 20 --duration 300 \\
      --scenario provider_outage --incident-after 120
  python -m simulate --backfill --scenario cost_runaway --incident-after 864000 \\
      --start 2026-10-01T00:00:00Z --end 2026-10-15T00:00:00Z --rate 2 --diurnal --out history.om
  promtool tsdb create-blocks-from openmetrics --max-block-duration=24h history.om data/
"""


def _stop(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _timestamp(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time like 2026-10-01T00:00:00Z, got {text!r}") from None


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def parser(prog: str = "python -m simulate") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Simulated LiteLLM and Kong gateway traffic for a gatewatch spec: posted live to a running "
                    "exporter, or (--backfill) written as OpenMetrics history over a past range.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--spec", default="ops.yaml", type=Path,
                   help="the spec whose teams, apps (their aliases are the key aliases and Kong consumers), "
                        "models and prices shape the traffic (default: %(default)s)")
    p.add_argument("--scenario", default="normal", choices=SCENARIOS, metavar="NAME",
                   help=f"incident to overlay: {', '.join(SCENARIOS)} (default: %(default)s)")
    p.add_argument("--rate", type=_non_negative, default=10.0, metavar="N",
                   help="ordinary records per second on average, fractions allowed; the incident adds its own "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same traffic "
                                                       "(default: %(default)s)")
    p.add_argument("--incident-after", type=_non_negative, default=0.0, metavar="SECONDS",
                   help="ordinary traffic only for this long, then the scenario's incident (default: 0)")
    p.add_argument("--diurnal", action="store_true",
                   help="shape the rate by time of day (peak 15:00 UTC, +-60%%) and weekday (weekends quieter); "
                        "off by default so short runs are steady")

    live = p.add_argument_group("live posting")
    live.add_argument("--target", metavar="URL",
                      help="the exporter, e.g. http://127.0.0.1:9464; records go to URL/ingest/litellm and "
                           "URL/ingest/kong as JSON arrays, flushed every ~1 s or 100 records")
    live.add_argument("--duration", type=_non_negative, default=60.0, metavar="SECONDS",
                      help="how long to send; 0 sends until Ctrl-C (default: %(default)s)")
    live.add_argument("--token-env", default="GATEWATCH_INGEST_TOKEN", metavar="NAME",
                      help="environment variable holding the ingest token; when it is set, requests carry "
                           "'Authorization: Bearer <token>' (default: %(default)s)")

    history = p.add_argument_group("backfill (OpenMetrics history)")
    history.add_argument("--backfill", action="store_true",
                         help="write history to --out instead of posting: the records run through the real "
                              "exporter pipeline on a simulated clock and every --step seconds every series is "
                              "written with that timestamp. Cost: ~65 us of CPU per record (14 days at --rate 1 "
                              "is ~1.3M records, ~90 s; use --sample-every for higher rates) and a file of ~4,000 "
                              "sample lines (~150 bytes each) per step for the example spec: 14 days at --step "
                              "300 is 16M lines, 2.4 GB; at --step 60, 80M lines, 12 GB. Load it with promtool "
                              "tsdb create-blocks-from openmetrics --max-block-duration=24h FILE DIR: promtool "
                              "rereads the whole file once per block (2 h blocks by default)")
    history.add_argument("--start", type=_timestamp, metavar="TIME", help="start of the range, ISO 8601 (UTC)")
    history.add_argument("--end", type=_timestamp, metavar="TIME", help="end of the range, ISO 8601 (UTC)")
    history.add_argument("--out", type=Path, metavar="FILE", help="the OpenMetrics file to write")
    history.add_argument("--step", type=float, default=60.0, metavar="SECONDS",
                         help="seconds between the written samples, as a scrape interval (default: %(default)s)")
    history.add_argument("--sample-every", type=_positive_int, default=1, metavar="N",
                         help="run only 1 in N records through the pipeline (traffic generated at rate/N) and "
                              "multiply every counter and histogram by N: N times less CPU for the records, the "
                              "same totals and rates in expectation (default: 1, exact)")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "python -m simulate") -> int:
    args = parser(prog).parse_args(argv)
    try:
        spec = spec_model.load(args.spec)
    except spec_model.SpecError as err:
        print(err, file=sys.stderr)
        return 2
    if args.backfill:
        return _backfill(args, spec)
    if not args.target:
        print("simulate: --target URL is required (or --backfill to write history)", file=sys.stderr)
        return 2
    token = os.environ.get(args.token_env) or None
    try:
        poster = Poster(args.target, token)
    except ValueError as err:
        print(f"simulate: {err}", file=sys.stderr)
        return 2
    records = generate(spec, args.scenario, start=time.time(), duration=args.duration, rate=args.rate,
                       seed=args.seed, incident_after=args.incident_after, diurnal=args.diurnal)
    previous = signal.signal(signal.SIGTERM, _stop)  # flush and summarise on SIGTERM as on Ctrl-C
    try:
        run(records, poster.post)
    except KeyboardInterrupt:
        pass  # a second interrupt (Ctrl-C reaches the whole process group) cut the final flush
    finally:
        signal.signal(signal.SIGTERM, previous)
        poster.close()
    summary = poster.summary
    print(summary.line(args.target))
    if summary.batches and not summary.responded:
        print(f"simulate: {args.target} was unreachable throughout", file=sys.stderr)
        return 1
    return 0


def _backfill(args: argparse.Namespace, spec: spec_model.Spec) -> int:
    missing = [flag for flag, value in (("--start", args.start), ("--end", args.end), ("--out", args.out))
               if value is None]
    if missing:
        print(f"simulate: --backfill needs {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.end <= args.start or args.step <= 0:
        print("simulate: --end must be after --start, and --step positive", file=sys.stderr)
        return 2
    began = time.process_time()
    with args.out.open("w", encoding="utf-8", buffering=1 << 20) as out:
        summary = backfill(spec, args.scenario, out, start=args.start, end=args.end, rate=args.rate,
                           step=args.step, seed=args.seed, incident_after=args.incident_after,
                           diurnal=args.diurnal, sample_every=args.sample_every)
    print(f"wrote {summary.samples} samples of {summary.series} series at {summary.scrapes} timestamps "
          f"from {summary.records} records to {args.out} ({time.process_time() - began:.1f} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
