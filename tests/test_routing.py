"""The generated Alertmanager configuration: valid for the real amtool, every label set reaches the
receiver the routing table promises, no secret in the output, and fragments that merge cleanly
into an Alertmanager that already exists."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from alerts import routing, templates
from contract import spec as spec_model
from tests.paths import EXAMPLE_SPEC
from tests.support.binaries import require

SPEC = spec_model.load(EXAMPLE_SPEC)
CONFIG = "alertmanager/alertmanager.yml"
FRAGMENTS = ("alertmanager/fragments/route.yml", "alertmanager/fragments/receivers.yml",
             "alertmanager/fragments/inhibit_rules.yml")
SINK = "http://127.0.0.1:9/drill"


def write_out(files: dict[str, str], directory: Path) -> Path:
    for path, content in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return directory / CONFIG


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require("amtool"), *args], capture_output=True, text=True, timeout=60, check=False)


def route_test(config: Path, labels: dict[str, str], expected: list[str]) -> subprocess.CompletedProcess[str]:
    """amtool resolves ``labels`` and exits non-zero unless the receivers are ``expected``, in order."""
    pairs = [f"{k}={v}" for k, v in labels.items()]
    return amtool("config", "routes", "test", f"--config.file={config}", f"--verify.receivers={','.join(expected)}",
                  *pairs)


def alert(name: str, severity: str, audience: str, team: str, **extra: str) -> dict[str, str]:
    return {"alertname": name, "severity": severity, "audience": audience, "team": team, **extra}


# Label sets as the catalogue gives them -> receivers, in the order Alertmanager notifies them.
# Search routes its cost alerts to its chat (team_overrides); every other team's budget owner is
# emailed through a generated budget-<team> receiver.
ROUTES: list[tuple[str, dict[str, str], list[str]]] = [
    ("50% budget threshold reaches the budget owner, not on-call",
     alert("GenAIBudgetThreshold", "info", "budget_owner", "analytics", threshold_percent="50"), ["budget-analytics"]),
    ("90% budget threshold reaches the budget owner",
     alert("GenAIBudgetThreshold", "warning", "budget_owner", "legal", threshold_percent="90"), ["budget-legal"]),
    ("exhausted budget", alert("GenAIBudgetExhausted", "warning", "budget_owner", "marketing"), ["budget-marketing"]),
    ("projected overrun", alert("GenAIBudgetOverrunProjected", "warning", "budget_owner", "support"),
     ["budget-support"]),
    ("cost anomaly", alert("GenAICostAnomaly", "warning", "budget_owner", "research"), ["budget-research"]),
    ("the platform team's own budget is a budget matter, not a platform fault",
     alert("GenAIBudgetExhausted", "warning", "budget_owner", "platform"), ["budget-platform"]),
    ("search's cost alert goes to its override receiver",
     alert("GenAICostAnomaly", "warning", "budget_owner", "search"), ["search-oncall-chat"]),
    ("search's info threshold too",
     alert("GenAIBudgetThreshold", "info", "budget_owner", "search", threshold_percent="25"), ["search-oncall-chat"]),
    ("unassigned spend reaches finance", alert("GenAIUnattributedSpend", "warning", "budget_owner", "__unassigned__"),
     ["finops"]),
    ("spend folded into __other__ reaches finance",
     alert("GenAIUnattributedSpend", "warning", "budget_owner", "__other__"), ["finops"]),
    ("a budget alert for a team the spec does not know reaches finance",
     alert("GenAIBudgetExhausted", "warning", "budget_owner", "ghost-team"), ["finops"]),
    ("guardrail bypass reaches security operations",
     alert("GenAIGuardrailBypass", "critical", "security", "support", app="zendesk-assist"), ["secops"]),
    ("unapproved model use reaches security operations",
     alert("GenAIUnapprovedModelUse", "warning", "security", "search", app="search-api"), ["secops"]),
    ("provider outage pages on-call",
     alert("GenAIProviderErrorsHigh", "critical", "oncall", "platform", provider="openai"), ["oncall-pager"]),
    ("a team's errors are an on-call matter even though the team label is a team",
     alert("GenAITeamErrorsHigh", "warning", "oncall", "search", provider="openai"), ["oncall-pager"]),
    ("exporter down pages on-call",
     alert("GenAIExporterDown", "critical", "oncall", "platform", instance="exporter:9464"), ["oncall-pager"]),
    ("Watchdog reaches the dead-man's switch", alert("Watchdog", "info", "oncall", "platform"), ["deadman-switch"]),
    ("runaway loop reaches the budget owner and on-call",
     alert("GenAIRunawayLoop", "critical", "oncall", "analytics", app="nightly-batch", notify_budget_owner="true"),
     ["budget-analytics", "oncall-pager"]),
    ("search's runaway loop reaches its chat and on-call",
     alert("GenAIRunawayLoop", "critical", "oncall", "search", app="search-api", notify_budget_owner="true"),
     ["search-oncall-chat", "oncall-pager"]),
    ("an alert with no gatewatch labels falls to on-call", {"alertname": "SomethingElse"}, ["oncall-pager"]),
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_out(routing.render(SPEC), tmp_path_factory.mktemp("am"))


def test_render_emits_the_config_its_template_and_three_fragments() -> None:
    assert set(routing.render(SPEC)) == {CONFIG, "alertmanager/templates/gatewatch.tmpl", *FRAGMENTS}


def test_render_is_deterministic() -> None:
    assert routing.render(SPEC) == routing.render(spec_model.load(EXAMPLE_SPEC))


def test_amtool_check_config_passes(rendered: Path) -> None:
    result = amtool("check-config", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr
    # The template is found relative to the config file and parses.
    assert "1 templates" in result.stdout


def test_amtool_check_config_catches_a_broken_template(tmp_path: Path) -> None:
    """Guards the test above: a template syntax error must fail amtool, or it proves nothing."""
    files = routing.render(SPEC)
    files["alertmanager/templates/gatewatch.tmpl"] += '{{ define "broken" }}{{ .Status \n'
    result = amtool("check-config", str(write_out(files, tmp_path)))
    assert result.returncode != 0


@pytest.mark.parametrize(("labels", "expected"), [(r[1], r[2]) for r in ROUTES], ids=[r[0] for r in ROUTES])
def test_label_set_reaches_expected_receivers(rendered: Path, labels: dict[str, str], expected: list[str]) -> None:
    result = route_test(rendered, labels, expected)
    assert result.returncode == 0, f"expected {expected}, amtool resolved: {result.stdout.strip()}"


def test_route_verification_can_fail(rendered: Path) -> None:
    """amtool exits non-zero when the expectation is wrong, so the table above can fail."""
    labels = alert("GenAIBudgetExhausted", "warning", "budget_owner", "legal")
    assert route_test(rendered, labels, ["oncall-pager"]).returncode != 0


# -- timing per audience: amtool only names receivers, so a small walker reads the tree; the walker
# is checked against amtool on every row of the table before its timings are trusted.

def matches(matcher: str, labels: dict[str, str]) -> bool:
    found = re.fullmatch(r'(\w+)(=~|=)"(.*)"', matcher)
    assert found, matcher
    name, op, value = found.groups()
    actual = labels.get(name, "")
    return actual == value if op == "=" else re.fullmatch(value, actual) is not None


def walk(route: dict[str, Any], labels: dict[str, str], inherited: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Alertmanager's matching: depth first, stop at the first matching child without continue,
    and the node itself when no child matched. Options are inherited from the parent."""
    options = {**inherited, **{k: v for k, v in route.items() if k not in ("routes", "matchers", "continue")}}
    found = False
    for child in route.get("routes", []):
        if all(matches(m, labels) for m in child.get("matchers", [])):
            for hit in walk(child, labels, options):
                found = True
                yield hit
            if not child.get("continue", False):
                break
    if not found:
        yield options


