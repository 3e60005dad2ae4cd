"""Escalation sections from the spec's contacts: who gets the alert, and who to call next.

Routing itself lives in ``alerts/routing.py``; this module describes the same decisions in
words: budget alerts to each team's budget owner, spend nobody owns to finance, security
alerts to security operations, platform faults to on-call.
"""

from __future__ import annotations

from contract import catalog
from contract.spec import Receiver, Spec, Team
from runbooks.facts import number, table
from runbooks.model import Escalation


def describe(receiver: Receiver) -> str:
    """What a receiver is, without its secrets: secrets live in files the page never names."""
    if receiver.email is not None:
        return f"email to {receiver.email.to}"
    if receiver.slack is not None:
        return f"Slack channel `{receiver.slack.channel}`"
    if receiver.pagerduty is not None:
        return "PagerDuty"
    return "a webhook"


def receiver_text(spec: Spec, name: str) -> str:
    if spec.alerting is not None:
        for receiver in spec.alerting.receivers:
            if receiver.name == name:
                return f"receiver `{name}` ({describe(receiver)})"
    return f"receiver `{name}`"


def budget_route(spec: Spec, team: Team) -> str:
    """Where the team's budget alerts go, as the routing tree decides it."""
    alerting = spec.alerting
    if alerting is None:
        return "no alerting section in the spec"
    override = alerting.team_overrides.get(team.name)
    if override is not None and override.receiver is not None:
        return receiver_text(spec, override.receiver)
    # The spec requires an email wherever no override names a receiver.
    return f"receiver `budget-{team.name}` (email to {team.budget_owner.email})"


def budget_thresholds(spec: Spec, team: Team) -> tuple[float, ...]:
    """The shares of its budget at which the team's budget alerts fire: its override or the default."""
    return spec.thresholds.team_budget_percents(team.name)


def _thresholds(spec: Spec, team: Team) -> str:
    return ", ".join(f"{number(t)} %" for t in budget_thresholds(spec, team))


def _anomaly_factor(spec: Spec, team: Team) -> str:
    return f"{number(spec.thresholds.team_anomaly_factor(team.name))}x"


def _contact(team: Team) -> str:
    owner = team.budget_owner
    parts = [owner.name] + [p for p in (owner.email, owner.chat) if p]
    return ", ".join(parts)


def budget_owner_table(spec: Spec) -> str:
    rows = [
        (f"`{t.name}`", t.display_name or t.name, _contact(t), f"{number(t.budget.monthly_usd)} USD",
         _thresholds(spec, t), _anomaly_factor(spec, t), budget_route(spec, t))
        for t in spec.teams
    ]
    header = ("team", "name", "budget owner", "monthly budget", "thresholds", "anomaly factor", "alerts go to")
    return table(header, rows)


def owner_table(spec: Spec) -> str:
    rows = [(f"`{t.name}`", t.display_name or t.name, t.owner, t.tier, _contact(t)) for t in spec.teams]
    return table(("team", "name", "owner", "tier", "budget owner"), rows)


def _oncall(spec: Spec) -> str:
    name = spec.alerting.oncall_receiver if spec.alerting else "the on-call receiver"
    return receiver_text(spec, name) if spec.alerting else name


def escalation(spec: Spec, kind: Escalation, notifies_budget_owner: bool = False) -> str:
    """The Escalation section of an alert's page, for the kind of escalation its rule calls for."""
    finance = spec.organization.finance_contact
    if kind == "budget_owner":
        return (
            "This alert goes to the budget owner of the team in its `team` label — never to the on-call "
            "pager. The budget owner decides; the platform team helps find the spend. A budget raise needs "
            f"finance (`{finance}`).\n\n" + budget_owner_table(spec)
        )
    if kind == "finance":
        receiver = receiver_text(spec, spec.alerting.finance_receiver) if spec.alerting else "finance"
        return (
            f"Spend under `{catalog.UNASSIGNED}` or `{catalog.OTHER}` belongs to no team, so it goes to the "
            f"finance contact, `{finance}`, through {receiver}. Finance chases the owner with the platform "
            "team, which adds the app or alias to the spec. If nobody claims the key within a day, security "
            "operations treat it as a possible leaked key."
        )
    if kind == "security":
        receiver = receiver_text(spec, spec.alerting.security_receiver) if spec.alerting else "security operations"
        return (
            f"This alert goes to security operations through {receiver}. Security owns the response and "
            "decides whether it is an incident; the owner of the team in the `team` label is told and fixes "
            "the app's configuration. Share counts and label values only, never prompt or response text.\n\n"
            + owner_table(spec)
        )
    if kind == "deadman":
        deadman = receiver_text(spec, spec.alerting.deadman_receiver) if spec.alerting else "the dead-man's switch"
        return (
            f"The Watchdog goes to {deadman}, an outside service. When that service pages, the on-call "
            f"engineer ({_oncall(spec)}) owns the fix: every other alert is lost until it is done."
        )
    text = (
        f"This alert pages on-call through {_oncall(spec)}. On-call owns it until it resolves. If the cause "
        "is a provider, open a case with the provider; if it is the gateway or gatewatch, bring in the "
        "platform team."
    )
    if kind == "oncall_team":
        text += (
            " The owner of the team in the `team` label is told as soon as containment is in place"
            + (", and its budget owner already got a copy of the alert" if notifies_budget_owner else "")
            + ".\n\n" + owner_table(spec)
        )
    return text
