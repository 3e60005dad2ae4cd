"""``python -m exporter``: run the gatewatch exporter.

    python -m exporter --spec ops.yaml --listen 127.0.0.1:9464 --state-dir state/
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from contract.fields import FORMATS
from exporter import logs
from exporter.server import Listen, parse_listen
from exporter.service import Options, run

DESCRIPTION = """\
Turn gateway request records (LiteLLM, Kong AI Gateway, OpenTelemetry, gatewatch events) into Prometheus
metrics. Records arrive by HTTP (POST /ingest/litellm, /ingest/kong, /ingest/events), as
OpenTelemetry GenAI spans or metrics over OTLP/HTTP (POST /v1/traces, /v1/metrics), or from
files followed with --tail. GET /metrics serves Prometheus; GET /healthz and /readyz serve
probes. SIGHUP reloads the spec; SIGTERM or SIGINT writes a final snapshot and exits."""

EPILOG = """\
exit codes: 0 stopped by a signal, 1 could not start (port in use, state directory unusable),
2 bad usage or a broken spec (the message names the file, line and path)."""


def _listen(text: str) -> Listen:
    try:
        return parse_listen(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def build_parser(prog: str = "python -m exporter") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--spec", type=Path, default=Path("ops.yaml"), metavar="FILE",
        help="The spec (teams, apps, prices, attribution, ingest limits) to run; reloaded on SIGHUP. "
             "Default: ops.yaml.",
    )
    parser.add_argument(
        "--listen", type=_listen, default=parse_listen("127.0.0.1:9464"), metavar="HOST:PORT",
        help="Address for ingest, /metrics and the probes; ':9464' listens on all interfaces. "
             "Default: 127.0.0.1:9464.",
    )
    parser.add_argument(
        "--tail", action="append", type=Path, default=[], metavar="PATH",
        help="Follow this JSONL file (rotation and truncation included; its offset is stored under "
             "its absolute path); repeat with one --format per --tail to follow several files.",
    )
    parser.add_argument(
        "--format", action="append", choices=FORMATS, default=[], dest="formats",
        help="The record format of the --tail file at the same position (one --format applies to "
             "every --tail).",
    )
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR",
        help="Directory for the write-ahead log (every accepted batch is on disk before its 202) "
             "and snapshot generations of counters, tail offsets and the duplicate window, so a "
             "restart, even after kill -9, continues every counter. Default: none, nothing is "
             "persisted and every restart starts from zero (and re-reads tailed files).",
    )
    parser.add_argument(
        "--audit-dir", type=Path, metavar="DIR",
        help="Append every security- or compliance-relevant request (guardrail findings, policy "
             "violations, sensitive-entity detections) to a hash-chained JSONL audit log here, one "
             "file per UTC day, purged past the spec's audit.retention_max_days. Never prompt or "
             "response text. Default: no audit log.",
    )
    parser.add_argument(
        "--otlp-endpoint", metavar="URL",
        help="Also push OTLP metrics (OpenTelemetry GenAI conventions) to this collector URL, "
             "e.g. http://collector:4318; headers come from $GATEWATCH_OTLP_HEADERS. Default: off.",
    )
    parser.add_argument(
        "--otlp-interval", type=_positive, default=15.0, metavar="SECONDS",
        help="Seconds between OTLP pushes. Default: 15.",
    )
    parser.add_argument(
        "--ingest-token-env", metavar="NAME",
        help="Name of the environment variable holding the ingest bearer token, overriding the "
             "spec's ingest.token_env; when that variable is set, ingest requires "
             "'Authorization: Bearer <token>'.",
    )
    parser.add_argument(
        "--log-level", choices=logs.LEVELS, default="info",
        help="Log verbosity; debug logs one line per request (never record content). Default: info.",
    )
    return parser


def parse_options(argv: Sequence[str] | None = None, prog: str = "python -m exporter") -> tuple[Options, str]:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    formats: list[str] = args.formats
    if args.tail and not formats:
        parser.error("--tail needs --format (litellm, kong or events)")
    if formats and not args.tail:
        parser.error("--format is given without a --tail to apply it to")
    if len(formats) == 1:
        formats = formats * len(args.tail)
    if len(formats) != len(args.tail):
        parser.error(f"give one --format per --tail, or a single --format for all "
                     f"({len(args.tail)} --tail, {len(formats)} --format)")
    paths = [path.resolve() for path in args.tail]
    if len(set(paths)) != len(paths):
        parser.error("the same file is given to --tail twice")
    options = Options(
        spec_path=args.spec,
        listen=args.listen,
        tails=tuple(zip(args.tail, formats, strict=True)),
        state_dir=args.state_dir,
        otlp_endpoint=args.otlp_endpoint,
        otlp_interval=args.otlp_interval,
        ingest_token_env=args.ingest_token_env,
        audit_dir=args.audit_dir,
    )
    return options, args.log_level


def main(argv: Sequence[str] | None = None, prog: str = "python -m exporter") -> int:
    options, level = parse_options(argv, prog)
    logs.configure(level)
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
