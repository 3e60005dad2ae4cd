"""Incident scenarios, overlaid on ordinary traffic from ``incident_after`` on.

Each scenario is an ``Overlay``: extra request streams (a burst, a loop, an attacker) and/or a
change to every request after the incident starts. Ordinary traffic keeps flowing underneath,
unchanged in its arrivals, so the same seed gives the same ordinary requests in every scenario.
Who is hit is chosen from the spec by ``targets`` (for the example spec, the values in
brackets):

``normal``
    No incident.
``provider_outage``
    One provider [openai] answers ~70 % of the requests that reach it with 503 / 502 errors and
    timeouts, across every team and both gateways (cache hits and guardrail blocks never reach
    it and are unchanged).
``cost_runaway``
    One team [analytics], legitimately: its request volume x5 (an extra stream at 4x its
    ordinary rate) and every request's prompt and answer x4, so its spend rate jumps ~20x.
    Models stay approved; errors and cache hits keep their ordinary shares.
``prompt_injection_burst``
    One app [search-api] receives a burst (10x its ordinary rate, at least 10 % of the total
    rate) of requests blocked by the prompt-injection guardrail: half through LiteLLM
    (``GuardrailRaisedException``, HTTP 400, no tokens) and half through Kong (``lakera-guard``
    block, HTTP 400) under the app's Kong consumer.
``pii_leak``
    One app [zendesk-assist] of a team that requires a PII guardrail: 60 % of its successful
    chat answers carry PII that the guardrail masks in the OUTPUT (``guardrail_mode:
    post_call``, ``masked_entity_count`` with emails, phone numbers, SSNs, card numbers).
``key_compromise``
    One existing app's key alias [svc-campaign-writer] suddenly sends 25x its ordinary volume,
    85 % of it to models its team is not approved for, with large prompts, from hundreds of
    outside IP addresses and unfamiliar user agents.
``runaway_loop``
    One app [nightly-batch] repeats a near-identical request (same model, same prompt text, prompt
    size within 3 tokens, 12-16 output tokens) evenly spaced at 19x its ordinary rate, so its
    volume is ~20x ordinary; the spend comes from volume, not from any single request.
``latency_degradation``
    One model [claude-sonnet-4]: time to first token and duration of its successful requests
    grow 5-8x (TTFT from ~0.5 s to ~3-4 s).
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from random import Random

from contract.spec import Model, Spec
from simulate.world import (
    Actor,
    Call,
    GuardrailRun,
    World,
    approved_models,
    error_duration,
    failed,
    guardrail_kind,
    is_embedding,
    kong_apps,
    kong_consumer,
    latency_profile,
    ordinary_call,
    pick_model,
)

SCENARIOS: tuple[str, ...] = (
    "normal",
    "provider_outage",
    "cost_runaway",
    "prompt_injection_burst",
    "pii_leak",
    "key_compromise",
    "runaway_loop",
    "latency_degradation",
)

# One line each for --help; the module docstring has the details.
SUMMARIES: dict[str, str] = {
    "normal": "ordinary traffic only",
    "provider_outage": "one provider (openai) fails ~70% of requests: 503/502 and timeouts",
    "cost_runaway": "one team (analytics): volume x5, prompts and answers x4, spend rate ~x20",
    "prompt_injection_burst": "one app gets a burst of requests blocked by the injection guardrail",
    "pii_leak": "one app's answers repeatedly carry PII masked by the post_call guardrail",
    "key_compromise": "one app key: x25 volume, unapproved models, hundreds of outside IPs",
    "runaway_loop": "one app repeats a near-identical request, evenly spaced, at ~x20 its rate",
    "latency_degradation": "one model (claude-sonnet-4): TTFT and duration x5-8",
}

OUTAGE_ERROR_SHARE = 0.7
RUNAWAY_VOLUME = 5.0
RUNAWAY_SIZE = 4.0
INJECTION_BURST = 10.0
PII_LEAK_SHARE = 0.6
COMPROMISE_VOLUME = 25.0
COMPROMISE_UNAPPROVED_SHARE = 0.85
LOOP_VOLUME = 20.0
SLOWDOWN = (5.0, 8.0)

_ATTACKER_AGENTS = ("python-requests/2.32.3", "Go-http-client/1.1", "curl/8.7.1", "node-fetch/1.0")


@dataclass(frozen=True, slots=True)
class Stream:
    """An extra source of requests during the incident."""

    name: str
    rate: float                        # requests per second, on average
    make: Callable[[Random], Call]
    even: bool = False                 # evenly spaced (a machine) rather than Poisson (people)
    shaped: bool = True                # follows the diurnal curve when it is on


@dataclass(frozen=True, slots=True)
class Overlay:
    streams: tuple[Stream, ...] = ()
    alter: Callable[[Call, Random], Call] | None = None


@dataclass(frozen=True, slots=True)
class Targets:
    """Who each scenario hits, chosen from the spec (see the module docstring)."""

    outage_provider: str
    runaway_team: str
    injection_app: str
    pii_app: str
    compromised_app: str
    loop_app: str
    slow_model: str


def targets(spec: Spec) -> Targets:
    on_kong = kong_apps(spec)
    litellm_apps = [a for a in spec.apps if a.name not in on_kong] or list(spec.apps)
    first = litellm_apps[0].name if litellm_apps else ""

    def app_of_team_requiring(kind: str) -> str:
        for app in litellm_apps:
            if any(guardrail_kind(spec, g) == kind for g in spec.team(app.team).required_guardrails):
                return app.name
        return first

    providers = Counter(m.provider for m in spec.models)
    outage = "openai" if "openai" in providers else providers.most_common(1)[0][0]
    team_names = [t.name for t in spec.teams]
    batch_teams = [a.team for a in spec.apps if not a.interactive]
    runaway = "analytics" if "analytics" in team_names else (batch_teams or team_names)[0]
    free = [a for a in litellm_apps if not spec.team(a.team).required_guardrails] or litellm_apps

    def unapproved(app_name: str) -> int:
        team = spec.team(next(a.team for a in spec.apps if a.name == app_name))
        return len(spec.models) - len(approved_models(spec, team))

    compromised = max((a.name for a in free), key=unapproved, default=first)
    loop = next((a.name for a in litellm_apps if not a.interactive), first)
    chat = [m for m in spec.models if not is_embedding(m)]

    def approvals(name: str) -> int:
        return sum(any(fnmatch.fnmatchcase(name, p) for p in t.approved_models) for t in spec.teams)

    slow = "claude-sonnet-4" if any(m.name == "claude-sonnet-4" for m in chat) else max(
        (m.name for m in chat), key=approvals, default=spec.models[0].name)
    return Targets(outage, runaway, app_of_team_requiring("prompt_injection"), app_of_team_requiring("pii"),
                   compromised, loop, slow)


def overlay(scenario: str, world: World, rate: float) -> Overlay:
    """The incident of ``scenario`` over ordinary traffic of ``rate`` requests per second."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}")
    if scenario == "normal":
        return Overlay()
    aims = targets(world.spec)
    build = _BUILDERS[scenario]
    return build(world, rate, aims)


