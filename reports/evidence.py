"""Evidence for compliance controls, evaluated live: one function per evidence kind.

Each evaluator takes the sources (Prometheus, the spec, the audit log, the state directory with
the review verdict store, the generated build directory) and the control's threshold, and
returns ``Evidence``: pass, fail or no_evidence, the measured value, the threshold, and the exact
query or file check that produced the value. A source that is not given or not there yields
no_evidence with the reason, never an exception; only an unreachable or
refusing Prometheus is an error (``ReportError``), since every period needs it.

Counter figures are exact increases over the period (reports/counters.py, as chargeback):
``exact_increase(selector)`` in a query stands for that computation over the report's period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml

from contract import catalog
from contract.catalog import SENTINEL_TEAMS
from contract.promql import FORWARDED_OUTCOME, excludes, matches, sentinel
from contract.spec import EVIDENCE_THRESHOLDS, Spec
from exporter import verdicts
from exporter.audit import Verification, verify
from exporter.audit.files import day_files
from reports.counters import Key, daily_increases
from reports.periods import Period
from reports.prometheus import PrometheusClient
from reports.review.findings import findings

PASS, FAIL, NO_EVIDENCE = "pass", "fail", "no_evidence"
AT_LEAST, AT_MOST = ">=", "<="
# Thresholds used when a control gives none (record_keeping: the spec's audit retention minimum;
# false_positive_ratio: each guardrail's tolerated ratio from the spec's review settings).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "guardrail_coverage": 0.99,
    "attribution": 0.05,
    "budget_owners": 0,
    "runbooks": 0,
    "unapproved_models": 0,
    "model_inventory": 0.0,
    "sensitive_followup": 0.95,
    "violations_resolved": 0.95,
}
# A violation counts as resolved when its team, app and policy saw none in the period's last days.
RESOLVED_QUIET_DAYS = 7


@dataclass(frozen=True, slots=True)
class Evidence:
    status: str
    value: float | None
    threshold: float | None
    comparison: str  # AT_LEAST or AT_MOST: how value must compare with threshold to pass
    unit: str  # share, count or days
    query: str
    detail: str  # what was measured, or why there is no evidence


@dataclass
class Sources:
    spec: Spec
    period: Period
    client: PrometheusClient
    audit_dir: Path | None = None
    build_dir: Path | None = None
    state_dir: Path | None = None
    _daily: dict[str, dict[tuple[date, Key], float]] = field(default_factory=dict)
    _verified: list[Verification] = field(default_factory=list)  # at most one: the audit log, verified once

    def daily(self, metric: str) -> dict[tuple[date, Key], float]:
        """Exact increases of every series of ``metric`` per UTC day, fetched once per report."""
        if metric not in self._daily:
            self._daily[metric] = daily_increases(self.client, metric, self.period)
        return self._daily[metric]

    def verification(self, directory: Path) -> Verification:
        """The audit log's verification, done once per report however many controls read it."""
        if not self._verified:
            self._verified.append(verify(directory))
        return self._verified[0]

    def total(self, metric: str, keep: Callable[[dict[str, str]], bool] = lambda _: True) -> float:
        return sum(v for (_, key), v in self.daily(metric).items() if keep(dict(key)))


Evaluator = Callable[[Sources, float | None], Evidence]


def _judge(value: float, threshold: float, comparison: str) -> str:
    ok = value >= threshold if comparison == AT_LEAST else value <= threshold
    return PASS if ok else FAIL


def _measured(kind: str, value: float, threshold: float, comparison: str, *, query: str, detail: str) -> Evidence:
    return Evidence(_judge(value, threshold, comparison), value, threshold, comparison,
                    EVIDENCE_THRESHOLDS[kind], query, detail)


def _none(kind: str, threshold: float | None, comparison: str, query: str, why: str) -> Evidence:
    return Evidence(NO_EVIDENCE, None, threshold, comparison, EVIDENCE_THRESHOLDS[kind], query, why)


def _no_traffic(sources: Sources) -> str | None:
    if sources.total(catalog.REQUESTS.name) > 0:
        return None
    return "Prometheus holds no gatewatch requests in the period: there is no traffic to measure"


# -- evaluators ----------------------------------------------------------------------------------

