"""``forecast``: each team's daily spend projected 30, 60 and 90 days out, and when it crosses its budget.

The model, fitted per team on the last ``--history-days`` whole UTC days (least squares, plain
Python): spend on day t = slope * t + level[weekday of t], a linear trend plus a day-of-week
pattern. With fewer than 14 days (two of each weekday) the weekday pattern cannot be told from
noise and the fit is the linear trend alone. Projections never go below zero.

On top of the fitted spend, from the spec's ``finance`` section:

- a price change scales the share of the team's spend on that model (its share over the history)
  from the effective date, by new cost / current cost of the team's own token mix on that model;
  changes effective on or before the last history day are already in the data and not applied;
- an onboarding adds ``expected_monthly_usd`` spread evenly over the days of each calendar month
  from its start date.

The budget crossing is the first day on which a team's month-to-date spend (actual days before
the forecast starts, projected days after) exceeds its monthly budget.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from contract import catalog
from contract.spec import Price, Spec
from reports.cli import add_common_arguments, client_of, load_spec, write_output
from reports.counters import daily_increases
from reports.periods import Period
from reports.prometheus import PrometheusClient, ReportError, no_data

HORIZONS = (30, 60, 90)
MIN_DAYS_FOR_WEEKLY = 14
MIN_DAYS = 2


@dataclass(frozen=True, slots=True)
class Fit:
    """spend(day) = slope * (day - origin).days + levels[day.weekday()]."""

    origin: date
    slope: float
    levels: tuple[float, ...]  # Monday first
    weekly: bool

    def predict(self, day: date) -> float:
        return self.slope * (day - self.origin).days + self.levels[day.weekday()]


def fit(origin: date, values: Sequence[float]) -> Fit:
    """Least-squares trend plus weekday levels for ``values`` on consecutive days from ``origin``."""
    n = len(values)
    if n < MIN_DAYS:
        raise ReportError(f"a forecast needs at least {MIN_DAYS} days of history, got {n}")
    if n < MIN_DAYS_FOR_WEEKLY:
        slope, intercept = _line(list(range(n)), list(values))
        return Fit(origin, slope, (intercept,) * 7, weekly=False)
    # Within-weekday regression: the slope from each weekday's deviations from its own means,
    # then each weekday's level is its mean minus the trend at its mean day.
    groups: dict[int, list[tuple[int, float]]] = {}
    for t, y in enumerate(values):
        groups.setdefault((origin + timedelta(days=t)).weekday(), []).append((t, y))
    means = {k: (sum(t for t, _ in g) / len(g), sum(y for _, y in g) / len(g)) for k, g in groups.items()}
    sxy = sum((t - means[k][0]) * (y - means[k][1]) for k, g in groups.items() for t, y in g)
    sxx = sum((t - means[k][0]) ** 2 for k, g in groups.items() for t, _ in g)
    slope = sxy / sxx if sxx else 0.0
    levels = tuple(means[k][1] - slope * means[k][0] for k in range(7))
    return Fit(origin, slope, levels, weekly=True)


def _line(xs: list[int], ys: list[float]) -> tuple[float, float]:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return slope, my - slope * mx


def cost_of(price: Price, tokens: dict[str, float]) -> float:
    """USD for a token mix (input includes cached input; output includes reasoning)."""
    cached = tokens.get("cached_input", 0.0)
    uncached = max(tokens.get("input", 0.0) - cached, 0.0)
    cached_price = price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
    output = tokens.get("output", 0.0)
    return (uncached * price.input_per_mtok + cached * cached_price + output * price.output_per_mtok) / 1e6


def price_factor(old: Price, new: Price, tokens: dict[str, float]) -> float:
    """What the same traffic costs at ``new`` relative to ``old``; without tokens, the list-price ratio."""
    before = cost_of(old, tokens)
    if before > 0:
        return cost_of(new, tokens) / before
    listed = old.input_per_mtok + old.output_per_mtok
    return (new.input_per_mtok + new.output_per_mtok) / listed if listed else 1.0


def onboarding_daily(spec: Spec, team: str, day: date) -> float:
    total = 0.0
    for onboarding in spec.finance.onboardings:
        if onboarding.team == team and day >= date.fromisoformat(onboarding.starting):
            total += onboarding.expected_monthly_usd / calendar.monthrange(day.year, day.month)[1]
    return total


@dataclass(frozen=True, slots=True)
class PriceStep:
    model: str
    effective: date
    share: float      # of the team's spend over the history
    factor: float     # new cost / current cost


@dataclass(frozen=True, slots=True)
class TeamHistory:
    team: str
    days: tuple[date, ...]          # consecutive, oldest first
    spend: tuple[float, ...]        # USD per day
    model_cost: dict[str, float]    # USD per model over the fit window
    model_tokens: dict[str, dict[str, float]]  # tokens by type per model over the fit window


@dataclass(frozen=True, slots=True)
class DayProjection:
    day: date
    base: float        # the fitted trend and weekday pattern
    price: float       # the price changes' effect (negative for a cut)
    onboarding: float

    @property
    def total(self) -> float:
        return self.base + self.price + self.onboarding


@dataclass(frozen=True, slots=True)
class TeamForecast:
    team: str
    budget_usd: float | None
    fit: Fit | None                  # None: no spend in the history
    days: tuple[DayProjection, ...]  # from the forecast start, 90 of them
    steps: tuple[PriceStep, ...]
    crossing: date | None            # first day month-to-date spend exceeds the budget
    history_mean: float

    def total(self, horizon: int) -> float:
        return sum(d.total for d in self.days[:horizon])

    def daily_at(self, horizon: int) -> float:
        return self.days[horizon - 1].total


def price_steps(spec: Spec, history: TeamHistory, after: date) -> tuple[PriceStep, ...]:
    spent = sum(history.model_cost.values())
    steps = []
    for change in spec.finance.price_changes:
        effective = date.fromisoformat(change.effective)
        model = spec.model(change.model)
        share = history.model_cost.get(change.model, 0.0) / spent if spent > 0 else 0.0
        if effective <= after or model is None or share == 0:
            continue
        factor = price_factor(model.price, change.price, history.model_tokens.get(change.model, {}))
        steps.append(PriceStep(change.model, effective, share, factor))
    return tuple(sorted(steps, key=lambda s: s.effective))


def project(spec: Spec, history: TeamHistory, start: date, fit_days: int, horizon: int = max(HORIZONS)) -> TeamForecast:
    """The team's forecast from ``start``; the fit uses the last ``fit_days`` of the history."""
    window = history.spend[-fit_days:]
    fitted = fit(history.days[-len(window)], window) if any(window) else None
    steps = price_steps(spec, history, start - timedelta(days=1))
    days = []
    for n in range(horizon):
        day = start + timedelta(days=n)
        base = max(fitted.predict(day), 0.0) if fitted else 0.0
        # Later changes to one model supersede earlier ones: the latest effective step per model.
        latest: dict[str, PriceStep] = {s.model: s for s in steps if s.effective <= day}
        price = sum(base * s.share * (s.factor - 1) for s in latest.values())
        days.append(DayProjection(day, base, price, onboarding_daily(spec, history.team, day)))
    budget = _budget(spec, history.team)
    crossing = _crossing(budget, history, days)
    return TeamForecast(history.team, budget, fitted, tuple(days), steps, crossing,
                        sum(window) / len(window) if window else 0.0)