def _provider_outage(world: World, rate: float, aims: Targets) -> Overlay:
    def alter(call: Call, rng: Random) -> Call:
        if call.model.provider != aims.outage_provider or call.cache_hit or call.blocked:
            return call
        if rng.random() >= OUTAGE_ERROR_SHARE:
            return call
        status = rng.choices((503, 502, 408), weights=(45, 25, 30))[0]
        return failed(call, status, error_duration(status, rng))

    return Overlay(alter=alter)


def _cost_runaway(world: World, rate: float, aims: Targets) -> Overlay:
    team = world.team_population(aims.runaway_team)

    def more(rng: Random) -> Call:
        return ordinary_call(world, team.pick(rng), rng)

    def alter(call: Call, rng: Random) -> Call:
        if call.team is None or call.team.name != aims.runaway_team or call.status != 200:
            return call
        size = RUNAWAY_SIZE
        return replace(
            call,
            prompt_tokens=int(call.prompt_tokens * size), completion_tokens=int(call.completion_tokens * size),
            cached_tokens=int(call.cached_tokens * size), reasoning_tokens=int(call.reasoning_tokens * size),
            duration=call.duration * (1.0 if call.cache_hit else 2.0),
        )

    stream = Stream("runaway", (RUNAWAY_VOLUME - 1.0) * rate * team.share, more)
    return Overlay(streams=(stream,), alter=alter)


def _prompt_injection_burst(world: World, rate: float, aims: Targets) -> Overlay:
    actor = world.actor(aims.injection_app)
    app = actor.app
    team = actor.team
    required = [g for g in (team.required_guardrails if team else ()) if guardrail_kind(world.spec, g)
                == "prompt_injection"]
    litellm_guard = required[0] if required else "lakera-prompt-injection"

    def attack(rng: Random) -> Call:
        call = ordinary_call(world, actor, rng)
        via_kong = rng.random() < 0.5
        name = "lakera-guard" if via_kong else litellm_guard
        block = GuardrailRun(name, "prompt_injection", "pre_call", "guardrail_intervened",
                             rng.uniform(0.02, 0.05), blocked=True)
        call = replace(call, guardrails=(block,), contact_in_prompt=False)
        if via_kong and app is not None:
            call = replace(call, gateway="kong", key_alias=kong_consumer(app), legacy=False)
        return failed(call, 400, rng.uniform(0.03, 0.08))

    burst = max(INJECTION_BURST * rate * actor.share, 0.1 * rate)
    return Overlay(streams=(Stream("injection", burst, attack, shaped=False),))


