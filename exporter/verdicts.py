"""The review verdict store: security operations' judgement of guardrail findings.

``python -m reports review import`` writes it into the exporter's state directory; the exporter
reads it (when its modification time changes, checked at every scrape, and on SIGHUP) and
exposes the verdict counts per guardrail. The store holds review ids, bounded label values
(guardrail names, stage), the ISO week and time of the finding, the verdict and, when given, the
reviewer's handle and when they judged: never a note, a request id or any request content.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec

from contract import catalog
from contract.spec import Spec
from exporter.state import StateStore
from exporter.state_feed import StateFileFeed

STORE = "review-verdicts.json"
VERDICTS = catalog.REVIEW_VERDICTS_KINDS
REVIEW_ID = re.compile(r"^rv-[0-9a-f]{16}$")
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
# A handle such as "j-doe" or "secops.alice": never an email, which the state directory may not hold.
REVIEWER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Verdict(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    guardrail: str
    stage: str
    week: str  # ISO week of the finding, YYYY-Www
    time: str  # the finding's time, ISO 8601 UTC
    verdict: str  # one of VERDICTS
    reviewer: str | None = None
    reviewed_at: str | None = None


class Store(msgspec.Struct, kw_only=True):
    version: int = 1
    verdicts: dict[str, Verdict] = {}


class StoreError(ValueError):
    """The store file exists but cannot be used; the message names the file."""


def week_start(week: str) -> datetime:
    """Monday 00:00 UTC of ISO week ``YYYY-Www``; ValueError when there is no such week."""
    found = WEEK.match(week)
    if not found:
        raise ValueError(f"expected an ISO week like 2026-W48, got {week!r}")
    day = date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def week_of(moment: datetime) -> str:
    year, number, _ = moment.astimezone(UTC).isocalendar()
    return f"{year:04d}-W{number:02d}"


def path_in(state_dir: str | Path) -> Path:
    return Path(state_dir) / STORE


def load(state_dir: str | Path) -> Store:
    """The store in ``state_dir``; an empty one when there is none yet."""
    path = path_in(state_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Store()
    except OSError as err:
        raise StoreError(f"cannot read {path}: {err.strerror}") from None
    try:
        store = msgspec.json.decode(data, type=Store)
    except msgspec.DecodeError as err:
        raise StoreError(f"{path} is not a verdict store: {err}") from None
    for review_id, verdict in store.verdicts.items():
        if not REVIEW_ID.match(review_id) or verdict.verdict not in VERDICTS or not _is_week(verdict.week):
            raise StoreError(f"{path}: entry {review_id!r} is not a review id with a verdict and an ISO week")
    return store


def _is_week(text: str) -> bool:
    try:
        week_start(text)
    except ValueError:
        return False
    return True


def save(state_dir: str | Path, store: Store) -> None:
    """Replace the store atomically: the exporter reads the old file or the new one, never a mix."""
    ordered = Store(version=store.version, verdicts=dict(sorted(store.verdicts.items())))
    text = msgspec.json.format(msgspec.json.encode(ordered), indent=1) + b"\n"
    StateStore(state_dir).write(text, STORE)


def window(store: Store, weeks: int) -> tuple[str, ...]:
    """The most recent ``weeks`` ISO weeks holding any verdict, oldest first.

    The window follows review, not the clock: a store left alone keeps its figures, and a
    guardrail tuned in week N recovers as weeks after N are reviewed.
    """
    return tuple(sorted({v.week for v in store.verdicts.values()})[-weeks:]) if weeks > 0 else ()


def counts(verdicts: Iterable[Verdict], known: Iterable[str]) -> dict[tuple[str, str], int]:
    """Verdicts by (guardrail, verdict). Guardrails outside ``known`` (the spec's names) fold into
    ``__other__``; every guardrail present gets all three verdicts, zeros included, so a ratio
    over them never misses a term."""
    names = set(known)
    found = Counter((v.guardrail if v.guardrail in names else catalog.OTHER, v.verdict) for v in verdicts)
    guardrails = {guardrail for guardrail, _ in found}
    return {(g, kind): found.get((g, kind), 0) for g in sorted(guardrails) for kind in VERDICTS}


def window_counts(store: Store, spec: Spec) -> dict[tuple[str, str], int]:
    weeks = set(window(store, spec.review.window_weeks))
    return counts((v for v in store.verdicts.values() if v.week in weeks), (g.name for g in spec.guardrails))


def tolerated(spec: Spec) -> dict[str, float]:
    """Each spec guardrail's tolerated false-positive ratio; guardrails the spec does not name
    (folded into ``__other__``) are held to the review default."""
    ratios = {g.name: spec.review.tolerated_ratio(g) for g in spec.guardrails}
    ratios.setdefault(catalog.OTHER, spec.review.default_max_false_positive_ratio)
    return ratios


def gauges(store: Store | None, spec: Spec) -> dict[catalog.Metric, dict[tuple[str, ...], float]]:
    """The review gauges' series for ``store`` (None: no store yet, no verdicts)."""
    store = store if store is not None else Store()
    weeks = window(store, spec.review.window_weeks)
    return {
        catalog.REVIEW_TOLERATED_RATIO: {(g,): r for g, r in tolerated(spec).items()},
        catalog.REVIEW_VERDICTS: {key: float(n) for key, n in window_counts(store, spec).items()},
        catalog.REVIEW_LATEST_WEEK: {(): week_start(weeks[-1]).timestamp()} if weeks else {},
    }


class VerdictGauges(StateFileFeed[Store]):
    """Keeps the review gauges in step with the store in ``state_dir`` (None: no store)."""

    def __init__(self, state_dir: str | Path | None) -> None:
        super().__init__(path_in(state_dir) if state_dir is not None else None,
                         lambda path: load(path.parent), gauges, "review verdict store")
