"""Alertmanager configuration from the spec: receivers, the routing tree, inhibitions, and the
fragments an organisation merges into the Alertmanager it already runs.

Who gets what (DESIGN.md, "Alerts, routing, runbooks"):
- Watchdog -> the dead-man's switch, re-sent every minute so its silence is the signal.
- ``notify_budget_owner="true"`` (a runaway loop) -> the team's budget owner, and ``continue``
  so the same alert also pages on-call below.
- ``audience="budget_owner"`` -> the team's receiver (a spec receiver named in
  ``alerting.team_overrides``, else an email to the team's budget owner); spend no team owns
  (``__unassigned__``, ``__other__``, a team not in the spec) -> finance.
- ``audience="security"`` -> security operations.
- ``audience="oncall"`` and anything unlabelled -> on-call (the root's receiver).

Secrets never appear: receivers name files Alertmanager reads (``*_file`` fields), because it
expands no environment variables in its configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts import templates
from alerts.render import SOURCE_LABEL
from alerts.yamlout import dump as _dump
from contract.promql import equals, matches, sentinel
from contract.spec import BUDGET_RECEIVER_PREFIX, Alerting, Receiver, Spec, Team

# The label a fragment's subtree matches on, so gatewatch's routing takes only gatewatch's alerts
# in an Alertmanager shared with other rule sets (which may have a Watchdog of their own). The
# rules must carry it for the fragment to route anything.
GROUP_BY = ("alertname", "team", "provider")
# A provider's troubles (errors, latency, its SLOs, the teams it fails) are one incident.
PROVIDER_GROUP_BY = ("provider",)


@dataclass(frozen=True, slots=True)
class Timing:
    group_wait: str
    group_interval: str
    repeat_interval: str

    def fields(self) -> dict[str, str]:
        return {
            "group_wait": self.group_wait,
            "group_interval": self.group_interval,
            "repeat_interval": self.repeat_interval,
        }


ONCALL_TIMING = Timing("30s", "5m", "4h")
SECURITY_TIMING = Timing("30s", "5m", "2h")
# Budget alerts change slowly: re-send daily, not hourly. A minute's wait gathers a team's alerts
# from the same evaluations; longer would hold back a spend jump its owner should hear of at once.
BUDGET_TIMING = Timing("1m", "30m", "24h")
# A 50 % heads-up is news once; a reminder a week later is plenty.
BUDGET_INFO_REPEAT = "7d"
# The dead-man's switch pages when these pings stop, so they must keep coming.
DEADMAN_TIMING = Timing("0s", "1m", "1m")

# (source alert, silenced alerts, labels that must be equal).
INHIBITIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("GenAIProviderErrorsHigh",
     ("GenAITeamErrorsHigh", "GenAIModelErrorsHigh", "GenAIAvailabilitySLOPage", "GenAIAvailabilitySLOTicket",
      "GenAIProviderLatencyHigh"),
     ("provider",)),
    ("GenAIBudgetExhausted", ("GenAIBudgetThreshold", "GenAIBudgetOverrunProjected"), ("team",)),
    # One stack has one exporter job: with it down, stale telemetry and a lagging spec hash are
    # consequences, whichever replica is down.
    ("GenAIExporterDown", ("GenAITelemetryStale", "GenAISpecOutOfStep"), ()),
)


def render(spec: Spec) -> dict[str, str]:
    """The whole Alertmanager configuration, its template and the three merge fragments."""
    if spec.alerting is None:
        return {}
    return _files(spec, receivers(spec), fragment_receivers(spec))


def render_with_webhook(spec: Spec, url: str) -> dict[str, str]:
    """The same tree with every receiver a webhook to ``url``, names kept: drills and tests see
    which receiver got which notification without email, chat or a pager."""
    if spec.alerting is None:
        return {}
    hooked = [_webhook(name, url) for name in receiver_names(spec)]
    return _files(spec, hooked, hooked)


def _files(spec: Spec, whole: list[dict[str, Any]], fragment: list[dict[str, Any]]) -> dict[str, str]:
    return {
        "alertmanager/alertmanager.yml": _dump(config(spec, whole)),
        **templates.render(),
        "alertmanager/fragments/route.yml": _FRAGMENT_ROUTE_HEADER + _dump(fragment_route(spec)),
        "alertmanager/fragments/receivers.yml": _FRAGMENT_RECEIVERS_HEADER + _dump({"receivers": fragment}),
        "alertmanager/fragments/inhibit_rules.yml":
            _FRAGMENT_INHIBIT_HEADER + _dump({"inhibit_rules": inhibit_rules()}),
    }


def config(spec: Spec, receiver_list: list[dict[str, Any]]) -> dict[str, Any]:
    alerting = _alerting(spec)
    document: dict[str, Any] = {}
    if alerting.smtp is not None:
        document["global"] = _smtp_global(spec)
    document["templates"] = [templates.TEMPLATE_FILE]
    document["route"] = route_tree(spec)
    document["inhibit_rules"] = inhibit_rules()
    document["receivers"] = receiver_list
    return document


# -- routing -------------------------------------------------------------------------------------


def budget_receiver(team: str) -> str:
    """Name of the generated email receiver for a team's budget owner."""
    return f"{BUDGET_RECEIVER_PREFIX}{team}"