def _budget(spec: Spec, team: str) -> float | None:
    try:
        return spec.team(team).budget.monthly_usd
    except KeyError:
        return None


def _crossing(budget: float | None, history: TeamHistory, days: Sequence[DayProjection]) -> date | None:
    if budget is None:
        return None
    spending = [*zip(history.days, history.spend, strict=True), *((d.day, d.total) for d in days)]
    month, so_far = None, 0.0
    for day, spent in spending:
        if (day.year, day.month) != month:
            month, so_far = (day.year, day.month), 0.0
        so_far += spent
        if so_far > budget:
            return day
    return None


def history(client: PrometheusClient, spec: Spec, start: date, history_days: int) -> list[TeamHistory]:
    """Daily spend per team for the ``history_days`` days before ``start``, and back to the 1st of
    ``start``'s month (the month-to-date the budget crossing starts from)."""
    first = min(start - timedelta(days=history_days), start.replace(day=1))
    days = [first + timedelta(days=n) for n in range((start - first).days)]
    if not days:
        raise ReportError("the history is empty: give --history-days of at least 1")
    whole = _period(days[0], start)
    window = _period(start - timedelta(days=history_days), start)
    spend: dict[str, list[float]] = {o.team: [0.0] * len(days) for o in spec.finance.onboardings}
    model_cost: dict[str, dict[str, float]] = {}
    for (day, key), value in daily_increases(client, catalog.COST.name, whole).items():
        labels = dict(key)
        team = labels.get("team", "")
        spend.setdefault(team, [0.0] * len(days))[(day - days[0]).days] += value
        if day >= window.start.date():
            per_model = model_cost.setdefault(team, {})
            per_model[labels.get("model", "")] = per_model.get(labels.get("model", ""), 0.0) + value
    if not any(any(v) for v in spend.values()):
        raise no_data(client.url, whole.start_ts, whole.end_ts)
    tokens: dict[str, dict[str, dict[str, float]]] = {}
    for (_, key), value in daily_increases(client, catalog.TOKENS.name, window).items():
        labels = dict(key)
        by_type = tokens.setdefault(labels.get("team", ""), {}).setdefault(labels.get("model", ""), {})
        by_type[labels.get("type", "")] = by_type.get(labels.get("type", ""), 0.0) + value
    return [
        TeamHistory(team, tuple(days), tuple(spend[team]), model_cost.get(team, {}), tokens.get(team, {}))
        for team in sorted(spend)
    ]


