"""One page per team: who owns it, what it may use, what it may spend, and where to look."""

from __future__ import annotations

from alerts.render import runbook_url
from contract.dashboards import dashboard_url
from contract.spec import Guardrail, Spec, Team
from portal import objectives, support
from portal.models import approved_models, price_cells
from portal.text import bullets, fill, number, table, usd
from runbooks import sources
from runbooks.contacts import budget_route, budget_thresholds
from runbooks.render import documented_rules, team_scope

DIGEST = "python -m reports digest --prometheus \"$PROMETHEUS_URL\" --spec ops.yaml --team {team}"


def page_path(team: Team) -> str:
    return f"teams/{team.name}.md"


def title(team: Team) -> str:
    return team.display_name or team.name


def dashboard_links(spec: Spec, team: Team) -> list[tuple[str, str]]:
    """(label, URL) of the Grafana views with the team preselected, as the digest links them."""
    base, team_var = spec.organization.grafana_base_url, {"team": team.name}
    return [
        ("Team dashboard", dashboard_url(base, "team", variables=team_var)),
        ("Spend against budget", dashboard_url(base, "cost", "month-to-date", team_var)),
    ]


def _contact(team: Team) -> str:
    owner = team.budget_owner
    reach = [f"[{owner.email}](mailto:{owner.email})" if owner.email else "", f"`{owner.chat}`" if owner.chat else ""]
    return ", ".join([owner.name, *(r for r in reach if r)])


def facts_table(spec: Spec, team: Team) -> str:
    budget = team.budget.monthly_usd
    thresholds = ", ".join(f"{number(t)} % ({usd(budget * t / 100)})" for t in budget_thresholds(spec, team))
    rows = [
        ("team", f"`{team.name}`"),
        ("owner", team.owner),
        ("budget owner", _contact(team)),
        ("cost centre", team.cost_center),
        ("tier", team.tier),
        ("monthly budget", usd(budget)),
        ("budget alerts at", thresholds),
        ("budget alerts go to", budget_route(spec, team)),
        ("data classifications", ", ".join(team.classifications) or "none approved"),
    ]
    return table(("about the team", ""), rows)


def models_table(spec: Spec, team: Team) -> str:
    models = approved_models(spec, team)
    if not models:
        return "No model in the price table is approved for this team."
    rows = [(f"`{m.name}`", m.provider, m.tier, *price_cells(m.price)) for m in models]
    return table(("model", "provider", "tier", "input", "output", "cached input"), rows)


def _guardrail(spec: Spec, name: str) -> Guardrail:
    return next(g for g in spec.guardrails if g.name == name)


def guardrails_table(spec: Spec, team: Team) -> str:
    if not team.required_guardrails:
        return "None required: the organisation's defaults apply."
    guardrails = [_guardrail(spec, name) for name in team.required_guardrails]
    rows = [(f"`{g.name}`", g.kind, g.description or "—") for g in guardrails]
    return table(("guardrail", "kind", "what it does"), rows)


def runbooks_table(spec: Spec) -> str:
    pages = sources.alert_pages()
    rows = [
        (f"[{name}](../runbooks/{name}.md)", f"`{rule.audience}`", rule.severity,
         f"[as linked from the alert]({runbook_url(spec, name)})")
        for name, rule in documented_rules(spec).items() if team_scope(pages[name], rule) == "team"
    ]
    return table(("alert about this team", "goes to", "severity", "runbook_url"), rows)


def tasks_list() -> str:
    return bullets([f"[{t.title}](../runbooks/tasks/{t.name}.md): {t.summary}" for t in sources.tasks().values()])


def page(spec: Spec, team: Team) -> str:
    route = f"{team.budget_owner.name}, through {budget_route(spec, team)}"
    apps = [f"`{a.name}`" + (" (batch)" if not a.interactive else "") for a in spec.apps if a.team == team.name]
    return fill(
        "team.md",
        title=title(team),
        name=team.name,
        facts=facts_table(spec, team),
        models=models_table(spec, team),
        guardrails=guardrails_table(spec, team),
        apps=", ".join(apps) or "none yet",
        objectives=objectives.listed(objectives.applying_to(spec, team)),
        dashboards=bullets([f"[{label}]({url})" for label, url in dashboard_links(spec, team)]),
        runbooks=runbooks_table(spec),
        tasks=tasks_list(),
        digest=DIGEST.format(team=team.name),
        ticket=support.first_channel(spec, "ticket"),
        finance=spec.organization.finance_contact,
        budget_owner=team.budget_owner.name,
        escalation=support.numbered(support.escalation_path(spec, "budget_owner", route)),
        help=support.first_channel(spec, "chat"),
    )


def index(spec: Spec) -> str:
    rows = [(f"[{title(t)}]({t.name}.md)", f"`{t.name}`", t.owner, t.cost_center, usd(t.budget.monthly_usd))
            for t in spec.teams]
    return fill("teams.md", org=spec.organization.name,
                teams=table(("team", "id", "owner", "cost centre", "monthly budget"), rows))
