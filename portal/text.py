"""Formatting shared by the portal's pages: money, lists, dates and templates."""

from __future__ import annotations

import string
from decimal import Decimal
from functools import cache
from pathlib import Path

from runbooks.facts import number, table

__all__ = ["bullets", "fill", "minutes", "number", "table", "usd", "words"]

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES / name).read_text(encoding="utf-8"))


def fill(template: str, **values: str) -> str:
    """A page template from ``portal/templates/`` with its ``${name}`` placeholders filled."""
    return _template(template).substitute(values).rstrip() + "\n"


def usd(value: float) -> str:
    """Dollars with cents, and more digits only when the spec gives them (0.075 stays 0.075)."""
    cents = f"{value:,.2f}"
    if float(cents.replace(",", "")) == value:
        return f"${cents}"
    # repr is the shortest text that reads back as this float: exactly what the spec said.
    return f"${Decimal(repr(value)):,f}"


def words(values: list[str] | tuple[str, ...], empty: str = "none") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if not values:
        return empty
    if len(values) == 1:
        return values[0]
    return ", ".join(values[:-1]) + " and " + values[-1]


def bullets(lines: list[str], empty: str = "None.") -> str:
    return "\n".join(f"- {line}" for line in lines) if lines else empty


def minutes(value: int) -> str:
    if value and value % 1440 == 0:
        return _plural(value // 1440, "day")
    if value and value % 60 == 0:
        return _plural(value // 60, "hour")
    return _plural(value, "minute")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" + ("" if count == 1 else "s")
