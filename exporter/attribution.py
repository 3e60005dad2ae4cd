"""Attribution: which team and app a request belongs to, and its data classification.

The spec says which record fields to read per dialect (first non-empty wins) and maps raw
values (team ids, aliases, key aliases, Kong consumers) to canonical names. A known app implies
its team, which is how a Kong consumer is attributed. A request naming no team at all is
``__unassigned__``: visible, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.catalog import UNASSIGNED
from contract.spec import Spec
from exporter.labels import LabelBound


@dataclass(frozen=True, slots=True)
class Attribution:
    team: str
    app: str
    classification: str
    # True when the team is one the spec declares (policies apply only to those).
    known_team: bool


class Attributor:
    def __init__(self, spec: Spec, teams: LabelBound, apps: LabelBound) -> None:
        self._teams = teams
        self._apps = apps
        self._team_by_alias = {alias: t.name for t in spec.teams for alias in (t.name, *t.aliases)}
        self._app_by_alias = {alias: (a.name, a.team) for a in spec.apps for alias in (a.name, *a.aliases)}
        self._known_teams = frozenset(t.name for t in spec.teams)
        self._team_paths = {fmt: rule.team for fmt, rule in spec.attribution.items()}
        self._app_paths = {fmt: rule.app for fmt, rule in spec.attribution.items()}
        self._class_paths = dict(spec.classification.sources)
        self._levels = frozenset(spec.classification.levels)
        self._default_level = spec.classification.default
        # Unknown classification strings count as the most sensitive level: a typo in a
        # record's label must not let restricted data through as if it were public.
        self._unknown_level = spec.classification.levels[-1]

    def attribute_paths(self) -> frozenset[str]:
        """Every record field the rules read: what adapters must copy into attributes."""
        paths = [*self._class_paths.values(), *self._team_paths.values(), *self._app_paths.values()]
        return frozenset(p for group in paths for p in group)

    def resolve(self, fmt: str, attributes: dict[str, str]) -> Attribution:
        raw_team = raw_app = None
        team = app = None
        for path in self._team_paths.get(fmt, ()):
            value = attributes.get(path)
            if value:
                team = self._team_by_alias.get(value)
                if team is not None:
                    break
                raw_team = raw_team or value
        for path in self._app_paths.get(fmt, ()):
            value = attributes.get(path)
            if value:
                known = self._app_by_alias.get(value)
                if known is not None:
                    app, owner = known
                    team = team or owner
                    break
                raw_app = raw_app or value
        if team is None:
            team = self._teams(raw_team) if raw_team else UNASSIGNED
        if app is None:
            app = self._apps(raw_app) if raw_app else UNASSIGNED
        return Attribution(team, app, self._classification(fmt, attributes), team in self._known_teams)

    def _classification(self, fmt: str, attributes: dict[str, str]) -> str:
        for path in self._class_paths.get(fmt, ()):
            value = attributes.get(path)
            if value:
                level = value.strip().lower()
                return level if level in self._levels else self._unknown_level
        return self._default_level
