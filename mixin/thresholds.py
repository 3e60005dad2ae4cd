"""Thresholds as ``_config`` entries, found without restating any rule: the rules are rendered
once more from a spec whose thresholds are sentinel values, and wherever a sentinel appears
(and putting the real value back gives exactly the real rendering) it becomes a placeholder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec

from contract.spec import Spec


@dataclass(frozen=True, slots=True)
class Threshold:
    config_key: str
    section: str  # "alerting" or "slos"
    field: str
    sentinel: float  # distinctive in :g form, and valid for the field
    why: str


THRESHOLDS: tuple[Threshold, ...] = (
    Threshold("providerErrorRatio", "alerting", "provider_error_ratio", 0.0173917,
              "Share of a provider's requests failing over 5 minutes that pages."),
    Threshold("providerLatencyP95Seconds", "alerting", "provider_latency_p95_seconds", 17.3921,
              "A provider's p95 request duration that pages."),
    Threshold("guardrailBlockFactor", "alerting", "guardrail_block_factor", 1.73923,
              "An app's guardrail block rate, as a multiple of its trailing-day rate, that warns security."),
    Threshold("appVolumeFactor", "alerting", "app_volume_factor", 1.73929,
              "An app's request rate, as a multiple of its baseline, that warns of abuse."),
    Threshold("sensitiveEntitiesPerHour", "alerting", "sensitive_entities_per_hour", 173.931,
              "Sensitive entities an hour in one app's traffic that warn security."),
    Threshold("staleAfterSeconds", "alerting", "stale_after_seconds", 1739.37,
              "Seconds without a record, while the same hour yesterday was busy, before telemetry is stale."),
    Threshold("runawayLoopFactor", "alerting", "runaway_loop_factor", 1.73941,
              "A team's spend rate, as a multiple of its baseline, that looks like a runaway loop and pages."),
    Threshold("costAnomalyMinUSDPerHour", "alerting", "cost_anomaly_min_usd_per_hour", 1.73947,
              "Spend an hour below which no cost anomaly is raised."),
    Threshold("minRequestsPerHour", "slos", "min_requests_per_hour", 173.953,
              "Requests an hour below which SLO and provider alerts stay silent."),
)


def defaults(spec: Spec) -> dict[str, float]:
    return {t.config_key: getattr(getattr(spec, t.section), t.field) for t in THRESHOLDS}


def with_values(spec: Spec, values: dict[str, float]) -> Spec:
    """``spec`` with the thresholds named by config key set to ``values``."""
    changes: dict[str, dict[str, float]] = {}
    for threshold in THRESHOLDS:
        if threshold.config_key in values:
            changes.setdefault(threshold.section, {})[threshold.field] = float(values[threshold.config_key])
    return msgspec.structs.replace(spec, **{
        section: msgspec.structs.replace(getattr(spec, section), **fields) for section, fields in changes.items()
    })


def sentinel_spec(spec: Spec) -> Spec:
    return with_values(spec, {t.config_key: t.sentinel for t in THRESHOLDS})


# Rules print a threshold in one of two ways: ``:g`` in prose ("20"), ``repr`` in some PromQL
# ("60.0"). The mixin has a placeholder for each; mixin.libsonnet derives the repr form.
REPR_SUFFIX = "Repr"


def template(real: str, sentinel: str, spec: Spec) -> str:
    """``sentinel`` (the same string rendered from the sentinel spec) with each sentinel made a
    placeholder, when that reproduces ``real`` exactly; otherwise ``real`` as it is (escaped)."""
    if real == sentinel:
        return real.replace("%", "%%")
    by_mark = {f"{t.sentinel:g}": t for t in THRESHOLDS}
    pieces = re.split("(" + "|".join(map(re.escape, by_mark)) + ")", sentinel)
    text, position = pieces[0].replace("%", "%%"), len(pieces[0])
    if not real.startswith(pieces[0]):
        return real.replace("%", "%%")
    for mark, literal in zip(pieces[1::2], pieces[2::2], strict=True):
        threshold = by_mark[mark]
        value = getattr(getattr(spec, threshold.section), threshold.field)
        forms = sorted([(f"{value:g}", threshold.config_key), (repr(value), threshold.config_key + REPR_SUFFIX)],
                       key=lambda pair: len(pair[0]), reverse=True)
        for form, key in forms:
            if real.startswith(form + literal, position):
                text += f"%({key})s" + literal.replace("%", "%%")
                position += len(form) + len(literal)
                break
        else:
            return real.replace("%", "%%")
    return text if position == len(real) else real.replace("%", "%%")


def pairwise(real: Any, sentinel: Any) -> list[tuple[Any, Any]]:
    """Guard for walking the two renderings together: they must have one shape."""
    if type(real) is not type(sentinel) or (isinstance(real, list | dict) and len(real) != len(sentinel)):
        raise ValueError("the sentinel rendering changed the rules' shape")
    if isinstance(real, dict):
        return [(real[k], sentinel[k]) for k in real]
    return list(zip(real, sentinel, strict=True))
