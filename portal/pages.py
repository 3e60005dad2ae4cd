"""The portal's pages other than the team pages: each a template filled from the spec."""

from __future__ import annotations

from alerts.prometheus_config import Targets
from alerts.recording import HOURLY_INTERVAL
from contract import catalog
from contract.dashboards import dashboard_url
from contract.spec import Spec
from dashboards import adoption
from dashboards import team as team_board
from portal import changelog, objectives, support
from portal.models import approvals_table, approved_models, catalogue_table, scheduled_table
from portal.text import fill, number, table, words

# The dialects gatewatch reads, as developers know them.
GATEWAYS = {"litellm": "the LiteLLM proxy", "kong": "Kong AI Gateway", "events": "JSON events"}
_KIND_BLOCKS = {
    "pii": "personal data (names, emails, phone and card numbers): masked, or the request is blocked",
    "prompt_injection": "attempts to override the model's instructions or extract its data",
    "content_safety": "harmful or disallowed content in prompts or answers",
    "dlp": "confidential company data leaving through a prompt",
    "other": "what its description says",
}


def gateways(spec: Spec) -> list[str]:
    return [fmt for fmt in GATEWAYS if fmt in spec.attribution] or ["events"]


def home(spec: Spec) -> str:
    base = spec.organization.grafana_base_url
    providers = sorted({m.provider for m in spec.models})
    chat = support.first_channel(spec, "chat")
    return fill(
        "index.md",
        org=spec.organization.name,
        model_count=str(len(spec.models)),
        providers=words(providers, empty="no provider yet"),
        team_count=str(len(spec.teams)),
        gateways=words([GATEWAYS[g] for g in gateways(spec)]),
        guardrails=words([f"`{g.name}`" for g in spec.guardrails]),
        objectives=objectives.listed(list(spec.slos.objectives)),
        counting_rule=objectives.counting_rule(),
        overview_url=dashboard_url(base, "overview"),
        alerts_url=dashboard_url(base, "overview", "firing-alerts"),
        support_line=f"Ask in {chat} ({support.office_hours(spec)}).",
    )


def models(spec: Spec) -> str:
    return fill("models.md", catalogue=catalogue_table(spec), approvals=approvals_table(spec),
                scheduled=scheduled_table(spec),
                ticket=support.first_channel(spec, "ticket"))


def _fields(paths: tuple[str, ...]) -> str:
    return words([f"`{p}`" for p in paths], empty="the configured field")


def getting_started(spec: Spec) -> str:
    example = spec.teams[0]
    model = next(iter(approved_models(spec, example)), None)
    sections = []
    for gateway in gateways(spec):
        rule = spec.attribution.get(gateway)
        sections.append(fill(
            f"gateway-{gateway}.md", team=example.name, model=model.name if model else "<model>",
            team_fields=_fields(rule.team if rule else ()), app_fields=_fields(rule.app if rule else ()),
        ))
    return fill(
        "getting-started.md",
        org=spec.organization.name,
        help=support.first_channel(spec, "chat"),
        gateways="\n".join(sections),
        scrape_interval=Targets().scrape_interval,
        refresh=team_board.board(spec).refresh,
        hourly=HOURLY_INTERVAL,
        adoption_url=dashboard_url(spec.organization.grafana_base_url, "adoption", TIME_TO_FIRST_SUCCESS),
        adoption_query=_panel_query(spec, TIME_TO_FIRST_SUCCESS),
    )


TIME_TO_FIRST_SUCCESS = "time-to-first-success"


def _panel_query(spec: Spec, key: str) -> str:
    """The adoption panel's own query, so the page states exactly what the dashboard measures."""
    panel = next(p for p in adoption.board(spec).panels if p.key == key)
    return panel.queries[0].expr


def support_page(spec: Spec) -> str:
    return fill("support.md", channels=support.channels_table(spec), hours=support.office_hours(spec),
                responses=support.response_table(spec), escalation=support.escalation_sections(spec))


def blocked(spec: Spec) -> str:
    default_ratio = spec.review.default_max_false_positive_ratio
    rows = []
    for g in spec.guardrails:
        teams = [f"[{t.name}](teams/{t.name}.md)" for t in spec.teams if g.name in t.required_guardrails]
        ratio = g.max_false_positive_ratio if g.max_false_positive_ratio is not None else default_ratio
        rows.append((f"`{g.name}`", g.kind, _KIND_BLOCKS[g.kind], g.description or "—",
                     ", ".join(teams) or "none", number(ratio)))
    header = ("guardrail", "kind", "what it stops", "description", "required for", "tolerated false positives")
    return fill(
        "blocked.md",
        neutral=words([f"`{o}`" for o in catalog.NEUTRAL_OUTCOMES]),
        guardrails=table(header, rows) if rows else "The spec declares no guardrails.",
        levels=", ".join(spec.classification.levels),
        default_level=spec.classification.default,
        ticket=support.first_channel(spec, "ticket"),
        window_weeks=str(spec.review.window_weeks),
        min_reviewed=str(spec.review.min_reviewed),
        default_ratio=number(default_ratio),
    )


def changes(spec: Spec, previous: Spec | None) -> str:
    return fill("changes.md", scheduled=scheduled_table(spec),
                compared=changelog.compared_section(previous, spec), history=changelog.history(spec))