def resolved(labels: dict[str, str]) -> list[dict[str, Any]]:
    tree = yaml.safe_load(routing.render(SPEC)[CONFIG])["route"]
    return list(walk(tree, labels, {}))


@pytest.mark.parametrize(("labels", "expected"), [(r[1], r[2]) for r in ROUTES], ids=[r[0] for r in ROUTES])
def test_walker_agrees_with_amtool(labels: dict[str, str], expected: list[str]) -> None:
    assert [hit["receiver"] for hit in resolved(labels)] == expected


TIMINGS = [
    ("on-call is reminded every 4h", alert("GenAIExporterDown", "critical", "oncall", "platform"),
     [("oncall-pager", "30s", "4h")]),
    ("security every 2h", alert("GenAIGuardrailFailOpen", "critical", "security", "legal", guardrail="presidio-pii"),
     [("secops", "30s", "2h")]),
    ("budget owners daily", alert("GenAIBudgetExhausted", "warning", "budget_owner", "legal"),
     [("budget-legal", "1m", "24h")]),
    ("a 90% threshold (warning) daily", alert("GenAIBudgetThreshold", "warning", "budget_owner", "legal"),
     [("budget-legal", "1m", "24h")]),
    ("a 50% threshold (info) weekly, not every 4 hours",
     alert("GenAIBudgetThreshold", "info", "budget_owner", "legal", threshold_percent="50"),
     [("budget-legal", "1m", "7d")]),
    ("search's info threshold weekly too",
     alert("GenAIBudgetThreshold", "info", "budget_owner", "search", threshold_percent="25"),
     [("search-oncall-chat", "1m", "7d")]),
    ("unattributed spend to finance daily", alert("GenAIUnattributedSpend", "warning", "budget_owner", "__other__"),
     [("finops", "1m", "24h")]),
    ("Watchdog pings every minute, at once", alert("Watchdog", "info", "oncall", "platform"),
     [("deadman-switch", "0s", "1m")]),
    ("a runaway loop at on-call's pace for both", alert("GenAIRunawayLoop", "critical", "oncall", "support",
                                                         notify_budget_owner="true"),
     [("budget-support", "30s", "4h"), ("oncall-pager", "30s", "4h")]),
]


