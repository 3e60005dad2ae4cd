"""Runs drills and measures them: each on its own stack, a few at once, then the table.

For each expected alert a drill records when Prometheus first listed it firing and when the sink
first got it at each expected receiver, as seconds after the incident began (drill time) and that
times the factor (the real-time equivalent). It then checks the scenario's rows: every expected
receiver notified, no firing notification to a receiver that must hear nothing, none for an alert
that must stay inhibited, one notification per incident group, and the sink's own checks.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.spec import Spec
from drills.scenarios import KILL_EXPORTER, Expect, Scenario
from drills.sink import Notification, runbook_file
from drills.stack import Stack
from simulate import SimRecord, generate
from simulate.post import Poster, run

FACTOR = 60.0     # 5m windows -> 5 s (twenty 250 ms scrapes), 1h -> 60 s, 1d -> 24 min
RATE = 10.0       # ordinary records per second
PARALLEL = 3
POLL = 0.25
SEED = 1


@dataclass(frozen=True, slots=True)
class Detection:
    expect: Expect
    fired_after: float | None                         # drill seconds after the incident began
    notified_after: dict[str, float | None]          # per expected receiver
    runbook_url: str = ""
    runbook_exists: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    scenario: Scenario
    factor: float
    detections: tuple[Detection, ...] = ()
    notifications: tuple[Notification, ...] = ()     # every one after the alerts were armed
    incident_at: float = 0.0
    resolved_after: float | None = None
    # Alerts that must stay inhibited and did fire in Prometheus: the inhibition was put to the test.
    inhibited: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()

    @property
    def holds(self) -> bool:
        return not self.failures


# -- traffic -----------------------------------------------------------------------------------

class Traffic:
    """Posts the scenario's records as their time comes; ``calm()`` switches to ordinary traffic
    (the same seed: the ordinary requests carry on unchanged, only the incident stops)."""

    def __init__(self, spec: Spec, scenario: Scenario, url: str, *, start: float, incident_after: float,
                 duration: float) -> None:
        self._calm = threading.Event()
        self._stop = threading.Event()
        incident = scenario.traffic if scenario.action != KILL_EXPORTER else "normal"
        self._incident = generate(spec, incident, start=start, duration=duration, rate=RATE, seed=SEED,
                                  incident_after=incident_after, text=False)
        self._ordinary = generate(spec, "normal", start=start, duration=duration, rate=RATE, seed=SEED,
                                  text=False)
        self.poster = Poster(url, report=lambda _message: None)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _records(self) -> Iterator[SimRecord]:
        for record in self._incident:
            if self._stop.is_set():
                return
            if self._calm.is_set():
                break
            yield record
        now = time.time()
        for record in self._ordinary:
            if self._stop.is_set():
                return
            if record.at >= now:
                yield record

    def _run(self) -> None:
        run(self._records(), self.poster.post, flush_every=0.5)

    def start(self) -> None:
        self._thread.start()

    def calm(self) -> None:
        self._calm.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.poster.close()


# -- one drill -----------------------------------------------------------------------------------

def _matches(labels: Mapping[str, str], expect: Expect) -> bool:
    return labels.get("alertname") == expect.alert and all(labels.get(k) == v for k, v in expect.labels.items())


def _firing_in_prometheus(stack: Stack, expect: Expect) -> dict[str, Any] | None:
    for alert in stack.alerts():
        if alert["state"] == "firing" and _matches(alert["labels"], expect):
            return alert
    return None


def _notified(notifications: Sequence[Notification], receiver: str, expect: Expect,
              status: str = "firing") -> Notification | None:
    for n in notifications:
        if n.receiver == receiver and n.status == status and any(
                a["status"] == status and _matches(a["labels"], expect) for a in n.alerts):
            return n
    return None


def drill(spec: Spec, spec_path: Path, scenario: Scenario, workdir: Path, factor: float = FACTOR) -> Outcome:
    """Play one scenario on a fresh stack and measure it."""
    with Stack(workdir, spec, spec_path, factor, history_rate=RATE if scenario.history else None) as stack:
        start = time.time()
        total = scenario.baseline + scenario.observe * 3 + 60.0
        traffic = Traffic(spec, scenario, stack.exporter_url, start=start, incident_after=scenario.baseline,
                          duration=total)
        traffic.start()
        try:
            return _measure(stack, scenario, traffic, start)
        finally:
            traffic.stop()


def _measure(stack: Stack, scenario: Scenario, traffic: Traffic, start: float) -> Outcome:
    # Armed a few seconds before the incident, so a rule's first evaluations settle on ordinary traffic.
    time.sleep(max(0.0, start + scenario.baseline - 8.0 - time.time()))
    stack.arm()
    armed_at = time.time()
    time.sleep(max(0.0, start + scenario.baseline - time.time()))
    incident_at = time.time()
    if scenario.action == KILL_EXPORTER:
        stack.kill_exporter()
    fired: dict[int, float] = {}
    inhibited: set[str] = set()
    deadline = incident_at + scenario.observe
    done_at: float | None = None
    while time.time() < deadline:
        now = time.time()
        for i, expect in enumerate(scenario.expect):
            if i not in fired and _firing_in_prometheus(stack, expect) is not None:
                fired[i] = now - incident_at
        inhibited.update(e.alert for e in scenario.must_not_alert if _firing_in_prometheus(stack, e) is not None)
        received = [n for n in stack.sink.received() if n.received_at >= armed_at]
        everyone = all(_notified(received, r, e) for e in scenario.expect for r in e.receivers)
        if scenario.expect and everyone and done_at is None:
            done_at = now
        if done_at is not None and now - done_at >= scenario.settle:
            break
        time.sleep(POLL)
    resolved_after = None
    if scenario.resolve and done_at is not None:
        if scenario.action == KILL_EXPORTER:
            stack.restart_exporter()
        else:
            traffic.calm()
        calm_at = time.time()
        while time.time() < calm_at + scenario.observe and resolved_after is None:
            received = [n for n in stack.sink.received() if n.received_at >= armed_at]
            for e in scenario.expect:
                for r in e.receivers:
                    n = _notified(received, r, e, status="resolved")
                    if n is not None:
                        resolved_after = n.received_at - calm_at
            time.sleep(POLL)
    notifications = tuple(n for n in stack.sink.received() if n.received_at >= armed_at)
    detections = tuple(_detection(stack, e, fired.get(i), notifications, incident_at)
                       for i, e in enumerate(scenario.expect))
    outcome = Outcome(scenario, stack.factor, detections, notifications, incident_at, resolved_after,
                      tuple(sorted(inhibited)))
    return Outcome(**{**_fields(outcome), "failures": tuple(failures(outcome))})


def _fields(outcome: Outcome) -> dict[str, Any]:
    return {name: getattr(outcome, name) for name in Outcome.__slots__}


def _detection(stack: Stack, expect: Expect, fired_after: float | None, notifications: Sequence[Notification],
               incident_at: float) -> Detection:
    notified: dict[str, float | None] = {}
    url = ""
    for receiver in expect.receivers:
        n = _notified(notifications, receiver, expect)
        notified[receiver] = None if n is None else n.received_at - incident_at
        if n is not None and not url:
            alert = next(a for a in n.alerts if _matches(a["labels"], expect))
            url = alert["annotations"].get("runbook_url", "")
    page = runbook_file(url, stack.spec.organization.runbook_base_url, stack.runbooks_dir) if url else None
    return Detection(expect, fired_after, notified, url, bool(page and page.is_file()))


def failures(outcome: Outcome) -> Iterator[str]:
    """Every row of the scenario that does not hold."""
    scenario = outcome.scenario
    firing = [n for n in outcome.notifications if n.status == "firing"]
    for d in outcome.detections:
        for receiver, after in d.notified_after.items():
            if after is None:
                yield f"{d.expect.alert} never reached {receiver}"
        if d.notified_after and not d.runbook_exists:
            yield f"{d.expect.alert}: runbook {d.runbook_url or '(none)'} is not a rendered page"
    for n in firing:
        if n.receiver in scenario.must_not_notify:
            yield f"{n.receiver} was notified of {', '.join(sorted(n.alertnames()))}"
        for forbidden in scenario.must_not_alert:
            if any(_matches(a["labels"], forbidden) for a in n.alerts):
                yield f"{forbidden.alert} reached {n.receiver} (should be inhibited)"
    if scenario.one_notification_per_group is not None:
        group = dict(scenario.one_notification_per_group)
        pages = [n for n in firing if dict(n.group_labels) == group]
        if len(pages) != 1:
            yield f"{len(pages)} firing notifications for {group}, expected one"
    if scenario.resolve and outcome.resolved_after is None:
        yield "no resolved notification after the incident ended"
    for n in outcome.notifications:
        for problem in n.problems:
            yield f"sink: {n.receiver}: {problem}"


# -- many drills -------------------------------------------------------------------------------

def drill_all(spec: Spec, spec_path: Path, chosen: Sequence[Scenario], *, factor: float = FACTOR,
              parallel: int = PARALLEL, workdir: Path | None = None) -> list[Outcome]:
    """Every scenario on its own stack, ``parallel`` at once; outcomes in the order given."""
    with tempfile.TemporaryDirectory(prefix="gatewatch-drills-") as scratch:
        root = workdir or Path(scratch)
        # Longest first, so the short ones fill in beside them.
        order = sorted(range(len(chosen)), key=lambda i: -(chosen[i].baseline + chosen[i].observe))
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = {i: pool.submit(drill, spec, spec_path, chosen[i], root / chosen[i].name, factor)
                       for i in order}
            return [futures[i].result() for i in range(len(chosen))]


# -- the table ---------------------------------------------------------------------------------

def _seconds(value: float | None, factor: float) -> str:
    if value is None:
        return "—"
    real = value * factor
    return f"{value:.1f} s ({real / 60:.1f} min)"


def table(outcomes: Sequence[Outcome]) -> str:
    """The issue's table with the measured figures, Markdown."""
    rows = ["| scenario | alert | fired? | fired after, drill (real-time equiv.) | notified after | receiver "
            "| runbook_url | runbook exists | row holds |",
            "|---|---|---|---|---|---|---|---|---|"]
    for o in outcomes:
        name = f"`{o.scenario.name}`"
        verdict = "yes" if o.holds else "NO: " + "; ".join(dict.fromkeys(o.failures))
        if o.resolved_after is not None:
            verdict += f" (resolved notification {_seconds(o.resolved_after, o.factor)} after the incident ended)"
        if o.inhibited:
            verdict += f" (fired in Prometheus, inhibited in Alertmanager: {', '.join(o.inhibited)})"
        if not o.detections:
            others = sorted({f"{n.receiver}: {a}" for n in o.notifications if n.status == "firing"
                             for a in n.alertnames()})
            rows.append(f"| {name} | (none expected) | — | — | — | {', '.join(others) or 'nobody'} | — | — "
                        f"| {verdict} |")
        for d in o.detections:
            for receiver, after in d.notified_after.items():
                rows.append(
                    f"| {name} | {d.expect.alert} | {'yes' if d.fired_after is not None else 'no'} "
                    f"| {_seconds(d.fired_after, o.factor)} | {_seconds(after, o.factor)} | {receiver} "
                    f"| {d.runbook_url or '—'} | {'yes' if d.runbook_exists else 'no'} | {verdict} |")
    return "\n".join(rows)
