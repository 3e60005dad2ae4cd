"""The model catalogue: which team may use which model, at what price, and what is scheduled."""

from __future__ import annotations

import fnmatch

from contract.spec import Model, Price, Spec, Team
from portal.text import table, usd


def approved_models(spec: Spec, team: Team) -> list[Model]:
    """Models in the price table that one of the team's ``approved_models`` patterns matches."""
    return [m for m in spec.models if any(fnmatch.fnmatchcase(m.name, p) for p in team.approved_models)]


def approved_teams(spec: Spec, model: Model) -> list[Team]:
    return [t for t in spec.teams if model in approved_models(spec, t)]


def price_cells(price: Price) -> tuple[str, str, str]:
    cached = usd(price.cached_input_per_mtok) if price.cached_input_per_mtok is not None else "not discounted"
    return usd(price.input_per_mtok), usd(price.output_per_mtok), cached


def team_link(team: Team, prefix: str) -> str:
    return f"[{team.name}]({prefix}teams/{team.name}.md)"


def _teams_cell(spec: Spec, model: Model) -> str:
    teams = approved_teams(spec, model)
    return "<br>".join(f"{team_link(t, '')}: {', '.join(t.classifications) or 'no classification'}"
                       for t in teams) or "no team"


def _scheduled_cell(spec: Spec, model: Model) -> str:
    """Dates only: the section below the table says what happens on them."""
    events = [f"retires {model.deprecation.retires}"] if model.deprecation else []
    events += [f"new prices {c.effective}" for c in spec.finance.price_changes if c.model == model.name]
    return "<br>".join(events) or "—"


def catalogue_table(spec: Spec) -> str:
    header = ("model", "provider", "tier", "input", "output", "cached input", "scheduled")
    rows = [(f"`{m.name}`", m.provider, m.tier, *price_cells(m.price), _scheduled_cell(spec, m)) for m in spec.models]
    return table(header, rows)


def approvals_table(spec: Spec) -> str:
    rows = [(f"`{m.name}`", _teams_cell(spec, m)) for m in spec.models]
    return table(("model", "teams: data classifications"), rows)


def scheduled(spec: Spec) -> list[tuple[str, str, str]]:
    """(date, model, what happens) for every deprecation and price change, by date."""
    events = []
    for model in spec.models:
        deprecation = model.deprecation
        if deprecation is None:
            continue
        text = f"retires on {deprecation.retires}"
        if deprecation.replacement:
            text += f", move to `{deprecation.replacement}`"
        if deprecation.reason:
            text += f" ({deprecation.reason})"
        events.append((deprecation.retires, model.name, text))
    for change in spec.finance.price_changes:
        cells = price_cells(change.price)
        events.append((change.effective, change.model,
                       f"new prices from {change.effective}: input {cells[0]}, output {cells[1]}, "
                       f"cached input {cells[2]}"))
    return sorted(events)


def scheduled_table(spec: Spec) -> str:
    events = scheduled(spec)
    if not events:
        return "Nothing is scheduled."
    return table(("date", "model", "change"), [(day, f"`{model}`", text) for day, model, text in events])
