"""Traffic generation: timed gateway records for a spec, a scenario and a rate.

Arrivals are Poisson (people) or evenly spaced (machines), optionally shaped by a diurnal
curve; every stream draws from its own seeded generator, so a seed fixes the whole run and the
ordinary traffic is the same in every scenario.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass
from random import Random
from typing import Any

from contract.spec import Spec
from simulate.records import build
from simulate.scenarios import SCENARIOS, Overlay, Stream, overlay
from simulate.world import World, build_world, ordinary_call

__all__ = ["SCENARIOS", "SimRecord", "diurnal_factor", "generate"]

DAY = 86_400.0
_WEEKDAY, _WEEKEND = 1.1, 0.75      # 5 x 1.1 + 2 x 0.75 = 7: the weekly mean stays 1
_SWING = 0.6                        # +-60 % around the daily mean, peak 15:00 UTC
_PEAK = _WEEKDAY * (1.0 + _SWING)


@dataclass(frozen=True, slots=True)
class SimRecord:
    fmt: str              # "litellm" | "kong"
    payload: dict[str, Any]  # the record exactly as the gateway would log it
    at: float             # unix seconds when it is sent/happens


def diurnal_factor(t: float) -> float:
    """Traffic relative to the mean at unix time ``t``: a daily wave, quieter weekends."""
    day = int(t // DAY)
    weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    hour = (t - day * DAY) / 3600.0
    return (_WEEKEND if weekend else _WEEKDAY) * (1.0 + _SWING * math.cos(2.0 * math.pi * (hour - 15.0) / 24.0))


def generate(
    spec: Spec,
    scenario: str,
    *,
    start: float,
    duration: float,
    rate: float,
    seed: int = 1,
    incident_after: float = 0.0,
    diurnal: bool = False,
    text: bool = True,
) -> Iterator[SimRecord]:
    """Records in time order from ``start`` for ``duration`` seconds (0: without end).

    ``rate`` is ordinary records per second on average; the scenario's incident starts at
    ``start + incident_after`` and adds to it. ``text=False`` leaves prompt and answer text
    out (the records are otherwise identical), for callers that only count them.
    """
    if rate < 0 or duration < 0 or incident_after < 0:
        raise ValueError("rate, duration and incident_after must not be negative")
    world = build_world(spec, seed)
    incident = overlay(scenario, world, rate)  # raises now, not at the first record, on a bad name
    return _records(world, incident, start=start, duration=duration, rate=rate, seed=seed,
                    incident_after=incident_after, diurnal=diurnal, text=text)


def _records(world: World, incident: Overlay, *, start: float, duration: float, rate: float, seed: int,
             incident_after: float, diurnal: bool, text: bool) -> Iterator[SimRecord]:
    end = start + duration if duration > 0 else math.inf
    ordinary = Stream("ordinary", rate, lambda rng: ordinary_call(world, world.everyone.pick(rng), rng))
    streams = (ordinary, *incident.streams)
    incident_start = start + incident_after
    timelines = [
        _arrivals(s, i, Random(f"{seed}:{s.name}:times"), begin=start if i == 0 else incident_start, end=end,
                  diurnal=diurnal)
        for i, s in enumerate(streams)
    ]
    callers = [Random(f"{seed}:{s.name}:calls") for s in streams]
    alter_rng = Random(f"{seed}:incident")
    text_rng = Random(f"{seed}:text") if text else None
    prefix = hashlib.sha256(f"{seed}:{start!r}".encode()).hexdigest()[:8]
    for number, (at, index) in enumerate(heapq.merge(*timelines)):
        call = streams[index].make(callers[index])
        if incident.alter is not None and at >= incident_start:
            call = incident.alter(call, alter_rng)
        record_id = f"{prefix}{number:024x}" if call.gateway == "kong" else f"chatcmpl-{prefix}-{number:010d}"
        fmt, payload = build(call, at, record_id, number, text_rng)
        yield SimRecord(fmt, payload, at)


def _arrivals(stream: Stream, index: int, rng: Random, *, begin: float, end: float,
              diurnal: bool) -> Iterator[tuple[float, int]]:
    if stream.rate <= 0 or begin >= end:
        return
    if stream.even:
        step = 1.0 / stream.rate
        k = 1
        while (t := begin + k * step) < end:
            yield t, index
            k += 1
        return
    shaped = diurnal and stream.shaped
    peak = _PEAK if shaped else 1.0
    t = begin
    while True:
        t += rng.expovariate(stream.rate * peak)
        if t >= end:
            return
        # Thinning: a Poisson process at the peak rate, each arrival kept with the curve's odds.
        if not shaped or rng.random() * peak < diurnal_factor(t):
            yield t, index
