"""Who sends traffic and what one ordinary request looks like, derived from the spec.

``World`` turns the spec into actors: every spec app (weighted, on LiteLLM or Kong), a few key
aliases the spec does not know, and keys with no team at all. ``ordinary_call`` draws one
request of an actor: an approved model, token counts, streaming, latency, an outcome (a healthy
day: every error kind present but rare), cache hits, and the guardrails the team requires. A
``Call`` is the request before it is dressed as a gateway record (``records.py`` does that).
"""

from __future__ import annotations

import fnmatch
import math
from bisect import bisect
from dataclasses import dataclass, replace
from itertools import accumulate
from random import Random

from contract.spec import App, Model, Spec, Team

# Shares of ordinary traffic that do not come from spec apps.
UNKNOWN_ALIAS_SHARE = 0.02
NO_TEAM_SHARE = 0.01
UNKNOWN_ALIASES = ("jdoe-notebook", "tmp-key-7f3a", "ci-smoke-test", "hackathon-bot", "legacy-etl")

# Ordinary error mix (cumulative thresholds on one uniform draw): 0.06 % provider 429, 0.04 %
# timeouts, 0.05 % provider 503, 1 % client 400. A healthy day must page nobody: the outcomes
# that burn an availability budget (429, 408, 503: 0.15 % together) stay well inside the
# tightest one in the example spec (99.5 %: 0.5 %); client errors count neither way.
_ERRORS = ((0.0006, 429), (0.0010, 408), (0.0015, 503), (0.0115, 400))
CACHE_HIT_SHARE = 0.06
INJECTION_ATTEMPT_SHARE = 0.003   # ordinary background of blocked prompt attacks
PII_FOUND_SHARE = 0.12            # prompts in which the PII guardrail masks something
LEGACY_LITELLM_SHARE = 0.02       # old payloads without status_fields / guardrail_information
LEGACY_KONG_SHARE = 0.05          # Kong's older ``ai-proxy`` section with ``cost_request``

# Model latency: (time to first token in seconds, output tokens per second).
_LATENCY = {
    "gpt-4o": (0.45, 70.0),
    "gpt-4o-mini": (0.30, 95.0),
    "o3": (1.2, 60.0),
    "claude-sonnet-4": (0.50, 55.0),
    "claude-haiku-3-5": (0.35, 110.0),
    "gemini-2.5-pro": (0.70, 80.0),
    "gemini-2.5-flash": (0.30, 160.0),
}
_DEFAULT_LATENCY = (0.5, 70.0)
_USER_AGENTS = ("openai-python/1.54.0", "litellm/1.55.2", "langchain-openai/0.2.9", "OpenAI/NodeJS/4.73.0",
                "anthropic-python/0.40.0")
_PII_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON")


@dataclass(frozen=True, slots=True)
class GuardrailRun:
    """One guardrail evaluation, in LiteLLM's terms (Kong's plugins are mapped from ``kind``)."""

    name: str
    kind: str     # "pii", "prompt_injection", or another spec guardrail kind
    mode: str     # "pre_call" (input) or "post_call" (output)
    status: str   # "success", "guardrail_intervened" or "guardrail_failed_to_respond"
    duration: float
    masked: tuple[tuple[str, int], ...] = ()
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """One gateway request before it is shaped as a record. Failed calls carry zero tokens."""

    actor: str                 # the app name (or unknown alias) that sent it; "" for a no-team key
    gateway: str               # "litellm" or "kong"
    team: Team | None
    team_id: str | None
    team_alias: str | None
    key_alias: str | None      # LiteLLM key alias, or the Kong consumer username
    user_id: str
    end_user: str | None
    client_ip: str
    user_agent: str
    model: Model
    operation: str             # "chat" or "embeddings"
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    duration: float
    ttft: float | None
    status: int = 200          # 200, or the error: 400, 408, 429, 502, 503
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_hit: bool = False
    guardrails: tuple[GuardrailRun, ...] = ()
    classification: str | None = None
    legacy: bool = False
    contact_in_prompt: bool = False
    contact_in_answer: bool = False
    prompt_seed: int | None = None   # set when the prompt text must repeat exactly

    @property
    def blocked(self) -> bool:
        return any(g.blocked for g in self.guardrails)