def team_receivers(spec: Spec) -> dict[str, str]:
    """Each team's budget-alert receiver: its override, else its generated budget-owner email."""
    overrides = _alerting(spec).team_overrides
    chosen: dict[str, str] = {}
    for team in spec.teams:
        override = overrides.get(team.name)
        chosen[team.name] = override.receiver if override and override.receiver else budget_receiver(team.name)
    return chosen


def route_tree(spec: Spec) -> dict[str, Any]:
    """The root route: on-call by default, one child route per audience."""
    alerting = _alerting(spec)
    return {
        "receiver": alerting.oncall_receiver,
        "group_by": list(GROUP_BY),
        **ONCALL_TIMING.fields(),
        "routes": [
            {"receiver": alerting.deadman_receiver, "matchers": [equals("alertname", "Watchdog")],
             **DEADMAN_TIMING.fields()},
            # A team not in the spec falls back to this route's own receiver: finance. On-call's
            # pace: a loop burns money by the minute.
            {"receiver": alerting.finance_receiver, "matchers": [equals("notify_budget_owner", "true")],
             "continue": True, **ONCALL_TIMING.fields(), "routes": _per_team(spec, with_info=False)},
            {"receiver": alerting.finance_receiver, "matchers": [equals("audience", "budget_owner")],
             **BUDGET_TIMING.fields(),
             "routes": [
                 {"receiver": alerting.finance_receiver, "matchers": [sentinel("team")]},
                 *_per_team(spec, with_info=True),
                 _info_threshold(),
             ]},
            {"receiver": alerting.security_receiver, "matchers": [equals("audience", "security")],
             **SECURITY_TIMING.fields()},
            # Explicit, not left to the root: a runaway loop matched the budget-owner route above
            # with continue, and Alertmanager falls back to a parent only when no child matched.
            {"receiver": alerting.oncall_receiver, "matchers": [equals("audience", "oncall")],
             **ONCALL_TIMING.fields(),
             "routes": [{"matchers": ['provider=~".+"'], "group_by": list(PROVIDER_GROUP_BY)}]},
        ],
    }


def _per_team(spec: Spec, *, with_info: bool) -> list[dict[str, Any]]:
    routes = []
    for team, receiver in team_receivers(spec).items():
        route: dict[str, Any] = {"receiver": receiver, "matchers": [equals("team", team)]}
        if with_info:
            route["routes"] = [_info_threshold()]
        routes.append(route)
    return routes


def _info_threshold() -> dict[str, Any]:
    return {
        "matchers": [equals("alertname", "GenAIBudgetThreshold"), equals("severity", "info")],
        "repeat_interval": BUDGET_INFO_REPEAT,
    }


def fragment_route(spec: Spec) -> dict[str, Any]:
    """The gatewatch subtree, to put first under an existing ``route.routes``."""
    root = route_tree(spec)
    return {"receiver": root.pop("receiver"), "matchers": [equals(*SOURCE_LABEL)], **root}


def inhibit_rules() -> list[dict[str, Any]]:
    rules = []
    for source, targets, equal in INHIBITIONS:
        rule: dict[str, Any] = {
            "source_matchers": [equals("alertname", source)],
            "target_matchers": [matches("alertname", targets)],
        }
        if equal:
            rule["equal"] = list(equal)
        rules.append(rule)
    return rules


# -- receivers -----------------------------------------------------------------------------------


def receiver_names(spec: Spec) -> list[str]:
    """Every receiver the tree names: the spec's, then the generated budget-owner ones."""
    alerting = _alerting(spec)
    return [r.name for r in alerting.receivers] + [name for _, name in _generated(spec)]


def receivers(spec: Spec) -> list[dict[str, Any]]:
    """Receivers for the whole file: email relies on the global SMTP settings."""
    alerting = _alerting(spec)
    return [_receiver(r, None) for r in alerting.receivers] + [
        _email_receiver(name, _owner_email(team, name), None) for team, name in _generated(spec)
    ]


