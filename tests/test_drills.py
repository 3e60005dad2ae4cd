"""The drills (drills/): the sink's checks and the table's verdicts can fail; Alertmanager's timers
compress with the rules; a resolved incident sends a resolved notification; the same incident
repeated inside the group interval sends no second page; and every row of the scenario table
holds on the real stack (played in the background while the rest of the suite runs:
tests/support/drills.py)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contract import spec as spec_model
from drills import run
from drills.scenarios import Expect, Scenario
from drills.sink import Notification, check
from drills.stack import Stack, compress_route, scale_timer
from tests.paths import EXAMPLE_SPEC
from tests.support import drills
from tests.support.binaries import require

SPEC = spec_model.load(EXAMPLE_SPEC)
BASE = SPEC.organization.runbook_base_url

# -- the sink's checks (no binaries) ------------------------------------------------------------

def alert(**changes: Any) -> dict[str, Any]:
    labels = {"alertname": "GenAIExporterDown", "team": "platform", "severity": "critical"}
    annotations = {"runbook_url": f"{BASE}/GenAIExporterDown.md", "dashboard_url": "https://grafana.example/d/x"}
    for key, value in changes.items():
        target = labels if key in labels else annotations
        if value is None:
            target.pop(key)
        else:
            target[key] = value
    return {"status": "firing", "labels": labels, "annotations": annotations}


@pytest.fixture
def runbooks_dir(tmp_path: Path) -> Path:
    (tmp_path / "GenAIExporterDown.md").write_text("# GenAIExporterDown\n")
    return tmp_path


@pytest.mark.parametrize(("changes", "problem"), [
    ({}, None),
    ({"team": None}, "GenAIExporterDown: no team label"),
    ({"severity": None}, "GenAIExporterDown: no severity label"),
    ({"runbook_url": None}, "GenAIExporterDown: no runbook_url annotation"),
    ({"dashboard_url": None}, "GenAIExporterDown: no dashboard_url annotation"),
    ({"runbook_url": f"{BASE}/NoSuchAlert.md"},
     f"GenAIExporterDown: runbook_url {BASE}/NoSuchAlert.md is not a rendered runbook"),
    ({"runbook_url": "https://elsewhere.example/GenAIExporterDown.md"},
     "GenAIExporterDown: runbook_url https://elsewhere.example/GenAIExporterDown.md is not a rendered runbook"),
    ({"runbook_url": f"{BASE}/../GenAIExporterDown.md"},
     f"GenAIExporterDown: runbook_url {BASE}/../GenAIExporterDown.md is not a rendered runbook"),
], ids=["sound", "no team", "no severity", "no runbook", "no dashboard", "unrendered runbook", "other site",
        "escape"])
def test_sink_checks(runbooks_dir: Path, changes: dict[str, Any], problem: str | None) -> None:
    found = check({"receiver": "oncall-pager", "alerts": [alert(**changes)]}, BASE, runbooks_dir)
    assert found == (() if problem is None else (problem,))


def test_an_empty_notification_is_a_problem(runbooks_dir: Path) -> None:
    assert check({"receiver": "", "alerts": []}, BASE, runbooks_dir) == ("no receiver name", "no alerts")


@pytest.mark.parametrize(("duration", "factor", "expected"), [
    ("30s", 60, "500ms"), ("5m", 60, "5s"), ("4h", 60, "240s"), ("1m", 60, "1s"),
    ("0s", 60, "1ms"), ("24h", 120, "720s"),
])
def test_alertmanager_timers_compress(duration: str, factor: float, expected: str) -> None:
    assert scale_timer(duration, factor) == expected


def test_every_timer_in_the_route_tree_compresses() -> None:
    tree = {"group_wait": "30s", "receiver": "a", "routes": [{"repeat_interval": "7d", "matchers": ["x=\"y\""]}]}
    assert compress_route(tree, 60) == {"group_wait": "500ms", "receiver": "a",
                                        "routes": [{"repeat_interval": "10080s", "matchers": ["x=\"y\""]}]}


# -- the table's verdicts (no binaries) ----------------------------------------------------------

OUTAGE = Scenario("provider_outage", "provider_outage",
                  expect=(Expect("GenAIProviderErrorsHigh", ("oncall-pager",), {"provider": "openai"}),),
                  must_not_notify=("budget-search",),
                  must_not_alert=(Expect("GenAITeamErrorsHigh", (), {"provider": "openai"}),),
                  one_notification_per_group={"provider": "openai"})


def notification(receiver: str, *names: str, status: str = "firing", group: dict[str, str] | None = None,
                 problems: tuple[str, ...] = ()) -> Notification:
    alerts = tuple({"status": status, "labels": {"alertname": n, "provider": "openai"}, "annotations": {}}
                   for n in names)
    return Notification(receiver, status, alerts, group or {"provider": "openai"}, 0.0, problems)


def outcome(notifications: tuple[Notification, ...], notified: float | None = 6.0, exists: bool = True) -> run.Outcome:
    detection = run.Detection(OUTAGE.expect[0], 5.0, {"oncall-pager": notified}, "https://x/y.md", exists)
    return run.Outcome(OUTAGE, 60.0, (detection,), notifications)


PAGE = notification("oncall-pager", "GenAIProviderErrorsHigh")


@pytest.mark.parametrize(("verdict", "expected"), [
    (outcome((PAGE,)), []),
    (outcome((), notified=None), ["GenAIProviderErrorsHigh never reached oncall-pager",
                                  "0 firing notifications for {'provider': 'openai'}, expected one"]),
    (outcome((PAGE,), exists=False), ["GenAIProviderErrorsHigh: runbook https://x/y.md is not a rendered page"]),
    (outcome((PAGE, notification("budget-search", "GenAIBudgetThreshold", group={"team": "search"}))),
     ["budget-search was notified of GenAIBudgetThreshold"]),
    (outcome((PAGE, notification("oncall-pager", "GenAIProviderErrorsHigh", "GenAITeamErrorsHigh"))),
     ["GenAITeamErrorsHigh reached oncall-pager (should be inhibited)",
      "2 firing notifications for {'provider': 'openai'}, expected one"]),
    (outcome((PAGE, notification("oncall-pager", "GenAIProviderErrorsHigh", status="resolved"))), []),
    (outcome((notification("oncall-pager", "GenAIProviderErrorsHigh", problems=("x: no team label",)),)),
     ["sink: oncall-pager: x: no team label"]),
], ids=["holds", "never notified", "runbook missing", "forbidden receiver", "not inhibited", "resolved is no page",
        "sink problem"])
def test_a_row_holds_only_when_every_part_of_it_does(verdict: run.Outcome, expected: list[str]) -> None:
    assert list(run.failures(verdict)) == expected


# -- the scenario table on the real stack --------------------------------------------------------

@pytest.mark.binaries
@pytest.mark.slow
@pytest.mark.parametrize("name", [s.name for s in drills.SCENARIOS])
def test_drill_row_holds(name: str) -> None:
    played = drills.outcomes()[name]
    assert played.holds, "\n" + run.table([played])
    # Every page-worthy drill was detected and its runbook is the one the alert links to.
    for detection in played.detections:
        assert detection.fired_after is not None
        assert detection.runbook_url.endswith(f"/{detection.expect.alert}.md")


# -- the drills on the real stack ---------------------------------------------------------------

# -- resolved notifications and no second page, through the drills' Alertmanager ----------------

def posted(ends: datetime | None = None) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [{**alert(), "startsAt": (now - timedelta(seconds=1)).isoformat(),
             "endsAt": (ends or now + timedelta(hours=1)).isoformat(), "generatorURL": "http://drill.invalid"}]


def post(stack: Stack, alerts: list[dict[str, Any]]) -> None:
    for a in alerts:
        a.pop("status", None)
    request = urllib.request.Request(f"{stack.alertmanager_url}/api/v2/alerts", json.dumps(alerts).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The drill stack, its alerting rules not armed: only what the test posts reaches Alertmanager."""
    require("prometheus")
    require("prometheus-alertmanager", "alertmanager")
    with Stack(tmp_path_factory.mktemp("quiet"), SPEC, EXAMPLE_SPEC, run.FACTOR) as stack:
        yield stack


def pages(stack: Stack, status: str) -> list[Any]:
    return [n for n in stack.sink.received() if n.status == status and "GenAIExporterDown" in n.alertnames()]


def wait(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.binaries
@pytest.mark.slow
def test_repeat_inside_the_group_interval_is_not_a_second_page_and_resolving_notifies(quiet_stack: Stack) -> None:
    # The on-call route's group_interval, 5m, is 5 s at the drills' factor 60.
    group_interval = 5.0
    post(quiet_stack, posted())
    wait(lambda: pages(quiet_stack, "firing"), 30)
    assert len(pages(quiet_stack, "firing")) == 1
    for _ in range(3):  # the same incident again, as Prometheus re-sends it, inside one group interval
        post(quiet_stack, posted())
        time.sleep(group_interval / 4)
    time.sleep(2 * group_interval)  # two flushes of the group have passed
    assert len(pages(quiet_stack, "firing")) == 1
    post(quiet_stack, posted(ends=datetime.now(UTC)))
    wait(lambda: pages(quiet_stack, "resolved"), 30)
    resolved = pages(quiet_stack, "resolved")
    assert [n.receiver for n in resolved] == ["oncall-pager"]
    assert all(not n.problems for n in quiet_stack.sink.received())