@dataclass(frozen=True, slots=True)
class Actor:
    label: str
    app: App | None
    team: Team | None
    gateway: str
    key_aliases: tuple[str | None, ...]
    models: tuple[Model, ...]
    model_weights: tuple[float, ...]   # cumulative
    share: float                       # of ordinary traffic
    interactive: bool
    prompt_mean: float
    completion_mean: float
    index: int
    user_agent: str

    @property
    def primary_alias(self) -> str | None:
        return self.key_aliases[0]


@dataclass(frozen=True, slots=True)
class Population:
    """Actors to draw from, each by its share; ``share`` is their total share of traffic."""

    actors: tuple[Actor, ...]
    cumulative: tuple[float, ...]
    share: float

    @classmethod
    def of(cls, actors: tuple[Actor, ...]) -> Population:
        return cls(actors, tuple(accumulate(a.share for a in actors)), sum(a.share for a in actors))

    def pick(self, rng: Random) -> Actor:
        index = bisect(self.cumulative, rng.random() * self.share)
        return self.actors[min(index, len(self.actors) - 1)]


@dataclass(frozen=True, slots=True)
class World:
    spec: Spec
    actors: tuple[Actor, ...]
    everyone: Population

    def actor(self, label: str) -> Actor:
        for actor in self.actors:
            if actor.label == label:
                return actor
        raise KeyError(label)

    def team_population(self, team: str) -> Population:
        return Population.of(tuple(a for a in self.actors if a.team is not None and a.team.name == team))


def approved_models(spec: Spec, team: Team | None) -> tuple[Model, ...]:
    patterns = team.approved_models if team is not None else ("*",)
    return tuple(m for m in spec.models if any(fnmatch.fnmatchcase(m.name, p) for p in patterns))


def is_embedding(model: Model) -> bool:
    return "embed" in model.name or model.family == "embeddings"


def is_reasoning(model: Model) -> bool:
    return model.family == "o-series" or (len(model.name) > 1 and model.name[0] == "o" and model.name[1].isdigit())


def guardrail_kind(spec: Spec, name: str) -> str:
    return next((g.kind for g in spec.guardrails if g.name == name), "other")


def kong_apps(spec: Spec) -> frozenset[str]:
    """Apps that reach their models through Kong, as consumers named after an app alias.

    Every other app of the teams that require no guardrail: Kong's guardrail plugins report
    under their own names (``lakera-guard``, ``sanitizer``), so a team that requires LiteLLM's
    guardrails stays on LiteLLM in ordinary traffic, as it would in a real deployment.
    """
    free = [a for a in spec.apps if not _team_of(spec, a).required_guardrails]
    chosen = free[1::2] or spec.apps[2::3]
    return frozenset(a.name for a in chosen)


def kong_consumer(app: App) -> str:
    return app.aliases[-1] if app.aliases else app.name


def team_ids(team: Team) -> tuple[str, tuple[str, ...]]:
    """(LiteLLM team id, the aliases LiteLLM may report as the team alias)."""
    if team.aliases:
        return team.aliases[0], (team.name, *team.aliases[1:])
    return team.name, (team.name,)


def _team_of(spec: Spec, app: App) -> Team:
    return spec.team(app.team)