def _pii_leak(world: World, rate: float, aims: Targets) -> Overlay:
    spec = world.spec
    actor = world.actor(aims.pii_app)
    team = actor.team
    pii = [g for g in (team.required_guardrails if team else ()) if guardrail_kind(spec, g) == "pii"]
    name = pii[0] if pii else "presidio-pii"

    def alter(call: Call, rng: Random) -> Call:
        if (call.actor != aims.pii_app or call.status != 200 or call.cache_hit or call.operation != "chat"
                or rng.random() >= PII_LEAK_SHARE):
            return call
        counts = {"EMAIL_ADDRESS": rng.randint(1, 4), "PHONE_NUMBER": rng.randint(1, 3),
                  "US_SSN": rng.randint(0, 1), "CREDIT_CARD": rng.randint(0, 1)}
        found = GuardrailRun(name, "pii", "post_call", "guardrail_intervened", rng.uniform(0.01, 0.03),
                             masked=tuple((k, n) for k, n in counts.items() if n))
        return replace(call, guardrails=(*call.guardrails, found), contact_in_answer=True)

    return Overlay(alter=alter)


def _key_compromise(world: World, rate: float, aims: Targets) -> Overlay:
    actor = world.actor(aims.compromised_app)
    allowed = {m.name for m in actor.models}
    forbidden = [m for m in world.spec.models if m.name not in allowed and not is_embedding(m)]

    def abuse(rng: Random) -> Call:
        model = rng.choice(forbidden) if forbidden and rng.random() < COMPROMISE_UNAPPROVED_SHARE else None
        call = ordinary_call(world, actor, rng, model=model or _chat_model(actor, rng))
        net = rng.choice(("203.0.113", "198.51.100", "192.0.2"))
        call = replace(call, key_alias=actor.primary_alias, client_ip=f"{net}.{rng.randint(1, 254)}",
                       user_agent=rng.choice(_ATTACKER_AGENTS), end_user=None, classification=None,
                       contact_in_prompt=False, legacy=False)
        if call.status != 200:
            return call
        return replace(call, prompt_tokens=call.prompt_tokens * 3, cached_tokens=0)

    return Overlay(streams=(Stream("compromise", COMPROMISE_VOLUME * rate * actor.share, abuse, shaped=False),))


def _runaway_loop(world: World, rate: float, aims: Targets) -> Overlay:
    actor = world.actor(aims.loop_app)
    chat = [m for m in actor.models if not is_embedding(m)] or list(actor.models)
    model = chat[0]
    prompt = int(actor.prompt_mean)
    ttft, tokens_per_second = latency_profile(model)

    def repeat(rng: Random) -> Call:
        call = ordinary_call(world, actor, rng, model=model)
        call = replace(call, key_alias=actor.primary_alias, prompt_seed=0, contact_in_prompt=False)
        if call.status != 200:
            return call
        output = rng.randint(12, 16)
        return replace(call, prompt_tokens=prompt + rng.randint(0, 3), completion_tokens=output, cached_tokens=0,
                       reasoning_tokens=0, cache_hit=False, stream=False, ttft=None,
                       duration=ttft * rng.uniform(0.9, 1.1) + output / tokens_per_second)

    loop = Stream("loop", (LOOP_VOLUME - 1.0) * rate * actor.share, repeat, even=True, shaped=False)
    return Overlay(streams=(loop,))


def _latency_degradation(world: World, rate: float, aims: Targets) -> Overlay:
    def alter(call: Call, rng: Random) -> Call:
        if call.model.name != aims.slow_model or call.status != 200 or call.cache_hit:
            return call
        factor = rng.uniform(*SLOWDOWN)
        return replace(call, duration=call.duration * factor,
                       ttft=call.ttft * factor if call.ttft is not None else None)

    return Overlay(alter=alter)


def _chat_model(actor: Actor, rng: Random) -> Model | None:
    model = pick_model(actor, rng)
    return None if is_embedding(model) else model


_BUILDERS: dict[str, Callable[[World, float, Targets], Overlay]] = {
    "provider_outage": _provider_outage,
    "cost_runaway": _cost_runaway,
    "prompt_injection_burst": _prompt_injection_burst,
    "pii_leak": _pii_leak,
    "key_compromise": _key_compromise,
    "runaway_loop": _runaway_loop,
    "latency_degradation": _latency_degradation,
}
