"""The drills: for each incident, the traffic that plays it, the alerts that must reach whom, and
who must hear nothing. Receivers and targets come from the spec (for the example spec, in brackets).

``baseline`` and ``observe`` are drill seconds: ordinary traffic before the incident (the
history "compared with its own past" rules read: at the default factor 60, ``offset 1h`` and the
``[1h]`` of the hourly request rate are 60 s, so every drill builds 70 s first),
and how long the incident may take to reach everyone before the drill gives up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from alerts import routing
from contract.spec import Spec
from simulate.scenarios import targets

TRAFFIC = "traffic"
KILL_EXPORTER = "kill_exporter"


@dataclass(frozen=True, slots=True)
class Expect:
    """An alert that must fire and reach every one of ``receivers`` (labels narrow which series)."""

    alert: str
    receivers: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    traffic: str                                 # the simulator's scenario overlaid after the baseline
    action: str = TRAFFIC                        # or KILL_EXPORTER when the baseline ends
    expect: tuple[Expect, ...] = ()
    must_not_notify: tuple[str, ...] = ()        # receivers that must get no firing notification
    must_not_alert: tuple[Expect, ...] = ()      # alerts nobody may be notified of (inhibited ones)
    one_notification_per_group: Mapping[str, str] | None = None  # e.g. {"provider": "openai"}
    baseline: float = 70.0
    observe: float = 40.0
    resolve: bool = False                        # end the incident and wait for the resolved notification
    # Drill seconds to keep watching once every expected receiver heard: late or extra pages show,
    # and alerts that must stay inhibited get the time their own ``for`` needs to fire in Prometheus.
    settle: float = 6.0
    history: bool = False                        # backfill a week of ordinary traffic first (drills/history.py)


def receivers(spec: Spec) -> tuple[str, ...]:
    return tuple(routing.receiver_names(spec))


def scenarios(spec: Spec) -> tuple[Scenario, ...]:
    alerting = spec.alerting
    if alerting is None:
        raise ValueError("drills need the spec's alerting section")
    oncall, security, deadman = alerting.oncall_receiver, alerting.security_receiver, alerting.deadman_receiver
    aims = targets(spec)
    team_receivers = routing.team_receivers(spec)
    budget_owners = tuple(sorted(set(team_receivers.values())))
    loop_team = next(a.team for a in spec.apps if a.name == aims.loop_app)
    runaway_owner = team_receivers.get(aims.runaway_team, alerting.finance_receiver)
    provider = {"provider": aims.outage_provider}
    slow = [o.name for o in spec.slos.objectives if o.kind == "ttft" and o.model == aims.slow_model]
    ttft_slo = {"slo": slow[0]} if slow else {}
    inhibited_by_outage = tuple(
        Expect(name, (), provider) for name in routing.INHIBITIONS[0][1])
    return (
        # A healthy hour of real time: only the dead-man's switch hears anything.
        Scenario("normal", "normal", must_not_notify=tuple(r for r in receivers(spec) if r != deadman),
                 observe=60.0),
        Scenario("provider_outage", "provider_outage",
                 expect=(Expect("GenAIProviderErrorsHigh", (oncall,), provider),),
                 must_not_alert=inhibited_by_outage, one_notification_per_group=provider,
                 must_not_notify=budget_owners, settle=20.0),
        Scenario("cost_runaway", "cost_runaway",
                 expect=(Expect("GenAICostAnomaly", (runaway_owner,), {"team": aims.runaway_team}),),
                 must_not_notify=(oncall,), history=True),
        Scenario("runaway_loop", "runaway_loop",
                 expect=(Expect("GenAIRunawayLoop", (team_receivers[loop_team], oncall), {"app": aims.loop_app}),)),
        Scenario("prompt_injection_burst", "prompt_injection_burst",
                 expect=(Expect("GenAIGuardrailBlockSurge", (security,), {"app": aims.injection_app}),),
                 must_not_notify=(*budget_owners, oncall)),
        Scenario("pii_leak", "pii_leak",
                 expect=(Expect("GenAISensitiveDataRepeated", (security,), {"app": aims.pii_app}),)),
        Scenario("key_compromise", "key_compromise",
                 expect=(Expect("GenAIAppVolumeAnomaly", (security,), {"app": aims.compromised_app}),
                         Expect("GenAIUnapprovedModelUse", (security,), {"app": aims.compromised_app})),
                 history=True),
        Scenario("latency_degradation", "latency_degradation",
                 # 14.4x burn of a 5 % budget is 72 % of the [1h] window slow: ~45 s at factor 60.
                 expect=(Expect("GenAITTFTSLOPage", (oncall,), ttft_slo),), observe=80.0),
        # Restarted once on-call heard: the page must resolve, through the whole chain.
        Scenario("exporter_killed", "normal", action=KILL_EXPORTER,
                 expect=(Expect("GenAIExporterDown", (oncall,)),), resolve=True),
    )


def by_name(spec: Spec) -> dict[str, Scenario]:
    return {s.name: s for s in scenarios(spec)}
