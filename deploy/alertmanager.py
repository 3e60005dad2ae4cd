"""The generated routing for an operator-managed Alertmanager: an ``AlertmanagerConfig`` whose
secrets are ``secretKeyRef``s, and the plain ``alertmanager.yaml`` for clusters without that CRD.

Both read one Secret (``SECRET``) holding a key per ``*_file`` the spec names, keyed by the file's
base name (``/etc/alertmanager/secrets/smtp-password`` -> key ``smtp-password``).
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from alerts import routing, templates
from alerts.yamlout import dump
from contract.spec import Spec
from deploy.objects import NAME, k8s_object, metadata

SECRET = f"{NAME}-alertmanager"
# Where the Prometheus Operator mounts the Secrets an Alertmanager lists under spec.secrets, and
# the files of its configuration Secret (templates included).
SECRETS_MOUNT = f"/etc/alertmanager/secrets/{SECRET}"
CONFIG_MOUNT = "/etc/alertmanager/config"
TEMPLATE_NAME = posixpath.basename(templates.TEMPLATE_FILE)

_MATCHER = re.compile(r'^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>=~|!~|!=|=)(?P<value>".*")$')
_TIMING = {"group_by": "groupBy", "group_wait": "groupWait", "group_interval": "groupInterval",
           "repeat_interval": "repeatInterval", "continue": "continue", "receiver": "receiver"}


def secret_key(path: str) -> str:
    return posixpath.basename(path)


def _ref(path: str) -> dict[str, str]:
    return {"name": SECRET, "key": secret_key(path)}


def matcher(text: str) -> dict[str, str]:
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"not an Alertmanager matcher: {text!r}")
    return {"name": found["name"], "matchType": found["op"], "value": _unquote(found["value"][1:-1])}


def _unquote(text: str) -> str:
    """A matcher's quoted value as Alertmanager reads it: ``\\n``, ``\\"`` and ``\\\\`` are escapes;
    any other backslash is literal (so ``re.escape``'s ``\\-`` stays a regex escape)."""
    return re.sub(r'\\(["\\n])', lambda m: "\n" if m[1] == "n" else m[1], text)


def route(tree: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {_TIMING[k]: v for k, v in tree.items() if k in _TIMING}
    if "matchers" in tree:
        converted["matchers"] = [matcher(m) for m in tree["matchers"]]
    if "routes" in tree:
        converted["routes"] = [route(child) for child in tree["routes"]]
    return converted


def inhibit_rule(rule: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "sourceMatch": [matcher(m) for m in rule["source_matchers"]],
        "targetMatch": [matcher(m) for m in rule["target_matchers"]],
    }
    if "equal" in rule:
        converted["equal"] = rule["equal"]
    return converted


def receiver(plain: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"name": plain["name"]}
    for email in plain.get("email_configs", []):
        converted.setdefault("emailConfigs", []).append(_email(email))
    for slack in plain.get("slack_configs", []):
        converted.setdefault("slackConfigs", []).append({
            "apiURL": _ref(slack["api_url_file"]), "channel": slack["channel"], "sendResolved": slack["send_resolved"],
            "color": slack["color"], "title": slack["title"], "titleLink": slack["title_link"], "text": slack["text"],
        })
    for pager in plain.get("pagerduty_configs", []):
        converted.setdefault("pagerdutyConfigs", []).append({
            "routingKey": _ref(pager["routing_key_file"]), "sendResolved": pager["send_resolved"],
            "description": pager["description"], "details": _pairs(pager["details"]),
            "pagerDutyLinkConfigs": [{"href": link["href"], "alt": link["text"]} for link in pager["links"]],
        })
    for hook in plain.get("webhook_configs", []):
        converted_hook: dict[str, Any] = {"url": hook["url"], "sendResolved": hook["send_resolved"]}
        credentials = hook.get("http_config", {}).get("authorization", {}).get("credentials_file")
        if credentials:
            converted_hook["httpConfig"] = {"authorization": {"credentials": _ref(credentials)}}
        converted.setdefault("webhookConfigs", []).append(converted_hook)
    return converted


def _email(email: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"to": email["to"]}
    for plain_key, crd_key in (("smarthost", "smarthost"), ("from", "from"), ("auth_username", "authUsername")):
        if plain_key in email:
            converted[crd_key] = email[plain_key]
    if "auth_password_file" in email:
        converted["authPassword"] = _ref(email["auth_password_file"])
    converted.update({"sendResolved": email["send_resolved"], "headers": _pairs(email["headers"]),
                      "html": email["html"], "text": email["text"]})
    return converted


def _pairs(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def alertmanager_config(spec: Spec) -> dict[str, Any]:
    meta = metadata(spec, NAME, dict(spec.kubernetes.operator_labels))
    return k8s_object("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig", meta, spec={
        "route": route(routing.fragment_route(spec)),
        "receivers": [receiver(r) for r in routing.fragment_receivers(spec)],
        "inhibitRules": [inhibit_rule(r) for r in routing.inhibit_rules()],
    })


def _remount(node: Any) -> Any:
    """Every ``*_file`` path moved to where the operator mounts the Secret."""
    if isinstance(node, dict):
        return {k: f"{SECRETS_MOUNT}/{secret_key(v)}" if k.endswith("_file") else _remount(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_remount(item) for item in node]
    return node


def plain_config(spec: Spec) -> dict[str, Any]:
    document: dict[str, Any] = _remount(routing.config(spec, routing.receivers(spec)))
    document["templates"] = [f"{CONFIG_MOUNT}/{TEMPLATE_NAME}"]
    return document


def secret_keys(spec: Spec) -> list[str]:
    """The keys the Secret must hold: one per ``*_file`` in the routing."""
    remounted = json.dumps(plain_config(spec))
    return sorted(set(re.findall(re.escape(SECRETS_MOUNT) + r'/([^"]+)"', remounted)))


def files(spec: Spec) -> dict[str, str]:
    if spec.alerting is None:
        return {}
    return {
        "alertmanager/alertmanager.yaml": dump(plain_config(spec)),
        f"alertmanager/{TEMPLATE_NAME}": templates.GATEWATCH_TMPL,
    }


def objects(spec: Spec) -> dict[str, dict[str, Any]]:
    if spec.alerting is None:
        return {}
    return {"prometheus-operator/alertmanagerconfig.yaml": alertmanager_config(spec)}