def build_world(spec: Spec, seed: int) -> World:
    """The actors of ``spec``; weights and per-actor habits are fixed by ``seed``."""
    on_kong = kong_apps(spec)
    drafts: list[tuple[str, App | None, Team | None, str, tuple[str | None, ...], bool, float]] = []
    for declared in spec.apps:
        weight = 1.0 + 3.0 * Random(f"{seed}:weight:{declared.name}").random()
        gateway = "kong" if declared.name in on_kong else "litellm"
        keys = (kong_consumer(declared),) if gateway == "kong" else (*declared.aliases, declared.name)
        drafts.append((declared.name, declared, _team_of(spec, declared), gateway, keys, declared.interactive, weight))
    app_total = sum(d[-1] for d in drafts) or 1.0
    actors: list[Actor] = []
    scale = (1.0 - UNKNOWN_ALIAS_SHARE - NO_TEAM_SHARE) / app_total
    rows = [(*d[:-1], d[-1] * scale) for d in drafts]
    for alias in UNKNOWN_ALIASES:
        guessed = Random(f"{seed}:unknown:{alias}").choice(spec.teams)
        rows.append((alias, None, guessed, "litellm", (alias,), True, UNKNOWN_ALIAS_SHARE / len(UNKNOWN_ALIASES)))
    rows.append(("", None, None, "litellm", (None,), True, NO_TEAM_SHARE))
    for index, (label, app, team, gateway, aliases, interactive, share) in enumerate(rows):
        habits = Random(f"{seed}:habits:{label}")
        models = approved_models(spec, team) or spec.models
        if team is None:  # keys with no team: cheap chat models and embeddings
            models = tuple(m for m in spec.models if is_embedding(m) or m.price.output_per_mtok <= 1.0) or models
        weights = [_model_weight(m) * habits.uniform(0.5, 1.5) for m in models]
        prompt_mean = habits.uniform(300, 1800) if interactive else habits.uniform(1000, 3000)
        actors.append(
            Actor(
                label=label, app=app, team=team, gateway=gateway, key_aliases=aliases,
                models=models, model_weights=tuple(accumulate(weights)), share=share,
                interactive=interactive, prompt_mean=prompt_mean,
                completion_mean=habits.uniform(120, 450), index=index,
                user_agent=habits.choice(_USER_AGENTS),
            )
        )
    frozen = tuple(actors)
    return World(spec, frozen, Population.of(frozen))


def _model_weight(model: Model) -> float:
    if is_embedding(model):
        return 0.3
    price = model.price
    return 1.0 / (1.0 + price.input_per_mtok + price.output_per_mtok / 4.0)


def pick_model(actor: Actor, rng: Random) -> Model:
    index = bisect(actor.model_weights, rng.random() * actor.model_weights[-1])
    return actor.models[min(index, len(actor.models) - 1)]


def latency_profile(model: Model) -> tuple[float, float]:
    return _LATENCY.get(model.name, _DEFAULT_LATENCY)


def lognormal(rng: Random, mean: float, sigma: float) -> float:
    """A log-normal draw whose mean (not median) is ``mean``."""
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2.0, sigma)


def ordinary_call(world: World, actor: Actor, rng: Random, *, model: Model | None = None) -> Call:
    """One request of ``actor`` as it looks on an ordinary day."""
    team = actor.team
    model = model or pick_model(actor, rng)
    embedding = is_embedding(model)
    team_id = team_alias = None
    if team is not None:
        team_id, alias_choices = team_ids(team)
        team_alias = rng.choice(alias_choices)
    key_alias = rng.choice(actor.key_aliases)
    end_user = f"cust-{rng.randint(10000, 99999)}" if actor.interactive and rng.random() < 0.3 else None
    classification = None
    # A team not cleared for the default level labels every request, or it would be in breach.
    if team is not None and team.classifications and (
            rng.random() < 0.75 or world.spec.classification.default not in team.classifications):
        # Lower levels are the common case; every level the team may use appears.
        levels = team.classifications
        classification = levels[min(int(rng.expovariate(1.2)), len(levels) - 1)]

    prompt = max(8, int(lognormal(rng, actor.prompt_mean * (0.6 if embedding else 1.0), 0.7)))
    completion = 0 if embedding else max(1, int(lognormal(rng, actor.completion_mean, 0.6)))
    reasoning = 0
    if is_reasoning(model):
        completion *= 3
        reasoning = int(completion * rng.uniform(0.5, 0.85))
    cached = 0
    if (actor.gateway == "litellm" and not embedding and model.price.cached_input_per_mtok is not None
            and prompt >= 1024 and rng.random() < 0.3):
        cached = int(prompt * rng.uniform(0.3, 0.9)) // 128 * 128
    stream = not embedding and rng.random() < (0.65 if actor.interactive else 0.1)
    ttft_base, tokens_per_second = latency_profile(model)
    if embedding:
        ttft, duration = None, 0.04 + prompt / 40000.0 * lognormal(rng, 1.0, 0.3)
    else:
        first = ttft_base * lognormal(rng, 1.0, 0.25) + reasoning / tokens_per_second
        duration = first + (completion - reasoning) / tokens_per_second * lognormal(rng, 1.0, 0.2)
        ttft = first if stream else None

    guardrails, contact = _guardrails(world, team, rng)
    call = Call(
        actor=actor.label, gateway=actor.gateway, team=team, team_id=team_id, team_alias=team_alias,
        key_alias=key_alias, user_id=f"u-{actor.index}-{rng.randint(1, 20)}", end_user=end_user,
        client_ip=f"10.{20 + actor.index // 250}.{actor.index % 250}.{rng.randint(2, 40)}",
        user_agent=actor.user_agent, model=model, operation="embeddings" if embedding else "chat",
        stream=stream, prompt_tokens=prompt, completion_tokens=completion, duration=duration, ttft=ttft,
        cached_tokens=cached, reasoning_tokens=reasoning, guardrails=guardrails,
        classification=classification, contact_in_prompt=contact or rng.random() < 0.25,
        legacy=rng.random() < (LEGACY_KONG_SHARE if actor.gateway == "kong" else LEGACY_LITELLM_SHARE)
        and not (team and team.required_guardrails),
    )
    if any(g.blocked for g in guardrails):
        return failed(call, 400, rng.uniform(0.03, 0.08))
    draw = rng.random()
    for threshold, status in _ERRORS:
        if draw < threshold:
            return failed(call, status, error_duration(status, rng))
    if not embedding and rng.random() < CACHE_HIT_SHARE:
        return replace(call, cache_hit=True, stream=False, ttft=None, cached_tokens=0, duration=rng.uniform(0.01, 0.04))
    return call