def _period(first: date, end: date) -> Period:
    return Period(_midnight(first), _midnight(end), f"{first:%Y-%m-%d} to {end:%Y-%m-%d}")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def forecast(client: PrometheusClient, spec: Spec, start: date, history_days: int) -> list[TeamForecast]:
    if history_days < MIN_DAYS:
        raise ReportError(f"--history-days must be at least {MIN_DAYS}")
    return [project(spec, h, start, history_days) for h in history(client, spec, start, history_days)]


def _crossing_text(f: TeamForecast) -> str:
    if f.budget_usd is None:
        return "no budget in the spec"
    if f.crossing is None:
        return f"not within {max(HORIZONS)} days"
    return f"{f.crossing:%Y-%m} on day {f.crossing.day} ({f.crossing:%Y-%m-%d})"


def to_markdown(forecasts: Sequence[TeamForecast], spec: Spec, start: date, history_days: int) -> str:
    head = ["Team", "Budget USD/month", f"Mean/day, last {history_days} d", "Trend USD/day²",
            *(f"Daily at +{h} d" for h in HORIZONS), *(f"Next {h} d" for h in HORIZONS), "Crosses budget"]
    out = [
        f"# Spend forecast from {start:%Y-%m-%d}",
        "",
        f"Fitted on the {history_days} whole UTC days before {start:%Y-%m-%d}: linear trend plus a "
        f"day-of-week pattern; planned onboardings and price changes from the spec added. USD.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for f in forecasts:
        cells = [f.team, "" if f.budget_usd is None else f"{f.budget_usd:,.0f}", f"{f.history_mean:,.2f}",
                 "" if f.fit is None else f"{f.fit.slope:+,.2f}",
                 *(f"{f.daily_at(h):,.2f}" for h in HORIZONS), *(f"{f.total(h):,.2f}" for h in HORIZONS),
                 _crossing_text(f)]
        out.append("| " + " | ".join(cells) + " |")
    notes = _notes(forecasts, spec, start)
    if notes:
        out += ["", "## Planned changes included", "", *notes]
    short = [f.team for f in forecasts if f.fit is not None and not f.fit.weekly]
    if short:
        out += ["", f"Fewer than {MIN_DAYS_FOR_WEEKLY} days of history: trend only, no weekday pattern, "
                f"for {', '.join(short)}."]
    out += ["", "---", "",
            "Spend counts in the day its record reached the exporter. A forecast is an extrapolation: "
            "read the 60- and 90-day figures as an order of magnitude."]
    return "\n".join(out) + "\n"


def _notes(forecasts: Sequence[TeamForecast], spec: Spec, start: date) -> list[str]:
    notes = []
    for f in forecasts:
        for s in f.steps:
            notes.append(f"- {f.team}: {s.model} price change from {s.effective:%Y-%m-%d}, "
                         f"{s.share:.1%} of its spend, cost x{s.factor:.3f}")
    for o in spec.finance.onboardings:
        if date.fromisoformat(o.starting) < start + timedelta(days=max(HORIZONS)):
            notes.append(f"- {o.team}: onboarding from {o.starting}, {o.expected_monthly_usd:,.2f} USD/month")
    return notes


CSV_COLUMNS = ("team", "date", "projected_usd", "trend_usd", "price_change_usd", "onboarding_usd",
               "month_budget_usd")


def to_csv(forecasts: Sequence[TeamForecast]) -> str:
    """One row per team and projected day."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in forecasts:
        for d in f.days:
            writer.writerow([f.team, d.day.isoformat(), f"{d.total:.4f}", f"{d.base:.4f}", f"{d.price:.4f}",
                             f"{d.onboarding:.4f}", "" if f.budget_usd is None else f"{f.budget_usd:.2f}"])
    return buffer.getvalue()


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "forecast",
        help="project each team's spend 30/60/90 days out and when it crosses its budget",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    parser.add_argument("--history-days", type=int, default=28, metavar="N",
                        help="whole days of history the fit uses (default 28)")
    parser.add_argument("--as-of", metavar="YYYY-MM-DD",
                        help="forecast as if on this UTC day (default today): history ends the day before")
    parser.add_argument("--format", choices=("md", "csv"), default="md",
                        help="md: summary per team; csv: one row per team and projected day")
    parser.add_argument("--out", metavar="FILE", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    start = _as_of(args.as_of)
    forecasts = forecast(client_of(args), spec, start, args.history_days)
    text = to_markdown(forecasts, spec, start, args.history_days) if args.format == "md" else to_csv(forecasts)
    write_output(text, args.out)
    return 0


def _as_of(text: str | None) -> date:
    if not text:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"--as-of must be a date YYYY-MM-DD, got {text!r}") from None
