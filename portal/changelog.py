"""What changed: the spec's own ``changes:`` entries, and what differs from an older spec."""

from __future__ import annotations

from contract.spec import Spec
from portal.models import approved_models, price_cells
from portal.text import bullets, table, usd

_KINDS = {
    "model_added": "model added", "model_retired": "model retired", "price": "price", "budget": "budget",
    "guardrail": "guardrail", "team": "team", "other": "other",
}


def history(spec: Spec) -> str:
    entries = sorted(spec.changes, key=lambda c: c.date, reverse=True)
    if not entries:
        return "The spec records no changes yet (its `changes:` section is empty)."
    rows = [(c.date, _KINDS[c.kind], c.summary) for c in entries]
    return table(("date", "kind", "what changed"), rows)


def compare(previous: Spec, current: Spec) -> list[str]:
    """What a developer would notice between two specs: models, prices, budgets, approvals."""
    lines: list[str] = []
    old_models = {m.name: m for m in previous.models}
    new_models = {m.name: m for m in current.models}
    lines += [f"Model `{n}` ({new_models[n].provider}) added." for n in new_models if n not in old_models]
    lines += [f"Model `{n}` removed." for n in old_models if n not in new_models]
    for name, model in new_models.items():
        old = old_models.get(name)
        if old is not None and old.price != model.price:
            before, after = price_cells(old.price), price_cells(model.price)
            lines.append(f"`{name}` prices (input, output, cached input per million tokens): "
                         f"{', '.join(before)} → {', '.join(after)}.")
        if old is not None and model.deprecation is not None and old.deprecation != model.deprecation:
            lines.append(f"`{name}` retires on {model.deprecation.retires}.")
    old_teams = {t.name: t for t in previous.teams}
    for team in current.teams:
        old_team = old_teams.get(team.name)
        if old_team is None:
            lines.append(f"Team `{team.name}` joined the platform.")
            continue
        if old_team.budget.monthly_usd != team.budget.monthly_usd:
            lines.append(f"`{team.name}` monthly budget: {usd(old_team.budget.monthly_usd)} → "
                         f"{usd(team.budget.monthly_usd)}.")
        was = {m.name for m in approved_models(previous, old_team)}
        now = {m.name for m in approved_models(current, team)}
        lines += [f"`{team.name}` may now use `{m}`." for m in sorted(now - was)]
        lines += [f"`{team.name}` may no longer use `{m}`." for m in sorted(was - now)]
        for guardrail in sorted(set(team.required_guardrails) - set(old_team.required_guardrails)):
            lines.append(f"`{team.name}` now requires guardrail `{guardrail}`.")
    current_names = {t.name for t in current.teams}
    lines += [f"Team `{n}` left the platform." for n in old_teams if n not in current_names]
    return lines


def compared_section(previous: Spec | None, current: Spec) -> str:
    if previous is None:
        return ""
    return "## Since the previous spec\n\n" + bullets(compare(previous, current), empty="No differences.")