@pytest.mark.parametrize(("labels", "expected"), [(t[1], t[2]) for t in TIMINGS], ids=[t[0] for t in TIMINGS])
def test_timing_per_audience(labels: dict[str, str], expected: list[tuple[str, str, str]]) -> None:
    got = [(hit["receiver"], hit["group_wait"], hit["repeat_interval"]) for hit in resolved(labels)]
    assert got == expected


@pytest.mark.parametrize(("labels", "group_by"), [
    (alert("GenAIProviderErrorsHigh", "critical", "oncall", "platform", provider="openai"), ["provider"]),
    (alert("GenAITTFTSLOPage", "critical", "oncall", "platform", provider="openai", model="gpt-4o",
           slo="gpt-4o-ttft"), ["provider"]),
    (alert("GenAIExporterDown", "critical", "oncall", "platform"), ["alertname", "team", "provider"]),
    (alert("GenAIBudgetExhausted", "warning", "budget_owner", "legal"), ["alertname", "team", "provider"]),
], ids=["provider-outage", "provider-slo", "platform-fault", "budget"])
def test_provider_faults_group_by_provider(labels: dict[str, str], group_by: list[str]) -> None:
    """A provider's on-call alerts are one incident, one notification (checked live in
    test_inhibition.py); everything else groups by alert, team and provider."""
    assert [hit["group_by"] for hit in resolved(labels)] == [group_by]


# -- receivers ------------------------------------------------------------------------------------

def receivers_of(text: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in yaml.safe_load(text)["receivers"]}


def test_each_team_without_override_gets_an_email_to_its_budget_owner() -> None:
    got = {name: r["email_configs"][0]["to"] for name, r in receivers_of(routing.render(SPEC)[CONFIG]).items()
           if name.startswith("budget-")}
    assert got == {
        "budget-support": "marcus.okafor@northwind.example",
        "budget-analytics": "lena.fischer@northwind.example",
        "budget-legal": "sofia.marquez@northwind.example",
        "budget-marketing": "tom.becker@northwind.example",
        "budget-platform": "yuki.tanaka@northwind.example",
        "budget-research": "amara.diallo@northwind.example",
    }  # no budget-search: search's override names search-oncall-chat


