"""The cardinality guard: every label value is bounded before it reaches a metric.

A label admits the values the spec names, plus the first ``limit`` other values it sees
(persisted, so a restart admits the same ones). Anything else folds into ``__other__``, and so
does any value that looks like something a label must never carry (an email, an IP address, a
key or token), whatever the limit. Folding changes the label, never the counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from contract.catalog import OTHER, UNASSIGNED

MAX_VALUE_LENGTH = 64

# Values that must never become labels. Deliberately broad: a false positive costs one
# value folded into __other__, a false negative leaks an identifier into every dashboard.
_FORBIDDEN = re.compile(
    r"@"                                          # emails
    r"|\b\d{1,3}(?:\.\d{1,3}){3}\b"               # IPv4
    r"|[0-9a-f]{0,4}:[0-9a-f]{0,4}:[0-9a-f:.]*"   # IPv6
    r"|^(?:sk|pk|rk|ak)[-_]"                      # provider API keys
    r"|^bearer\b|^eyj"                            # bearer tokens, JWTs
    r"|[0-9a-f]{20,}"                             # hex digests and raw key hashes
    r"|[a-z0-9_]{32,}",                           # long unbroken tokens
    re.IGNORECASE,
)
_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]*$")


def is_label_safe(value: str) -> bool:
    """True when ``value`` may be shown as a label: short, plain, and not an identifier."""
    return (
        0 < len(value) <= MAX_VALUE_LENGTH
        and _ALLOWED.match(value) is not None
        and _FORBIDDEN.search(value) is None
    )


class LabelBound:
    """Bounds one label's values. Calling it maps a raw value to the value to expose."""

    def __init__(
        self,
        label: str,
        known: Iterable[str],
        limit: int,
        on_fold: Callable[[str], None],
        admitted: Iterable[str] = (),
    ) -> None:
        self.label = label
        self.limit = limit
        self._on_fold = on_fold
        self._known = frozenset(known)
        self._admitted: list[str] = []
        self._cache: dict[str, str] = {v: v for v in self._known}
        self._cache[OTHER] = OTHER
        self._cache[UNASSIGNED] = UNASSIGNED
        for value in admitted:
            if len(self._admitted) >= limit:
                break
            if value not in self._cache and is_label_safe(value):
                self._admitted.append(value)
                self._cache[value] = value

    def __call__(self, value: str) -> str:
        found = self._cache.get(value)
        if found is not None:
            return found
        if len(self._admitted) < self.limit and is_label_safe(value):
            self._admitted.append(value)
            self._cache[value] = value
            return value
        # Folded values are not cached: attacker-chosen values must not grow memory either.
        self._on_fold(self.label)
        return OTHER

    @property
    def admitted(self) -> tuple[str, ...]:
        """Values admitted beyond the spec's, in order of arrival (what the state persists)."""
        return tuple(self._admitted)
