"""Service-level objectives in plain words, for the home page and each team's page."""

from __future__ import annotations

from contract import catalog
from contract.burnrate import SLO_PERIOD_DAYS
from contract.spec import Objective, Spec, Team
from portal.models import approved_models
from portal.text import bullets, number, words


def sentence(objective: Objective) -> str:
    target = f"{number(objective.target_percent)} %"
    if objective.kind == "ttft":
        return (f"**{target}** of streaming requests to `{objective.model}` get their first token within "
                f"{number(objective.threshold_seconds or 0)} s, over any {SLO_PERIOD_DAYS} days "
                f"(`{objective.name}`).")
    covers = f"`{objective.model}`" if objective.model else f"{objective.provider} models"
    return (f"**{target}** of requests to {covers} succeed, over any {SLO_PERIOD_DAYS} days "
            f"(`{objective.name}`).")


def counting_rule() -> str:
    bad = words([f"`{o}`" for o in catalog.BAD_OUTCOMES])
    neutral = words([f"`{o}`" for o in catalog.NEUTRAL_OUTCOMES])
    return (f"A request counts against availability when it ends as {bad}; {neutral} are caller or policy "
            "outcomes and count neither way, so a wave of blocked prompts never looks like an outage.")


def applying_to(spec: Spec, team: Team) -> list[Objective]:
    """Objectives on a model the team may use, or on the provider of one."""
    models = approved_models(spec, team)
    names, providers = {m.name for m in models}, {m.provider for m in models}
    return [o for o in spec.slos.objectives if o.model in names or o.provider in providers]


def listed(objectives: list[Objective]) -> str:
    return bullets([sentence(o) for o in objectives], empty="No objective covers these models.")
