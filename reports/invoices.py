"""Provider invoices and usage exports as (provider, model, cost) lines, through a column mapping.

A mapping names the CSV columns that hold the day, the model, the cost and, optionally, the
provider and the currency. Three are built in:

``openai`` (an OpenAI-style cost export, one row per day, project and line item)
    ``start_time_iso`` the day (ISO 8601, UTC); ``line_item`` such as ``gpt-4o-2024-08-06, input``
    -- the model is the text before the first comma; ``amount_value`` the cost; ``amount_currency``
    must be ``usd``. The provider is ``openai``.

``anthropic`` (an Anthropic-style cost export, one row per day, workspace, model and token type)
    ``usage_date_utc`` the day; ``model`` such as ``claude-sonnet-4-20250514``; ``cost_usd`` the
    cost in USD. The provider is ``anthropic``.

``generic`` (anything else, after renaming its columns)
    ``date`` the day; ``provider``; ``model``; ``cost_usd``.

The invoice's model names (dated, or provider-prefixed) become the spec's model names through the
spec's model aliases, so ``gpt-4o-2024-08-06`` and ``gpt-4o`` are one row. A name the spec does
not know stays as it is, and reconciliation shows it as a model gatewatch never saw.
Rows dated outside the period are left out and counted.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from contract.spec import Spec
from reports.prometheus import ReportError


@dataclass(frozen=True, slots=True)
class Mapping:
    name: str
    date_column: str
    model_column: str
    cost_column: str
    provider_column: str | None = None
    provider: str = ""            # the provider when no column names it
    currency_column: str | None = None
    model_separator: str | None = None  # the model is the text before it ("gpt-4o, input")


MAPPINGS: dict[str, Mapping] = {
    "openai": Mapping(
        "openai", date_column="start_time_iso", model_column="line_item", cost_column="amount_value",
        provider="openai", currency_column="amount_currency", model_separator=",",
    ),
    "anthropic": Mapping(
        "anthropic", date_column="usage_date_utc", model_column="model", cost_column="cost_usd",
        provider="anthropic",
    ),
    "generic": Mapping(
        "generic", date_column="date", model_column="model", cost_column="cost_usd", provider_column="provider",
    ),
}


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    day: date
    provider: str
    model: str        # the spec's name when the spec knows it, else as on the invoice
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Invoice:
    lines: tuple[InvoiceLine, ...]   # within the period
    outside: int                     # rows dated outside the period, left out

    def totals(self) -> dict[tuple[str, str], float]:
        """Cost by (provider, model)."""
        out: dict[tuple[str, str], float] = {}
        for line in self.lines:
            key = (line.provider, line.model)
            out[key] = out.get(key, 0.0) + line.cost_usd
        return out

    def providers(self) -> set[str]:
        return {line.provider for line in self.lines}


def model_names(spec: Spec) -> dict[str, str]:
    """Every name a model goes by (name, aliases, the part after a ``provider/`` prefix) -> spec name."""
    names: dict[str, str] = {}
    for model in spec.models:
        for alias in (model.name, *model.aliases):
            names.setdefault(alias, model.name)
            names.setdefault(alias.rpartition("/")[2], model.name)
    return names


def load(path: Path, mapping: Mapping, spec: Spec, start: datetime, end: datetime) -> Invoice:
    """The invoice lines of ``path`` dated in [start, end); a file that cannot be read is a ReportError."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as err:
        raise ReportError(f"cannot read the invoice {path}: {err.strerror}") from None
    return parse(text, mapping, spec, start, end, source=str(path))


def parse(text: str, mapping: Mapping, spec: Spec, start: datetime, end: datetime, *,
          source: str = "<invoice>") -> Invoice:
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or ())
    wanted = [c for c in (mapping.date_column, mapping.model_column, mapping.cost_column,
                          mapping.provider_column, mapping.currency_column) if c]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ReportError(
            f"{source}: the {mapping.name} mapping needs column(s) {', '.join(missing)}; "
            f"the file has {', '.join(sorted(columns)) or 'none'}"
        )
    names = model_names(spec)
    lines: list[InvoiceLine] = []
    outside = 0
    for number, row in enumerate(reader, start=2):
        day = _day(row[mapping.date_column], source, number)
        if not start <= datetime(day.year, day.month, day.day, tzinfo=UTC) < end:
            outside += 1
            continue
        lines.append(InvoiceLine(day, *_provider_model(row, mapping, names, f"{source}:{number}"),
                                 _money(row[mapping.cost_column], source, number)))
    if not lines:
        raise ReportError(
            f"{source}: no invoice rows dated between {start:%Y-%m-%d} and {end:%Y-%m-%d} "
            f"({outside} row(s) outside it)"
        )
    return Invoice(tuple(lines), outside)


def _provider_model(row: dict[str, str], mapping: Mapping, names: dict[str, str], where: str) -> tuple[str, str]:
    if mapping.currency_column and row[mapping.currency_column].strip().lower() not in ("usd", ""):
        raise ReportError(f"{where}: expected USD, got {row[mapping.currency_column]!r}")
    raw_model = row[mapping.model_column]
    if mapping.model_separator:
        raw_model = raw_model.split(mapping.model_separator, 1)[0]
    raw_model = raw_model.strip()
    if not raw_model:
        raise ReportError(f"{where}: empty {mapping.model_column}")
    provider = row[mapping.provider_column].strip() if mapping.provider_column else mapping.provider
    return provider, names.get(raw_model) or names.get(raw_model.rpartition("/")[2]) or raw_model


def _day(text: str, source: str, number: int) -> date:
    raw = text.strip()
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(f"{source}:{number}: expected a date (YYYY-MM-DD or ISO 8601), got {text!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _money(text: str, source: str, number: int) -> float:
    try:
        return float(text.strip().removeprefix("$").replace(",", ""))
    except ValueError:
        raise ReportError(f"{source}:{number}: expected an amount, got {text!r}") from None
