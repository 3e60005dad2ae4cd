"""The weekly review of guardrail findings: export a sheet, import verdicts, summarise."""

from reports.review.command import add_parser, run

__all__ = ["add_parser", "run"]
