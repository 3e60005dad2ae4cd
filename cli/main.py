"""``gatewatch COMMAND [ARGS…]``: the exporter, the generator, the reports, the drills and the
simulator under one command. Each command hands its arguments to the entry point that also runs
on its own (``python -m exporter``, ``python generate.py``, ``python -m reports``,
``python -m drills``, ``python -m simulate``), so both spellings take the same flags and
exit with the same status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PROG = "gatewatch"


@dataclass(frozen=True)
class Command:
    module: str  # imported only when the command runs: `gatewatch report` never loads the exporter
    summary: str


COMMANDS: dict[str, Command] = {
    "exporter": Command("exporter.__main__", "run the exporter: ingest gateway records, serve /metrics"),
    "generate": Command("generate", "render dashboards, rules, routing, runbooks and configs into build/"),
    "report": Command("reports.cli", "cost, compliance, review and audit reports from Prometheus"),
    "drill": Command("drills.__main__", "run the incident drills on a real Prometheus and Alertmanager"),
    "simulate": Command("simulate.__main__", "post or backfill simulated gateway traffic"),
}

EPILOG = "Run `gatewatch COMMAND --help` for a command's own flags.\n\ncommands:\n" + "\n".join(
    f"  {name:<10}{command.summary}" for name, command in COMMANDS.items()
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Operations layer for generative-AI gateways.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help="one of: " + ", ".join(COMMANDS))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's own arguments")
    return parser


def entry_point(name: str) -> Callable[[Sequence[str], str], int]:
    """The ``main(argv, prog)`` of command ``name``."""
    main: Callable[[Sequence[str], str], int] = importlib.import_module(COMMANDS[name].module).main
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    return entry_point(args.command)(args.args, f"{PROG} {args.command}")


if __name__ == "__main__":
    sys.exit(main())
