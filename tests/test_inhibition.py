"""The generated Alertmanager configuration in a real Alertmanager: inhibitions (amtool cannot test
them), one notification per provider incident, and notifications that lead with summary, value,
runbook and dashboard — sent through the real integrations to local sinks."""

from __future__ import annotations

import contextlib
import json
import socketserver
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts import routing
from contract import spec as spec_model
from drills.stack import free_port
from tests.paths import EXAMPLE_SPEC
from tests.support.binaries import require
from tests.support.processes import wait_for

pytestmark = pytest.mark.binaries

SPEC = spec_model.load(EXAMPLE_SPEC)
CONFIG = "alertmanager/alertmanager.yml"


# -- a real Alertmanager --------------------------------------------------------------------------

class Alertmanager:
    def __init__(self, workdir: Path, files: dict[str, str]) -> None:
        self.workdir = workdir
        for path, content in files.items():
            (workdir / path).parent.mkdir(parents=True, exist_ok=True)
            (workdir / path).write_text(content)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "alertmanager.log"
        self.process = subprocess.Popen(
            [require("prometheus-alertmanager", "alertmanager"),
             f"--config.file={workdir / CONFIG}",
             f"--storage.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--cluster.listen-address=",
             "--log.level=debug"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )
        wait_for(self._ready, what="Alertmanager to be ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"alertmanager exited:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def post(self, *alerts: dict[str, Any]) -> None:
        body = json.dumps(list(alerts)).encode()
        request = urllib.request.Request(f"{self.url}/api/v2/alerts", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.load(response)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)


def posted(name: str, severity: str, audience: str, team: str, **labels: str) -> dict[str, Any]:
    """An alert as Prometheus sends it: catalogue labels, the four annotations, an hour to live."""
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "severity": severity, "audience": audience, "team": team, **labels},
        "annotations": {
            "summary": f"{name} summary for {team}",
            "description": f"{name} description: value 0.4321",
            "runbook_url": f"https://runbooks.northwind.example/gatewatch/{name}.md",
            "dashboard_url": f"https://grafana.northwind.example/d/x/{name}?viewPanel=7",
        },
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "generatorURL": "http://prometheus.invalid/graph",
    }


def key(alert: dict[str, Any]) -> tuple[str, ...]:
    labels = alert["labels"]
    return (labels["alertname"], labels.get("team", ""), labels.get("provider", ""), labels.get("model", ""))


# -- sinks standing in for Slack, PagerDuty, the dead-man's switch and an SMTP relay -------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpSink:
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> HttpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.received.append(Received(self.path, dict(self.headers.items()), json.loads(body)))
                # PagerDuty's events API answers 202; Slack and webhooks accept any 2xx.
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


class SmtpSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP for Alertmanager: no STARTTLS, no AUTH offered, every message kept."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.messages: list[Message] = []
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: SmtpSink

    def handle(self) -> None:
        self.wfile.write(b"220 sink ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                self.server.messages.append(message_from_bytes(b"".join(lines), policy=policy.default))
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:  # EHLO, MAIL, RCPT, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")


# -- inhibition and grouping, on the drills rendering (webhooks to a local sink) ---------------------

PROVIDER_OUTAGE = posted("GenAIProviderErrorsHigh", "critical", "oncall", "platform", provider="openai")
BUDGET_EXHAUSTED = posted("GenAIBudgetExhausted", "warning", "budget_owner", "legal")
EXPORTER_DOWN = posted("GenAIExporterDown", "critical", "oncall", "platform", instance="exporter-0:9464")
SOURCES = (PROVIDER_OUTAGE, BUDGET_EXHAUSTED, EXPORTER_DOWN)

# (alert, silenced?) — every target of the inhibitions, and alerts just outside each rule.
TARGETS: list[tuple[str, dict[str, Any], bool]] = [
    ("team errors on the failing provider",
     posted("GenAITeamErrorsHigh", "warning", "oncall", "search", provider="openai"), True),
    ("model errors on the failing provider",
     posted("GenAIModelErrorsHigh", "warning", "oncall", "platform", provider="openai", model="gpt-4o"), True),
    ("availability SLO page of the failing provider",
     posted("GenAIAvailabilitySLOPage", "critical", "oncall", "platform", provider="openai",
            slo="openai-availability"), True),
    ("availability SLO ticket of the failing provider",
     posted("GenAIAvailabilitySLOTicket", "warning", "oncall", "platform", provider="openai",
            slo="openai-availability"), True),
    ("latency of the failing provider",
     posted("GenAIProviderLatencyHigh", "warning", "oncall", "platform", provider="openai"), True),
    ("team errors on another provider",
     posted("GenAITeamErrorsHigh", "warning", "oncall", "search", provider="anthropic"), False),
    ("model errors on another provider",
     posted("GenAIModelErrorsHigh", "warning", "oncall", "platform", provider="anthropic", model="claude-sonnet-4"),
     False),
    ("availability SLO page of another provider",
     posted("GenAIAvailabilitySLOPage", "critical", "oncall", "platform", provider="anthropic",
            slo="anthropic-availability"), False),
    ("a TTFT SLO is not an error consequence",
     posted("GenAITTFTSLOPage", "critical", "oncall", "platform", provider="openai", model="gpt-4o",
            slo="gpt-4o-ttft"), False),
    ("lower budget threshold of the exhausted team",
     posted("GenAIBudgetThreshold", "warning", "budget_owner", "legal", threshold_percent="90"), True),
    ("projected overrun of the exhausted team",
     posted("GenAIBudgetOverrunProjected", "warning", "budget_owner", "legal"), True),
    ("another team's budget threshold",
     posted("GenAIBudgetThreshold", "warning", "budget_owner", "marketing", threshold_percent="90"), False),
    ("a cost anomaly of the exhausted team still matters",
     posted("GenAICostAnomaly", "warning", "budget_owner", "legal"), False),
    ("stale telemetry while the exporter is down", posted("GenAITelemetryStale", "critical", "oncall", "platform"),
     True),
    ("spec out of step while the exporter is down", posted("GenAISpecOutOfStep", "warning", "oncall", "platform"),
     True),
    ("rejected records are not caused by the exporter being down",
     posted("GenAIRecordsRejected", "warning", "oncall", "platform", format="kong"), False),
]


@dataclass
class Drill:
    alertmanager: Alertmanager
    sink: HttpSink


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    sink = HttpSink().start()
    alertmanager = Alertmanager(tmp_path_factory.mktemp("am-drill"),
                                routing.render_with_webhook(SPEC, f"{sink.url}/drill"))
    try:
        # Sources first, targets once Alertmanager lists the sources.
        alertmanager.post(*SOURCES)
        wait_for(lambda: len(alertmanager.get("/api/v2/alerts")) == len(SOURCES), what="the source alerts")
        alertmanager.post(*(t[1] for t in TARGETS))
        wait_for(lambda: len(alertmanager.get("/api/v2/alerts")) == len(SOURCES) + len(TARGETS),
                 what="the target alerts")
        yield Drill(alertmanager, sink)
    finally:
        alertmanager.stop()
        sink.stop()


def statuses(alertmanager: Alertmanager) -> dict[tuple[str, ...], dict[str, Any]]:
    return {key(a): a["status"] for a in alertmanager.get("/api/v2/alerts")}


@pytest.fixture(scope="module")
def settled(drill: Drill) -> dict[tuple[str, ...], dict[str, Any]]:
    """Alert statuses once every expected inhibition shows: from then on the inhibitor has seen
    every source, so an alert still active is one no source silences."""
    silenced = [key(alert) for _, alert, inhibited in TARGETS if inhibited]

    def all_inhibited() -> bool:
        now = statuses(drill.alertmanager)
        return all(now[k]["inhibitedBy"] for k in silenced)

    with contextlib.suppress(AssertionError):  # the per-alert assertions below say which one is missing
        wait_for(all_inhibited, what="the expected inhibitions")
    return statuses(drill.alertmanager)


@pytest.mark.parametrize(("alert", "inhibited"), [(t[1], t[2]) for t in TARGETS], ids=[t[0] for t in TARGETS])
def test_inhibition(settled: dict[tuple[str, ...], dict[str, Any]], alert: dict[str, Any], inhibited: bool) -> None:
    status = settled[key(alert)]
    if inhibited:
        assert status["state"] == "suppressed" and status["inhibitedBy"], status
    else:
        assert status["state"] == "active" and not status["inhibitedBy"], status


def test_sources_are_not_inhibited(settled: dict[tuple[str, ...], dict[str, Any]]) -> None:
    for source in SOURCES:
        assert settled[key(source)]["state"] == "active", source["labels"]


def test_inhibited_by_names_the_source(settled: dict[tuple[str, ...], dict[str, Any]], drill: Drill) -> None:
    fingerprints = {key(a): a["fingerprint"] for a in drill.alertmanager.get("/api/v2/alerts")}
    team_errors = settled[("GenAITeamErrorsHigh", "search", "openai", "")]
    assert team_errors["inhibitedBy"] == [fingerprints[key(PROVIDER_OUTAGE)]]
    threshold = settled[("GenAIBudgetThreshold", "legal", "", "")]
    assert threshold["inhibitedBy"] == [fingerprints[key(BUDGET_EXHAUSTED)]]


def test_a_provider_outage_is_one_on_call_notification(drill: Drill) -> None:
    groups = drill.alertmanager.get("/api/v2/alerts/groups")
    openai = [g for g in groups if g["labels"] == {"provider": "openai"}]
    assert len(openai) == 1, [g["labels"] for g in groups]
    assert openai[0]["receiver"]["name"] == "oncall-pager"
    assert sorted(a["labels"]["alertname"] for a in openai[0]["alerts"]) == [
        "GenAIAvailabilitySLOPage", "GenAIAvailabilitySLOTicket", "GenAIModelErrorsHigh", "GenAIProviderErrorsHigh",
        "GenAIProviderLatencyHigh", "GenAITTFTSLOPage", "GenAITeamErrorsHigh",
    ]
    # Another provider's trouble is another incident.
    anthropic = [g for g in groups if g["labels"] == {"provider": "anthropic"}]
    assert len(anthropic) == 1 and len(anthropic[0]["alerts"]) == 3


def test_budget_alerts_group_per_alert_and_team(drill: Drill) -> None:
    groups = {(g["receiver"]["name"], tuple(sorted(g["labels"].items())))
              for g in drill.alertmanager.get("/api/v2/alerts/groups") if g["receiver"]["name"].startswith("budget-")}
    assert groups == {
        ("budget-legal", (("alertname", "GenAIBudgetExhausted"), ("team", "legal"))),
        ("budget-legal", (("alertname", "GenAIBudgetThreshold"), ("team", "legal"))),
        ("budget-legal", (("alertname", "GenAIBudgetOverrunProjected"), ("team", "legal"))),
        ("budget-legal", (("alertname", "GenAICostAnomaly"), ("team", "legal"))),
        ("budget-marketing", (("alertname", "GenAIBudgetThreshold"), ("team", "marketing"))),
    }


def test_drill_webhook_names_the_receiver(drill: Drill) -> None:
    """render_with_webhook: the Watchdog (sent at once, no group wait) arrives at the sink under
    the dead-man's receiver name."""
    drill.alertmanager.post(posted("Watchdog", "info", "oncall", "platform"))
    wait_for(lambda: any(r.body["receiver"] == "deadman-switch" for r in drill.sink.at("/drill")),
             what="the Watchdog at the drill sink")
    watchdog = next(r.body for r in drill.sink.at("/drill") if r.body["receiver"] == "deadman-switch")
    assert [a["labels"]["alertname"] for a in watchdog["alerts"]] == ["Watchdog"]


# -- notification content, through the real integrations of the generated receivers ------------------

@dataclass
class Live:
    alertmanager: Alertmanager
    http: HttpSink
    smtp: SmtpSink


def deployable(files: dict[str, str], workdir: Path, http: HttpSink, smtp: SmtpSink) -> dict[str, str]:
    """The generated config as an operator deploys it, pointed at local sinks: secret files
    written where the config names them (the slack URL is a secret, read from its file), the
    PagerDuty and webhook endpoints and the SMTP relay local, and no group wait so the test need
    not sit out 30 s."""
    config = yaml.safe_load(files[CONFIG])
    secrets = workdir / "secrets"
    secrets.mkdir()

    def secret(name: str, value: str) -> str:
        path = secrets / name
        path.write_text(value)
        return str(path)

    config["global"]["smtp_smarthost"] = smtp.address
    config["global"]["smtp_require_tls"] = False
    config["global"]["smtp_auth_password_file"] = secret("smtp-password", "unused-no-auth-offered")
    for receiver in config["receivers"]:
        name = receiver["name"]
        for slack in receiver.get("slack_configs", []):
            slack["api_url_file"] = secret(f"{name}-slack", f"{http.url}/slack/{name}\n")
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["routing_key_file"] = secret(f"{name}-pagerduty", "test-routing-key\n")
            pagerduty["url"] = f"{http.url}/pagerduty/{name}"
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{http.url}/webhook/{name}"
            hook["http_config"]["authorization"]["credentials_file"] = secret(f"{name}-token", "test-bearer-token\n")

    def no_wait(route: dict[str, Any]) -> None:
        if "group_wait" in route:
            route["group_wait"] = "0s"
        for child in route.get("routes", []):
            no_wait(child)

    no_wait(config["route"])
    return {**files, CONFIG: yaml.safe_dump(config, sort_keys=False)}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("am-live")
    http, smtp = HttpSink().start(), SmtpSink()
    alertmanager = Alertmanager(workdir, deployable(routing.render(SPEC), workdir, http, smtp))
    try:
        yield Live(alertmanager, http, smtp)
    finally:
        alertmanager.stop()
        http.stop()
        smtp.shutdown()
        smtp.server_close()


def assert_leads_with_links(text: str, alert: dict[str, Any]) -> None:
    """Summary, then the description with the value, then runbook, then dashboard, then labels."""
    annotations = alert["annotations"]
    positions = [text.find(annotations[k]) for k in ("summary", "description", "runbook_url", "dashboard_url")]
    positions.append(text.find(f"alertname={alert['labels']['alertname']}"))
    assert -1 not in positions, (positions, text)
    assert positions == sorted(positions), text


def test_slack_notification(live: Live) -> None:
    alert = posted("GenAIGuardrailBypass", "critical", "security", "support", app="zendesk-assist")
    live.alertmanager.post(alert)
    wait_for(lambda: bool(live.http.at("/slack/secops")), what="the Slack message")
    message = live.http.at("/slack/secops")[0].body
    assert message["channel"] == "#secops-alerts"
    attachment = message["attachments"][0]
    assert attachment["title"] == "[FIRING:1] GenAIGuardrailBypass summary for support · team support"
    assert attachment["title_link"] == alert["annotations"]["dashboard_url"]
    assert attachment["color"] == "danger"
    assert_leads_with_links(attachment["text"], alert)


def test_pagerduty_notification(live: Live) -> None:
    alert = posted("GenAIExporterDown", "critical", "oncall", "platform", instance="exporter-1:9464")
    live.alertmanager.post(alert)
    wait_for(lambda: bool(live.http.at("/pagerduty/oncall-pager")), what="the PagerDuty event")
    event = live.http.at("/pagerduty/oncall-pager")[0].body
    assert event["routing_key"] == "test-routing-key"  # read from the routing_key_file
    assert event["event_action"] == "trigger"
    assert event["payload"]["summary"] == "[FIRING:1] GenAIExporterDown summary for platform · team platform"
    assert event["links"] == [
        {"href": alert["annotations"]["runbook_url"], "text": "Runbook"},
        {"href": alert["annotations"]["dashboard_url"], "text": "Dashboard"},
    ]
    assert_leads_with_links(event["payload"]["custom_details"]["alerts"], alert)


def test_email_notification(live: Live) -> None:
    alert = posted("GenAIBudgetExhausted", "warning", "budget_owner", "legal")
    live.alertmanager.post(alert)
    wait_for(lambda: bool(live.smtp.messages), what="the email")
    message = live.smtp.messages[0]
    assert message["To"] == "sofia.marquez@northwind.example"
    assert message["From"] == "gatewatch-alerts@northwind.example"
    assert message["Subject"] == "[FIRING:1] GenAIBudgetExhausted summary for legal · team legal"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk()
             if not part.is_multipart()}
    assert_leads_with_links(parts["text/plain"], alert)
    assert_leads_with_links(parts["text/html"], alert)
    html = parts["text/html"]
    assert f'<a href="{alert["annotations"]["runbook_url"]}">Runbook</a>' in html


def test_deadman_webhook_carries_the_bearer_token(live: Live) -> None:
    live.alertmanager.post(posted("Watchdog", "info", "oncall", "platform"))
    wait_for(lambda: bool(live.http.at("/webhook/deadman-switch")), what="the dead-man's ping")
    ping = live.http.at("/webhook/deadman-switch")[0]
    assert ping.headers["Authorization"] == "Bearer test-bearer-token"  # read from credentials_file
    assert ping.body["receiver"] == "deadman-switch"