def test_receivers_read_secrets_from_files_only() -> None:
    config = yaml.safe_load(routing.render(SPEC)[CONFIG])
    got = receivers_of(routing.render(SPEC)[CONFIG])
    pagerduty = got["oncall-pager"]["pagerduty_configs"][0]
    assert pagerduty["routing_key_file"] == "/etc/alertmanager/secrets/pagerduty-routing-key"
    assert got["secops"]["slack_configs"][0]["api_url_file"] == "/etc/alertmanager/secrets/slack-secops-webhook"
    assert got["secops"]["slack_configs"][0]["channel"] == "#secops-alerts"
    deadman = got["deadman-switch"]["webhook_configs"][0]
    assert deadman["url"] == "https://deadman.northwind.example/ping/gatewatch"
    assert deadman["http_config"] == {"authorization": {"credentials_file": "/etc/alertmanager/secrets/deadman-token"}}
    assert config["global"] == {
        "smtp_smarthost": "smtp.northwind.example:587",
        "smtp_from": "gatewatch-alerts@northwind.example",
        "smtp_auth_username": "gatewatch-alerts",
        "smtp_auth_password_file": "/etc/alertmanager/secrets/smtp-password",
    }


# Alertmanager keys that hold a secret inline; only their *_file twins may appear.
INLINE_SECRETS = {"routing_key", "service_key", "api_url", "auth_password", "smtp_auth_password", "auth_secret",
                  "smtp_auth_secret", "credentials", "bearer_token", "password", "api_key", "token"}


def keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from keys(item)


@pytest.mark.parametrize("files", [routing.render(SPEC), routing.render_with_webhook(SPEC, SINK)],
                         ids=["render", "render_with_webhook"])
def test_no_inline_secret_anywhere(files: dict[str, str]) -> None:
    for path in (CONFIG, *FRAGMENTS):
        found = set(keys(yaml.safe_load(files[path]))) & INLINE_SECRETS
        assert not found, f"{path} holds inline secrets: {found}"
        for key in INLINE_SECRETS:
            assert not re.search(rf"^\s*-?\s*{key}:", files[path], re.MULTILINE), (path, key)


def test_every_template_a_receiver_calls_is_defined() -> None:
    files = routing.render(SPEC)
    defined = set(re.findall(r'{{-? define "([^"]+)"', files["alertmanager/templates/gatewatch.tmpl"]))
    used = set(re.findall(r'template "([^"]+)"', files[CONFIG] + files[FRAGMENTS[1]]))
    assert used, "receivers use no gatewatch template"
    assert used <= defined
    # Each kind of integration uses its own: email html and subject, slack title and text, pagerduty description.
    for name in ("gatewatch.email.html", "gatewatch.email.subject", "gatewatch.slack.title", "gatewatch.slack.text",
                 "gatewatch.pagerduty.description"):
        assert name in used


def test_every_receiver_uses_the_gatewatch_templates() -> None:
    for name, receiver in receivers_of(routing.render(SPEC)[CONFIG]).items():
        for kind, configs in receiver.items():
            if kind in ("email_configs", "slack_configs", "pagerduty_configs"):
                assert "gatewatch." in yaml.safe_dump(configs), (name, kind)


def test_template_file_is_listed_relative_to_the_config() -> None:
    assert yaml.safe_load(routing.render(SPEC)[CONFIG])["templates"] == [templates.TEMPLATE_FILE]


def test_a_spec_receiver_named_like_a_generated_one_is_refused() -> None:
    text = EXAMPLE_SPEC.read_text().replace(
        "    - name: finops\n",
        "    - name: budget-legal\n      email: {to: legal-finance@northwind.example}\n    - name: finops\n",
    )
    with pytest.raises(spec_model.SpecError, match="budget-legal") as caught:
        spec_model.parse(text, "ops.yaml")
    assert caught.value.path == "alerting.receivers[2].name"


def test_an_override_may_name_a_receiver_called_budget_something() -> None:
    text = EXAMPLE_SPEC.read_text().replace(
        "    - name: finops\n",
        "    - name: budget-legal\n      email: {to: legal-finance@northwind.example}\n    - name: finops\n",
    ).replace("    research: {cost_anomaly_factor: 8}", "    research: {cost_anomaly_factor: 8}\n"
              "    legal: {receiver: budget-legal}")
    got = receivers_of(routing.render(spec_model.parse(text))[CONFIG])
    assert got["budget-legal"]["email_configs"][0]["to"] == "legal-finance@northwind.example"


def test_no_alerting_section_renders_nothing() -> None:
    assert routing.render(msgspec.structs.replace(SPEC, alerting=None)) == {}


# -- the drills hook --------------------------------------------------------------------------------

