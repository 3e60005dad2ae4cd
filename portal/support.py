"""Support and escalation: channels, office hours, response targets, and each audience's path."""

from __future__ import annotations

from typing import get_args

from contract.spec import Audience, Spec, SupportChannel
from portal.text import minutes, table, words
from runbooks.contacts import receiver_text

AUDIENCES: dict[str, str] = {
    "oncall": "Platform faults (pages on-call)",
    "security": "Security alerts",
    "budget_owner": "Cost alerts (each team's budget owner)",
}
_DAYS = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
         "sat": "Saturday", "sun": "Sunday"}


def channel_text(channel: SupportChannel) -> str:
    if channel.address.startswith(("https://", "http://")):
        return f"[{channel.address}]({channel.address})"
    if channel.kind == "email":
        return f"[{channel.address}](mailto:{channel.address})"
    return f"`{channel.address}`"


def channels_table(spec: Spec) -> str:
    if spec.support is None:
        return "The spec has no `support` section yet: ask the platform team directly."
    return table(("channel", "where", "use it for"),
                 [(c.kind, channel_text(c), c.use_for) for c in spec.support.channels])


def first_channel(spec: Spec, kind: str | None = None) -> str:
    """Where to go for ``kind`` (ticket, chat, ...), else the first channel the spec lists."""
    if spec.support is None:
        return "the platform team"
    chosen = [c for c in spec.support.channels if kind is None or c.kind == kind] or list(spec.support.channels)
    return channel_text(chosen[0])


def office_hours(spec: Spec) -> str:
    if spec.support is None:
        return "not stated in the spec"
    hours = spec.support.office_hours
    days = [_DAYS[d] for d in hours.days]
    return f"{words(days)}, {hours.start}–{hours.end} ({hours.timezone})"


def response_table(spec: Spec) -> str:
    if spec.support is None or not spec.support.response_targets:
        return "The spec states no response targets."
    rows = [(t.priority, t.meaning, minutes(t.first_response_minutes),
             "around the clock" if t.hours == "always" else "office hours")
            for t in spec.support.response_targets]
    return table(("priority", "when", "first response within", "clock runs"), rows)


def _first_contact(spec: Spec, audience: str) -> str:
    if audience == "budget_owner":
        return "the team's budget owner, through the receiver on its team page"
    if spec.alerting is None:
        return "the alert's receiver"
    name = spec.alerting.oncall_receiver if audience == "oncall" else spec.alerting.security_receiver
    return receiver_text(spec, name)


def escalation_path(spec: Spec, audience: str, first: str | None = None) -> list[str]:
    """Who gets the alert first (``first`` when the caller knows better), then who is brought in
    after how long without an answer."""
    path = [f"The alert goes to {first or _first_contact(spec, audience)}."]
    steps = spec.support.escalation.get(audience, ()) if spec.support is not None else ()
    path += [f"After {minutes(s.after_minutes)} without an answer: {s.who} ({s.how})." for s in steps]
    return path


def numbered(steps: list[str]) -> str:
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))


def escalation_sections(spec: Spec) -> str:
    parts = [f"### {AUDIENCES[audience]}\n\n{numbered(escalation_path(spec, audience))}"
             for audience in get_args(Audience)]
    return "\n\n".join(parts)
