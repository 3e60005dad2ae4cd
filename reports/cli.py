"""The ``python -m reports`` command line: one sub-command per report module.

Each command module exposes ``add_parser(subparsers) -> None`` and ``run(args) -> int``. A
``ReportError`` anywhere becomes ``error: <message>`` on stderr and exit status 2: never a
traceback, and never an output file (commands write their file only once the report is built).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from contract import spec
from reports.periods import Period, from_args
from reports.prometheus import PrometheusClient, ReportError

COMMANDS = ("chargeback", "reconcile", "forecast", "savings", "digest", "review", "audit", "access", "compliance")
ERROR_EXIT = 2


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--prometheus``, ``--spec`` and ``--timeout``, shared by every command."""
    parser.add_argument("--prometheus", required=True, metavar="URL", help="Prometheus base URL")
    parser.add_argument("--spec", default="ops.yaml", type=Path, help="the ops spec (default ops.yaml)")
    parser.add_argument(
        "--timeout", default=30.0, type=float, metavar="SECONDS", help="per-query timeout (default 30)"
    )


def add_period_arguments(parser: argparse.ArgumentParser) -> None:
    """``--month YYYY-MM`` or ``--start``/``--end`` (dates or ISO 8601 times, UTC, end exclusive)."""
    parser.add_argument("--month", metavar="YYYY-MM", help="a UTC calendar month")
    parser.add_argument("--start", metavar="DATE", help="period start (inclusive), UTC")
    parser.add_argument("--end", metavar="DATE", help="period end (exclusive), UTC")


def period_of(args: argparse.Namespace) -> Period:
    return from_args(args.month, args.start, args.end)


def client_of(args: argparse.Namespace) -> PrometheusClient:
    return PrometheusClient(args.prometheus, timeout=args.timeout)


def load_spec(path: Path) -> spec.Spec:
    """The spec at ``path``; a missing or invalid spec is a ``ReportError``."""

    try:
        return spec.load(path)
    except FileNotFoundError:
        raise ReportError(f"spec not found: {path}") from None
    except Exception as err:
        raise ReportError(f"invalid spec {path}: {err}") from None


def write_output(text: str, out: Path | None) -> None:
    """Write ``text`` to ``out`` atomically (stdout when ``out`` is None or ``-``)."""
    if out is None or str(out) == "-":
        sys.stdout.write(text)
        return
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _command_modules() -> list[ModuleType]:
    return [importlib.import_module(f"reports.{name}") for name in COMMANDS]


def build_parser(prog: str = "python -m reports") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Cost governance reports from Prometheus and the ops spec.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m reports") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    module = importlib.import_module(f"reports.{args.command}")
    try:
        status: int = module.run(args)
        return status
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return ERROR_EXIT
    except KeyboardInterrupt:
        return 130