def record_keeping(sources: Sources, threshold: float | None) -> Evidence:
    days = threshold if threshold is not None else float(sources.spec.audit.retention_min_days)
    kind, directory = "record_keeping", sources.audit_dir
    query = (f"file check: {directory or '--audit-dir'}/audit-YYYY-MM-DD.jsonl present, hash chain verified "
             "(exporter.audit.verify), oldest day file at least the threshold in days before the period's end "
             "or the log's first line (seq 1) in it")
    if directory is None:
        return _none(kind, days, AT_LEAST, query, "no --audit-dir given: the audit log was not examined")
    files = day_files(directory) if directory.is_dir() else []
    if not files:
        return Evidence(FAIL, 0.0, days, AT_LEAST, "days", query,
                        f"no audit log: {directory} holds no audit day files")
    result = sources.verification(directory)
    covered = float((sources.period.end.date() - files[0][0]).days)
    if not result.intact:
        first = result.problems[0]
        return Evidence(FAIL, covered, days, AT_LEAST, "days", query,
                        f"the hash chain is broken ({len(result.problems)} problem(s)); first: {first}")
    from_start = result.first_seq == 1
    detail = (f"{result.files} day file(s), {result.lines} line(s), chain intact; oldest file "
              f"{files[0][0].isoformat()}, {covered:g} days before the period's end"
              + ("; the log's first line is in it, so the log is kept since it began" if from_start else ""))
    if from_start and covered < days:
        return Evidence(PASS, covered, days, AT_LEAST, "days", query, detail)
    return _measured(kind, covered, days, AT_LEAST, query=query, detail=detail)


def guardrail_coverage(sources: Sources, threshold: float | None) -> Evidence:
    kind = "guardrail_coverage"
    limit = DEFAULT_THRESHOLDS[kind] if threshold is None else threshold
    teams = sorted(t.name for t in sources.spec.teams if t.required_guardrails)
    if not teams:
        return _none(kind, limit, AT_LEAST, "spec check: teams[].required_guardrails",
                     "no team in the spec requires a guardrail")
    match = matches("team", teams)
    bypass_selector = f'{catalog.POLICY_VIOLATIONS.name}{{policy="guardrail_bypass",{match}}}'
    request_selector = f"{catalog.REQUESTS.name}{{{match},{FORWARDED_OUTCOME}}}"
    query = f"1 - exact_increase(sum({bypass_selector})) / exact_increase(sum({request_selector}))"
    covered = set(teams)
    requests = sources.total(catalog.REQUESTS.name,
                             lambda k: k.get("team") in covered and k.get("outcome") not in catalog.STOPPED_AT_GATEWAY)
    if requests <= 0:
        return _none(kind, limit, AT_LEAST, query,
                     "no requests in the period from the teams that require guardrails")
    bypassed = sources.total(catalog.POLICY_VIOLATIONS.name,
                             lambda k: k.get("policy") == "guardrail_bypass" and k.get("team") in covered)
    value = 1.0 - bypassed / requests
    return _measured(kind, value, limit, AT_LEAST,
                     query=query,
                     detail=f"{bypassed:,.0f} of {requests:,.0f} requests from {', '.join(teams)} went on without "
                     "a required guardrail")


def attribution(sources: Sources, threshold: float | None) -> Evidence:
    kind = "attribution"
    limit = DEFAULT_THRESHOLDS[kind] if threshold is None else threshold
    cost = catalog.COST.name
    query = f"exact_increase(sum({cost}{{{sentinel('team')}}})) / exact_increase(sum({cost}))"
    total = sources.total(cost)
    if total <= 0:
        return _none(kind, limit, AT_MOST, query, "no spend recorded in the period")
    unowned = sources.total(cost, lambda k: k.get("team") in SENTINEL_TEAMS)
    return _measured(kind, unowned / total, limit, AT_MOST,
                     query=query,
                     detail=f"{unowned:,.2f} of {total:,.2f} USD carried no team ({' or '.join(SENTINEL_TEAMS)})")


def budget_owners(sources: Sources, threshold: float | None) -> Evidence:
    kind = "budget_owners"
    limit = DEFAULT_THRESHOLDS[kind] if threshold is None else threshold
    spec = sources.spec
    overrides = spec.thresholds.team_overrides
    missing = sorted(
        t.name for t in spec.teams
        if not t.budget_owner.name.strip()
        or not (t.budget_owner.email or t.budget_owner.chat
                or (t.name in overrides and overrides[t.name].receiver is not None))
    )
    query = ("spec check: every teams[] entry has budget_owner.name and a way to reach them "
             "(budget_owner.email or .chat, or alerting.team_overrides.<team>.receiver)")
    detail = (f"{len(spec.teams)} team(s); without a reachable budget owner: {', '.join(missing)}" if missing
              else f"all {len(spec.teams)} team(s) have a reachable budget owner")
    return _measured(kind, float(len(missing)), limit, AT_MOST, query=query, detail=detail)