def _guardrails(world: World, team: Team | None, rng: Random) -> tuple[tuple[GuardrailRun, ...], bool]:
    """The pre-call evaluations of the team's required guardrails; True when PII was masked.

    Every guardrail answers: one that does not (a fail-open) pages security, so it belongs to an
    incident, never to ordinary traffic.
    """
    if team is None:
        return (), False
    runs: list[GuardrailRun] = []
    masked_pii = False
    for name in team.required_guardrails:
        kind = guardrail_kind(world.spec, name)
        if kind == "pii" and rng.random() < PII_FOUND_SHARE:
            masked_pii = True
            runs.append(GuardrailRun(name, kind, "pre_call", "guardrail_intervened", rng.uniform(0.008, 0.02),
                                     masked=pii_counts(rng)))
        elif kind == "prompt_injection" and rng.random() < INJECTION_ATTEMPT_SHARE:
            runs.append(GuardrailRun(name, kind, "pre_call", "guardrail_intervened", rng.uniform(0.02, 0.05),
                                     blocked=True))
        else:
            runs.append(GuardrailRun(name, kind, "pre_call", "success", rng.uniform(0.005, 0.04)))
    return tuple(runs), masked_pii


def pii_counts(rng: Random) -> tuple[tuple[str, int], ...]:
    counts = {"EMAIL_ADDRESS": rng.randint(1, 2), "PHONE_NUMBER": rng.randint(0, 1), "PERSON": rng.randint(0, 2)}
    return tuple((k, n) for k, n in counts.items() if n)


def error_duration(status: int, rng: Random) -> float:
    if status == 408:
        return rng.choice((30.0, 45.0, 60.0)) + rng.uniform(0.0, 0.5)
    if status == 429:
        return rng.uniform(0.1, 0.4)
    if status in (502, 503):
        return rng.uniform(0.5, 2.5)
    return rng.uniform(0.05, 0.3)


def failed(call: Call, status: int, duration: float) -> Call:
    """``call`` answered with ``status``: no tokens, no first token, output guardrails never ran."""
    return replace(
        call, status=status, duration=duration, ttft=None, prompt_tokens=0, completion_tokens=0,
        cached_tokens=0, reasoning_tokens=0, cache_hit=False, contact_in_answer=False,
        guardrails=tuple(g for g in call.guardrails if g.mode == "pre_call"),
    )