def fragment_receivers(spec: Spec) -> list[dict[str, Any]]:
    """Receivers for merging elsewhere: email carries its own SMTP settings, since the host
    Alertmanager's global ones may point at another relay."""
    alerting = _alerting(spec)
    smtp = _smtp_inline(spec)
    return [_receiver(r, smtp) for r in alerting.receivers] + [
        _email_receiver(name, _owner_email(team, name), smtp) for team, name in _generated(spec)
    ]


def _generated(spec: Spec) -> list[tuple[Team, str]]:
    """(team, receiver name) for every team whose budget alerts are emailed to its owner."""
    alerting = _alerting(spec)
    generated = []
    for team in spec.teams:
        override = alerting.team_overrides.get(team.name)
        if override is not None and override.receiver:
            continue
        generated.append((team, budget_receiver(team.name)))
    return generated


def _owner_email(team: Team, receiver: str) -> str:
    email = team.budget_owner.email
    assert email, f"{receiver}: the spec model requires an email for teams without a receiver override"
    return email


def _receiver(receiver: Receiver, smtp: dict[str, str] | None) -> dict[str, Any]:
    if receiver.email is not None:
        return _email_receiver(receiver.name, receiver.email.to, smtp)
    if receiver.slack is not None:
        return {"name": receiver.name, "slack_configs": [{
            "api_url_file": receiver.slack.api_url_file,
            "channel": receiver.slack.channel,
            "send_resolved": True,
            "color": templates.reference(templates.SLACK_COLOR),
            "title": templates.reference(templates.SLACK_TITLE),
            "title_link": templates.reference(templates.SLACK_TITLE_LINK),
            "text": templates.reference(templates.SLACK_TEXT),
        }]}
    if receiver.pagerduty is not None:
        return {"name": receiver.name, "pagerduty_configs": [{
            "routing_key_file": receiver.pagerduty.routing_key_file,
            "send_resolved": True,
            "description": templates.reference(templates.PAGERDUTY_DESCRIPTION),
            "details": {"alerts": templates.reference(templates.PAGERDUTY_DETAILS)},
            "links": [
                {"href": templates.reference(templates.FIRST_RUNBOOK), "text": "Runbook"},
                {"href": templates.reference(templates.FIRST_DASHBOARD), "text": "Dashboard"},
            ],
        }]}
    if receiver.webhook is not None:
        hook: dict[str, Any] = {"url": receiver.webhook.url, "send_resolved": True}
        if receiver.webhook.credentials_file:
            hook["http_config"] = {"authorization": {"credentials_file": receiver.webhook.credentials_file}}
        return {"name": receiver.name, "webhook_configs": [hook]}
    raise AssertionError(f"receiver {receiver.name} has no integration")  # the spec forbids it


def _email_receiver(name: str, to: str, smtp: dict[str, str] | None) -> dict[str, Any]:
    email: dict[str, Any] = {
        "to": to,
        **(smtp or {}),
        "send_resolved": True,
        "headers": {"Subject": templates.reference(templates.EMAIL_SUBJECT)},
        "html": templates.reference(templates.EMAIL_HTML),
        "text": templates.reference(templates.EMAIL_TEXT),
    }
    return {"name": name, "email_configs": [email]}


def _webhook(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "webhook_configs": [{"url": url, "send_resolved": True}]}


def _smtp_global(spec: Spec) -> dict[str, str]:
    return {f"smtp_{key}": value for key, value in _smtp_inline(spec).items()}


def _smtp_inline(spec: Spec) -> dict[str, str]:
    smtp = _alerting(spec).smtp
    if smtp is None:
        return {}
    fields = {"smarthost": smtp.smarthost, "from": smtp.sender}
    if smtp.auth_username:
        fields["auth_username"] = smtp.auth_username
    if smtp.auth_password_file:
        fields["auth_password_file"] = smtp.auth_password_file
    return fields


def _alerting(spec: Spec) -> Alerting:
    if spec.alerting is None:
        raise ValueError("the spec has no alerting section")
    return spec.alerting


# -- fragment headers ---------------------------------------------------------------------------

_FRAGMENT_ROUTE_HEADER = """\
# gatewatch's routing subtree: add it as the FIRST entry of your Alertmanager's route.routes.
# It matches only alerts labelled source="gatewatch" (gatewatch's rules set it).
# Receivers it names: fragments/receivers.yml. Templates: add templates/gatewatch.tmpl to `templates:`.
"""
_FRAGMENT_RECEIVERS_HEADER = """\
# gatewatch's receivers: append these to your Alertmanager's `receivers:` (names must not clash).
# Secrets are read from the *_file paths; email settings are inline, independent of your global SMTP.
"""
_FRAGMENT_INHIBIT_HEADER = """\
# gatewatch's inhibitions: append these to your Alertmanager's `inhibit_rules:`.
"""