def _alert_names(rules_dir: Path) -> list[str]:
    names: set[str] = set()
    for path in sorted(rules_dir.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in document.get("groups") or ():
            names.update(rule["alert"] for rule in group.get("rules") or () if "alert" in rule)
    return sorted(names)


def runbooks(sources: Sources, threshold: float | None) -> Evidence:
    kind = "runbooks"
    limit = DEFAULT_THRESHOLDS[kind] if threshold is None else threshold
    build = sources.build_dir
    query = f"file check: every alert in {build or '--build-dir'}/prometheus/rules/*.yml has runbooks/<alert>.md"
    if build is None:
        return _none(kind, limit, AT_MOST, query, "no --build-dir given")
    rules = build / "prometheus" / "rules"
    try:
        alerts = _alert_names(rules) if rules.is_dir() else []
    except (OSError, yaml.YAMLError, AttributeError, TypeError) as err:
        return _none(kind, limit, AT_MOST, query, f"the rule files in {rules} cannot be read: {type(err).__name__}")
    if not alerts:
        return _none(kind, limit, AT_MOST, query, f"no alert rules found in {rules} (run generate.py)")
    missing = [name for name in alerts if not (build / "runbooks" / f"{name}.md").is_file()]
    detail = (f"{len(alerts)} alert(s); without a runbook: {', '.join(missing)}" if missing
              else f"all {len(alerts)} alert(s) have a runbook")
    return _measured(kind, float(len(missing)), limit, AT_MOST, query=query, detail=detail)


def unapproved_models(sources: Sources, threshold: float | None) -> Evidence:
    kind = "unapproved_models"
    limit = DEFAULT_THRESHOLDS[kind] if threshold is None else threshold
    query = f'exact_increase(sum({catalog.POLICY_VIOLATIONS.name}{{policy="unapproved_model"}}))'
    why = _no_traffic(sources)
    if why:
        return _none(kind, limit, AT_MOST, query, why)
    found: dict[str, float] = defaultdict(float)
    for (_, key), value in sources.daily(catalog.POLICY_VIOLATIONS.name).items():
        labels = dict(key)
        if labels.get("policy") == "unapproved_model":
            found[labels.get("team", "")] += value
    count = sum(found.values())
    teams = ", ".join(f"{team} {n:,.0f}" for team, n in sorted(found.items()) if n > 0)
    detail = f"{count:,.0f} request(s) to a model the team is not approved for" + (f" ({teams})" if teams else "")
    return _measured(kind, count, limit, AT_MOST, query=query, detail=detail)


def model_inventory(sources: Sources, threshold: float | None) -> Evidence:
    kind = "model_inventory"
    limit = DEFAULT_THRESHOLDS[kind] if threshold is None else threshold
    declared = [m.name for m in sources.spec.models]
    requests = catalog.REQUESTS.name
    undeclared = excludes("model", sorted(declared))
    query = f"exact_increase(sum({requests}{{{undeclared}}})) / exact_increase(sum({requests}))"
    if not declared:
        return _none(kind, limit, AT_MOST, query, "the spec declares no models")
    total = sources.total(requests)
    if total <= 0:
        return _none(kind, limit, AT_MOST, query, _no_traffic(sources) or "")
    known = set(declared)
    unknown = sources.total(requests, lambda k: k.get("model") not in known)
    return _measured(kind, unknown / total, limit, AT_MOST,
                     query=query,
                     detail=f"{unknown:,.0f} of {total:,.0f} requests named a model the spec does not declare")


def sensitive_followup(sources: Sources, threshold: float | None) -> Evidence:
    kind = "sensitive_followup"
    limit = DEFAULT_THRESHOLDS[kind] if threshold is None else threshold
    query = ("file check: blocked or flagged guardrail findings carrying sensitive entities in the audit log "
             f"({sources.audit_dir or '--audit-dir'}) with a verdict in the review store "
             f"({sources.state_dir or '--state-dir'}/review-verdicts.json)")
    if sources.audit_dir is None:
        return _none(kind, limit, AT_LEAST, query, "no --audit-dir given: detections cannot be listed")
    if sources.state_dir is None:
        return _none(kind, limit, AT_LEAST, query, "no --state-dir given: the review verdict store lives there")
    if not verdicts.path_in(sources.state_dir).is_file():
        return _none(kind, limit, AT_LEAST, query,
                     f"no review verdict store in {sources.state_dir} (reports review import writes it)")
    if not sources.audit_dir.is_dir():
        return _none(kind, limit, AT_LEAST, query, f"audit directory not found: {sources.audit_dir}")
    try:
        store = verdicts.load(sources.state_dir)
    except verdicts.StoreError as err:
        return _none(kind, limit, AT_LEAST, query, f"the review verdict store cannot be used: {err}")
    sensitive = [f for f in findings(sources.audit_dir, sources.period) if f.entities]
    if not sensitive:
        return _measured(kind, 1.0, limit, AT_LEAST,
                     query=query,
                     detail="no blocked or flagged request carried sensitive entities in the period: nothing to review")
    reviewed = sum(1 for f in sensitive if f.review_id in store.verdicts)
    return _measured(kind, reviewed / len(sensitive), limit, AT_LEAST,
                     query=query,
                     detail=f"{reviewed} of {len(sensitive)} findings with sensitive entities have a review verdict")


def violations_resolved(sources: Sources, threshold: float | None) -> Evidence:
    kind = "violations_resolved"
    limit = DEFAULT_THRESHOLDS[kind] if threshold is None else threshold
    metric = catalog.POLICY_VIOLATIONS.name
    query = (f"exact_increase({metric}) per team, app and policy: resolved when the period's last "
             f"{RESOLVED_QUIET_DAYS} days show none")
    days = sources.period.days()
    if len(days) <= RESOLVED_QUIET_DAYS:
        return _none(kind, limit, AT_LEAST, query,
                     f"the period is too short to tell: it must be longer than {RESOLVED_QUIET_DAYS} days")
    why = _no_traffic(sources)
    if why:
        return _none(kind, limit, AT_LEAST, query, why)
    quiet_from = days[-1] - timedelta(days=RESOLVED_QUIET_DAYS - 1)
    seen: set[tuple[str, str, str]] = set()
    recent: set[tuple[str, str, str]] = set()
    for (day, key), value in sources.daily(metric).items():
        if value <= 0:
            continue
        labels = dict(key)
        what = (labels.get("team", ""), labels.get("app", ""), labels.get("policy", ""))
        seen.add(what)
        if day >= quiet_from:
            recent.add(what)
    if not seen:
        return _measured(kind, 1.0, limit, AT_LEAST,
                     query=query, detail="no policy violations in the period: nothing to resolve")
    open_ = sorted(recent)
    detail = (f"{len(seen) - len(open_)} of {len(seen)} team/app/policy combinations with violations saw none "
              f"since {quiet_from.isoformat()}"
              + (f"; still occurring: {', '.join('/'.join(x) for x in open_)}" if open_ else ""))
    return _measured(kind, (len(seen) - len(open_)) / len(seen), limit, AT_LEAST, query=query, detail=detail)


def false_positive_ratio(sources: Sources, threshold: float | None) -> Evidence:
    kind = "false_positive_ratio"
    review = sources.spec.review
    seconds = round(sources.period.end_ts - sources.period.start_ts)
    expr = f"max by (guardrail, verdict) (last_over_time({catalog.REVIEW_VERDICTS.name}[{seconds}s]))"
    query = f"{expr} at the period's end"
    rows = sources.client.query(expr, sources.period.end_ts)
    if not rows:
        return _none(kind, threshold, AT_MOST, query,
                     "no review verdicts exported in the period (reports review import feeds them)")
    counts: dict[str, dict[str, float]] = defaultdict(dict)
    for row in rows:
        counts[row["metric"].get("guardrail", "")][row["metric"].get("verdict", "")] = float(row["value"][1])
    minimum, default = review.min_reviewed, review.default_max_false_positive_ratio
    tolerances = verdicts.tolerated(sources.spec)
    judged = []
    for guardrail, by_verdict in sorted(counts.items()):
        fp, tp = by_verdict.get("false_positive", 0.0), by_verdict.get("true_positive", 0.0)
        if fp + tp < minimum:
            continue
        limit = threshold if threshold is not None else tolerances.get(guardrail, default)
        judged.append((fp / (fp + tp), limit, guardrail, fp, tp))
    if not judged:
        return _none(kind, threshold, AT_MOST, query,
                     f"no guardrail has {minimum} or more true/false-positive verdicts: too few to judge")
    over = [j for j in judged if j[0] > j[1]]
    worst = max(over or judged, key=lambda j: (j[0] - j[1], j[2]))
    ratio, limit, guardrail, _, _ = worst
    listed = "; ".join(f"{g} {fp:.0f}/{fp + tp:.0f} = {r:.3f} (tolerated {t:g})" for r, t, g, fp, tp in judged)
    status = FAIL if over else PASS
    return Evidence(status, ratio, limit, AT_MOST, EVIDENCE_THRESHOLDS[kind], query,
                    f"worst: {guardrail}; {listed}")


EVALUATORS: dict[str, Evaluator] = {
    "record_keeping": record_keeping,
    "guardrail_coverage": guardrail_coverage,
    "attribution": attribution,
    "budget_owners": budget_owners,
    "runbooks": runbooks,
    "unapproved_models": unapproved_models,
    "model_inventory": model_inventory,
    "sensitive_followup": sensitive_followup,
    "violations_resolved": violations_resolved,
    "false_positive_ratio": false_positive_ratio,
}


def evaluate(sources: Sources, kind: str, threshold: float | None) -> Evidence:
    evaluator = EVALUATORS.get(kind)
    if evaluator is None:
        return Evidence(NO_EVIDENCE, None, threshold, AT_MOST, EVIDENCE_THRESHOLDS.get(kind, ""), "",
                        f"no evaluator for the evidence kind {kind!r}")
    return evaluator(sources, threshold)