def test_render_with_webhook_keeps_tree_and_names(tmp_path: Path) -> None:
    hooked = routing.render_with_webhook(SPEC, SINK)
    real, drill = yaml.safe_load(routing.render(SPEC)[CONFIG]), yaml.safe_load(hooked[CONFIG])
    assert drill["route"] == real["route"]
    assert drill["inhibit_rules"] == real["inhibit_rules"]
    assert [r["name"] for r in drill["receivers"]] == [r["name"] for r in real["receivers"]]
    for receiver in drill["receivers"]:
        assert set(receiver) == {"name", "webhook_configs"}
        assert [c["url"] for c in receiver["webhook_configs"]] == [SINK]
    config = write_out(hooked, tmp_path)
    assert amtool("check-config", str(config)).returncode == 0
    labels = alert("GenAIRunawayLoop", "critical", "oncall", "search", notify_budget_owner="true")
    assert route_test(config, labels, ["search-oncall-chat", "oncall-pager"]).returncode == 0


# -- fragments merged into an existing Alertmanager ---------------------------------------------------

GATEWATCH = dict([routing.SOURCE_LABEL])


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An organisation's own Alertmanager (no global SMTP, its own default receiver and a
    Watchdog of its own) with gatewatch's fragments merged in the way their headers describe."""
    directory = tmp_path_factory.mktemp("merged")
    files = routing.render(SPEC)
    template = directory / "gatewatch.tmpl"
    template.write_text(files["alertmanager/templates/gatewatch.tmpl"])
    route, receivers, inhibit = (yaml.safe_load(files[path]) for path in FRAGMENTS)
    existing = {
        "templates": [str(template)],
        "route": {"receiver": "org-default", "group_by": ["alertname"],
                  "routes": [route, {"receiver": "org-watchdog", "matchers": ['alertname="Watchdog"']}]},
        "receivers": [{"name": "org-default"}, {"name": "org-watchdog"}, *receivers["receivers"]],
        "inhibit_rules": inhibit["inhibit_rules"],
    }
    config = directory / "alertmanager.yml"
    config.write_text(yaml.safe_dump(existing, sort_keys=False))
    return config


def test_merged_fragments_pass_amtool(merged: Path) -> None:
    # Email receivers carry their own SMTP settings: without them amtool rejects the merged
    # config, whose host has no global smarthost.
    result = amtool("check-config", str(merged))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 inhibit rules" in result.stdout


@pytest.mark.parametrize(("labels", "expected"), [
    ({**alert("GenAIBudgetExhausted", "warning", "budget_owner", "legal"), **GATEWATCH}, ["budget-legal"]),
    ({**alert("GenAIGuardrailBypass", "critical", "security", "support"), **GATEWATCH}, ["secops"]),
    ({**alert("GenAIRunawayLoop", "critical", "oncall", "analytics", notify_budget_owner="true"), **GATEWATCH},
     ["budget-analytics", "oncall-pager"]),
    ({**alert("Watchdog", "info", "oncall", "platform"), **GATEWATCH}, ["deadman-switch"]),
    ({**alert("GenAIExporterDown", "critical", "oncall", "platform"), **GATEWATCH}, ["oncall-pager"]),
    # The organisation's own alerts keep their routes, even with gatewatch-like labels.
    ({"alertname": "Watchdog", "severity": "none"}, ["org-watchdog"]),
    (alert("GenAIBudgetExhausted", "warning", "budget_owner", "legal"), ["org-default"]),
    ({"alertname": "KubePodCrashLooping", "audience": "oncall"}, ["org-default"]),
], ids=["budget", "security", "runaway", "gatewatch-watchdog", "platform", "org-watchdog", "unlabelled-gatewatch",
        "org-alert"])
def test_merged_fragments_route_only_gatewatch_alerts(merged: Path, labels: dict[str, str],
                                                      expected: list[str]) -> None:
    result = route_test(merged, labels, expected)
    assert result.returncode == 0, f"expected {expected}, amtool resolved: {result.stdout.strip()}"


def test_fragment_headers_say_how_to_merge() -> None:
    files = routing.render(SPEC)
    assert "route.routes" in files[FRAGMENTS[0]] and 'source="gatewatch"' in files[FRAGMENTS[0]]
    assert "receivers:" in files[FRAGMENTS[1]].splitlines()[0]
    assert "inhibit_rules:" in files[FRAGMENTS[2]].splitlines()[0]
