"""``python -m reports audit``: verify the audit trail, and purge it within the spec's retention.

    python -m reports audit verify DIR [--prometheus URL [--instance HOST:PORT]]
    python -m reports audit purge DIR --before YYYY-MM-DD --spec ops.yaml

``verify`` exits 0 when the chain is intact, 1 with each problem on its own line (file, line,
seq, what), 2 on a usage error. With ``--prometheus`` it also compares the chain length and head
Prometheus recorded from the exporter with the files: a tail cut off the newest file, or the
newest file deleted, leaves a chain that is intact but shorter than Prometheus saw.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from contract import catalog
from exporter.audit import RetentionError, Verification, purge, verify
from exporter.audit.chain import head_value
from reports.cli import load_spec
from reports.prometheus import PrometheusClient, ReportError

PROBLEMS_EXIT = 1
DEFAULT_LOOKBACK_DAYS = 30.0
# Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 10_000
MIN_STEP_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Recorded:
    """One (length, head) pair Prometheus holds for the exporter's chain."""

    at: float
    length: int
    head: int


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="verify the audit trail's hash chain, or purge old day files",
        description="Verify the exporter's audit log (--audit-dir) or purge day files within the spec's retention.",
    )
    commands = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    check = commands.add_parser(
        "verify", help="walk every day file and report edited, deleted, reordered or missing lines",
        description="Exit 0 when the chain is intact, 1 with one problem per line, 2 on a usage error.",
    )
    check.add_argument("directory", type=Path, metavar="DIR", help="the exporter's --audit-dir")
    check.add_argument("--prometheus", metavar="URL",
                       help="also compare the chain length and head Prometheus recorded with the files")
    check.add_argument("--instance", metavar="INSTANCE",
                       help="the exporter whose chain DIR holds, when Prometheus scrapes several")
    check.add_argument("--lookback-days", type=float, default=DEFAULT_LOOKBACK_DAYS, metavar="DAYS",
                       help=f"how far back to read Prometheus's record (default {DEFAULT_LOOKBACK_DAYS:g})")
    check.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="per-query timeout")
    remove = commands.add_parser(
        "purge", help="delete day files before a date, refusing any inside the spec's retention minimum",
        description="Delete audit day files dated before --before; nothing is deleted when any of them is "
                    "younger than audit.retention_min_days.",
    )
    remove.add_argument("directory", type=Path, metavar="DIR", help="the exporter's --audit-dir")
    remove.add_argument("--before", required=True, metavar="YYYY-MM-DD", help="delete files dated before this")
    remove.add_argument("--spec", type=Path, default=Path("ops.yaml"), help="the ops spec (default ops.yaml)")
    remove.add_argument("--today", help=argparse.SUPPRESS)  # tests pin the date


def run(args: argparse.Namespace) -> int:
    if not args.directory.is_dir():
        raise ReportError(f"audit directory not found: {args.directory}")
    if args.audit_command == "purge":
        return _purge(args)
    result = verify(args.directory)
    problems = [str(problem) for problem in result.problems]
    if args.prometheus:
        client = PrometheusClient(args.prometheus, timeout=args.timeout)
        problems += compare(client, result, instance=args.instance, lookback=args.lookback_days * 86_400,
                            now=time.time())
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in {args.directory}", file=sys.stderr)
        return PROBLEMS_EXIT
    print(f"ok: {result.lines} lines in {result.files} files, seq {result.first_seq or 0}..{result.length}, "
          f"chain intact" + (", and as long as Prometheus recorded" if args.prometheus else ""))
    return 0


def _purge(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    before = _date(args.before, "--before")
    today = _date(args.today, "--today") if args.today else datetime.now(UTC).date()
    try:
        removed = purge(args.directory, before, today=today, min_days=spec.audit.retention_min_days)
    except RetentionError as err:
        raise ReportError(str(err)) from None
    for path in removed:
        print(f"purged {path.name}")
    print(f"{len(removed)} day file(s) purged before {before.isoformat()}")
    return 0


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{option}: expected YYYY-MM-DD, got {text!r}") from None


# -- the outside record ---------------------------------------------------------------------


def compare(client: PrometheusClient, result: Verification, *, instance: str | None, lookback: float,
            now: float) -> list[str]:
    """Problems where the files disagree with the chain length and head Prometheus recorded."""
    length_name = catalog.AUDIT_CHAIN_LENGTH.name
    matcher = f'{{instance="{instance}"}}' if instance else ""
    window = f"{max(int(lookback), 60)}s"
    highest = client.query(f"max_over_time({length_name}{matcher}[{window}])", now)
    if not highest:
        raise ReportError(f"Prometheus at {client.url} holds no {length_name}{matcher} in the last "
                          f"{lookback / 86_400:g} days: is the exporter with --audit-dir scraped?")
    if len(highest) > 1:
        found = sorted(r["metric"].get("instance", "?") for r in highest)
        raise ReportError(f"several exporters report an audit chain ({', '.join(found)}): name the one "
                          "whose directory this is with --instance")
    problems: list[str] = []
    recorded_max = int(float(highest[0]["value"][1]))
    if recorded_max > result.length:
        problems.append(
            f"(end of chain): truncated tail: Prometheus recorded a chain of {recorded_max} lines, the files "
            f"end at seq {result.length}: seq {result.length + 1}..{recorded_max} were removed from the end of "
            "the newest file, or the newest day file(s) deleted"
        )
    for pair in _recorded(client, matcher, lookback, now):
        known = result.hashes.get(pair.length)
        if known is None:
            continue  # purged, or beyond the truncated end reported above
        digest, file, line = known
        if head_value(digest) != pair.head:
            when = datetime.fromtimestamp(pair.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            problems.append(
                f"{file}:{line}: seq {pair.length}: edited line: when the chain ended here ({when}) Prometheus "
                f"recorded head {pair.head:013x}, the line now hashes to {digest[:13]}"
            )
    return problems


def _recorded(client: PrometheusClient, matcher: str, lookback: float, now: float) -> list[Recorded]:
    """Distinct (length, head) pairs Prometheus holds, first time seen, from the same scrapes."""
    length_name, head_name = catalog.AUDIT_CHAIN_LENGTH.name, catalog.AUDIT_CHAIN_HEAD.name
    start = now - lookback
    step = max(MIN_STEP_SECONDS, lookback / MAX_POINTS)
    lengths = client.query_range(f"{length_name}{matcher}", start, now, step)
    heads = client.query_range(f"{head_name}{matcher}", start, now, step)
    seen: dict[tuple[int, int], Recorded] = {}
    # The last scrape's pair, which a coarse range step can miss (both samples share its timestamp).
    window = f"{max(int(lookback), 60)}s"
    last_length = client.query(f"last_over_time({length_name}{matcher}[{window}])", now)
    last_head = client.query(f"last_over_time({head_name}{matcher}[{window}])", now)
    if len(last_length) == 1 and len(last_head) == 1:
        key = (int(float(last_length[0]["value"][1])), int(float(last_head[0]["value"][1])))
        seen[key] = Recorded(now, *key)
    if len(lengths) != 1 or len(heads) != 1:
        return sorted(seen.values(), key=lambda r: r.at)
    head_at = {float(t): int(float(v)) for t, v in heads[0]["values"]}
    for t, v in lengths[0]["values"]:
        head = head_at.get(float(t))
        if head is None:
            continue
        key = (int(float(v)), head)
        if key not in seen or seen[key].at > float(t):
            seen[key] = Recorded(float(t), *key)
    return sorted(seen.values(), key=lambda r: r.at)
