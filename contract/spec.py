"""The spec model: one YAML file describing the organisation, loaded and validated.

Every generator and the exporter read the spec through this module. A broken spec raises
``SpecError`` naming the file, the path inside it (with its line) and what was expected.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Protocol, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from contract import catalog
from contract.burnrate import lowest_reachable_target, unreachable_factors
from contract.fields import ATTRIBUTE_FIELDS, is_known_field

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
# Names become label values and URL paths: lower-case, no spaces, bounded length.
Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
EnvVarName = Annotated[str, msgspec.Meta(pattern=r"^[A-Z_][A-Z0-9_]*$")]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base for spec sections: unknown keys are typos, and typos are errors."""


class Organization(Strict, frozen=True, kw_only=True):
    name: str
    runbook_base_url: str = "https://runbooks.example.com/gatewatch"
    grafana_base_url: str = "http://localhost:3000"
    finance_contact: str = "finance"


class Contact(Strict, frozen=True, kw_only=True):
    name: str
    email: str | None = None
    chat: str | None = None


class Budget(Strict, frozen=True, kw_only=True):
    monthly_usd: NonNegative
    period: Literal["month"] = "month"


class Team(Strict, frozen=True, kw_only=True):
    name: Name
    display_name: str = ""
    owner: str
    cost_center: str
    tier: Literal["critical", "production", "standard", "sandbox"] = "standard"
    budget_owner: Contact
    budget: Budget
    aliases: tuple[str, ...] = ()
    approved_models: tuple[str, ...] = ("*",)
    classifications: tuple[str, ...] = ()
    required_guardrails: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # genai_team_info carries the owner as a label, and labels never carry emails.
        if _EMAIL.search(self.owner):
            raise ValueError("owner becomes a metric label: give a handle or name, not an email")


class App(Strict, frozen=True, kw_only=True):
    name: Name
    team: str
    aliases: tuple[str, ...] = ()
    interactive: bool = True


class Price(Strict, frozen=True, kw_only=True):
    input_per_mtok: NonNegative
    output_per_mtok: NonNegative
    cached_input_per_mtok: NonNegative | None = None


class Deprecation(Strict, frozen=True, kw_only=True):
    retires: str  # YYYY-MM-DD, UTC: the first day the gateway no longer serves the model
    replacement: str | None = None  # a model in models to move to
    reason: str = ""


class Model(Strict, frozen=True, kw_only=True):
    name: str
    provider: str
    family: str = ""
    # Within a family, cheaper tiers are candidates when a premium model's prompts are short.
    tier: Literal["premium", "standard", "economy"] = "standard"
    aliases: tuple[str, ...] = ()
    price: Price
    deprecation: Deprecation | None = None


class Guardrail(Strict, frozen=True, kw_only=True):
    name: str
    # Names other gateways report for the same guardrail (Kong's plugin and LiteLLM's hook for
    # one Lakera service, say), so a team's requirement is met whichever gateway ran it.
    aliases: tuple[str, ...] = ()
    kind: Literal["pii", "prompt_injection", "content_safety", "dlp", "other"] = "other"
    description: str = ""
    # Share of reviewed blocks and flags judged false positives (fp / (tp + fp)) above which the
    # guardrail is flagged for tuning; None takes review.default_max_false_positive_ratio.
    max_false_positive_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None


class Classification(Strict, frozen=True, kw_only=True):
    levels: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
    default: str = "internal"
    sources: dict[str, tuple[str, ...]] = {}


class FormatAttribution(Strict, frozen=True, kw_only=True):
    team: tuple[str, ...] = ()
    app: tuple[str, ...] = ()


class Cardinality(Strict, frozen=True, kw_only=True):
    """How many values outside the spec each label admits before folding into __other__."""

    teams: NonNegativeInt = 20
    apps: NonNegativeInt = 200
    models: NonNegativeInt = 50
    providers: NonNegativeInt = 20
    guardrails: NonNegativeInt = 50
    entities: NonNegativeInt = 50
    operations: NonNegativeInt = 20
    max_series_per_metric: PositiveInt = 50_000


class AmountBounds(Strict, frozen=True, kw_only=True):
    """The largest amount one record may carry; a record beyond any of them is rejected with a
    reason, so one absurd record cannot poison a sum that finance reads."""

    # More than any model's context window or output limit by orders of magnitude.
    max_tokens: PositiveInt = 100_000_000
    # Per request, in USD, whether gateway-reported or priced.
    max_cost_usd: Positive = 10_000.0
    max_cache_saved_usd: Positive = 10_000.0
    # Whole request and time to first token.
    max_duration_seconds: Positive = 86_400.0
    # Sensitive entities one guardrail finds in one request, per entity type.
    max_entities: PositiveInt = 1_000_000
    # How far a record's start time may lie before or after the exporter's clock.
    max_age_seconds: Positive = 5 * 366 * 86_400.0
    max_future_seconds: Positive = 86_400.0


class Ingest(Strict, frozen=True, kw_only=True):
    max_body_bytes: PositiveInt = 10 * 1024 * 1024
    max_records_per_body: PositiveInt = 10_000
    max_decompression_ratio: PositiveInt = 200
    max_connections: PositiveInt = 128
    max_concurrent_ingests: PositiveInt = 4
    token_env: EnvVarName | None = None
    dedupe_window_seconds: NonNegative = 900.0
    snapshot_interval_seconds: Positive = 5.0
    # Snapshots kept besides the newest, to fall back on when the newest fails validation.
    snapshot_generations: Annotated[int, msgspec.Meta(ge=1, le=10)] = 2
    bounds: AmountBounds = AmountBounds()
    cardinality: Cardinality = Cardinality()


class EmailReceiver(Strict, frozen=True, kw_only=True):
    to: str


class SlackReceiver(Strict, frozen=True, kw_only=True):
    channel: str
    # Alertmanager reads the webhook URL from this file: the secret never enters the config.
    api_url_file: str


class PagerDutyReceiver(Strict, frozen=True, kw_only=True):
    routing_key_file: str


class WebhookReceiver(Strict, frozen=True, kw_only=True):
    url: str
    # Bearer token read from a file by Alertmanager, never inline.
    credentials_file: str | None = None


class Receiver(Strict, frozen=True, kw_only=True):
    name: Name
    email: EmailReceiver | None = None
    slack: SlackReceiver | None = None
    pagerduty: PagerDutyReceiver | None = None
    webhook: WebhookReceiver | None = None

    def __post_init__(self) -> None:
        given = [k for k in ("email", "slack", "pagerduty", "webhook") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"expected exactly one of email, slack, pagerduty or webhook, got {given or 'none'}")


class Smtp(Strict, frozen=True, kw_only=True):
    smarthost: str
    sender: str = msgspec.field(name="from")
    auth_username: str | None = None
    auth_password_file: str | None = None


class TeamAlerting(Strict, frozen=True, kw_only=True):
    """Per-team overrides of the organisation's alerting defaults."""

    budget_thresholds_percent: tuple[Annotated[float, msgspec.Meta(gt=0, le=1000)], ...] | None = None
    cost_anomaly_factor: Annotated[float, msgspec.Meta(gt=1)] | None = None
    # A receiver from alerting.receivers instead of email to the budget owner.
    receiver: str | None = None


# Teams without a receiver override get a generated receiver of this name emailing their owner.
BUDGET_RECEIVER_PREFIX = "budget-"


class AlertThresholds(Strict, frozen=True, kw_only=True):
    """What alerts fire at, each with its default: the one home of every threshold.

    Always present after load (``Spec.thresholds``): generators, dashboards and runbooks read a
    threshold from here whether or not the spec has an ``alerting`` section, so no module keeps
    a fallback copy of a default.
    """

    budget_thresholds_percent: tuple[Annotated[float, msgspec.Meta(gt=0, le=1000)], ...] = (50, 75, 90, 100)
    cost_anomaly_factor: Annotated[float, msgspec.Meta(gt=1)] = 4.0
    cost_anomaly_min_usd_per_hour: NonNegative = 2.0
    runaway_loop_factor: Annotated[float, msgspec.Meta(gt=1)] = 10.0
    app_volume_factor: Annotated[float, msgspec.Meta(gt=1)] = 8.0
    provider_error_ratio: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.25
    provider_latency_p95_seconds: Positive = 20.0
    guardrail_block_factor: Annotated[float, msgspec.Meta(gt=1)] = 5.0
    sensitive_entities_per_hour: Positive = 20.0
    stale_after_seconds: Positive = 600.0
    team_overrides: dict[str, TeamAlerting] = {}

    def team_budget_percents(self, team: str) -> tuple[float, ...]:
        """The shares of its budget at which ``team``'s budget alerts fire: its override, else the default."""
        override = self.team_overrides.get(team)
        return (override.budget_thresholds_percent if override else None) or self.budget_thresholds_percent

    def team_anomaly_factor(self, team: str) -> float:
        override = self.team_overrides.get(team)
        return (override.cost_anomaly_factor if override else None) or self.cost_anomaly_factor


# Read when the spec has no alerting section.
DEFAULT_THRESHOLDS = AlertThresholds()


class Alerting(AlertThresholds, frozen=True, kw_only=True):
    """Where alerts go. Without this section no alert rule or routing is generated; its
    thresholds (inherited) keep their defaults either way."""

    oncall_receiver: str
    security_receiver: str
    finance_receiver: str
    # Gets the always-firing Watchdog: a dead-man's switch outside this stack pages when it stops.
    deadman_receiver: str
    receivers: tuple[Receiver, ...]
    smtp: Smtp | None = None


class Objective(Strict, frozen=True, kw_only=True):
    name: Name
    kind: Literal["availability", "ttft"]
    provider: str | None = None
    model: str | None = None
    target_percent: Annotated[float, msgspec.Meta(gt=0, le=100)]
    # ttft only: the latency a request must beat to count as good; must be a bucket bound.
    threshold_seconds: Positive | None = None

    def __post_init__(self) -> None:
        if (self.provider is None) == (self.model is None):
            raise ValueError("expected exactly one of provider or model to say what the objective covers")
        if (self.kind == "ttft") != (self.threshold_seconds is not None):
            raise ValueError("threshold_seconds is required for ttft objectives and only for them")


class Slos(Strict, frozen=True, kw_only=True):
    # Below this many requests an hour an objective's alerts stay silent: three failures at
    # 3 a.m. are not an outage.
    min_requests_per_hour: NonNegative = 60.0
    objectives: tuple[Objective, ...] = ()


class Allocation(Strict, frozen=True, kw_only=True):
    """Spend of a shared app (one key several teams use) charged back to those teams."""

    app: str
    method: Literal["request_share", "even"]
    teams: tuple[str, ...]


class Onboarding(Strict, frozen=True, kw_only=True):
    team: str
    starting: str  # YYYY-MM-DD, UTC
    expected_monthly_usd: NonNegative


class PriceChange(Strict, frozen=True, kw_only=True):
    model: str
    effective: str  # YYYY-MM-DD, UTC
    price: Price


class Finance(Strict, frozen=True, kw_only=True):
    # Invoice and gatewatch may differ by this much (rounding, requests the gateway never logged)
    # before a reconciliation row is flagged and the job exits non-zero.
    reconciliation_tolerance_percent: Annotated[float, msgspec.Meta(ge=0, le=100)] = 2.0
    allocations: tuple[Allocation, ...] = ()
    onboardings: tuple[Onboarding, ...] = ()
    price_changes: tuple[PriceChange, ...] = ()
    # Providers' batch APIs: the discount non-interactive traffic would get.
    batch_discount_percent: Annotated[float, msgspec.Meta(ge=0, le=100)] = 50.0


class GenAiTraces(Strict, frozen=True, kw_only=True):
    """A traces pipeline in the Collector: applications' spans in, the GenAI model-call spans on
    to the exporter's OTLP receiver, every span on to the tracing backend."""

    # The exporter's --listen base URL; the Collector appends /v1/traces.
    exporter_endpoint: str = "http://gatewatch-exporter:9464"
    # The variable holding the exporter's ingest token in the Collector's environment.
    exporter_token_env: EnvVarName | None = None
    # OTLP/HTTP endpoint of the tracing backend (Tempo, Jaeger, a vendor); none: traces stop here.
    tracing_endpoint: str | None = None
    tracing_token_env: EnvVarName | None = None


class Collector(Strict, frozen=True, kw_only=True):
    """Where the OpenTelemetry Collector sends the exporter's OTLP push, and, with
    ``genai_traces``, where it sends applications' GenAI spans."""

    # prometheus_remote_write covers Prometheus, Thanos receive and VictoriaMetrics; mimir is
    # remote write with a tenant; otlp is any OTLP/HTTP endpoint.
    backend: Literal["prometheus_remote_write", "mimir", "otlp"] = "prometheus_remote_write"
    endpoint: str = "http://prometheus:9090/api/v1/write"
    # Name of the environment variable holding the backend's bearer token: the Collector expands
    # it at start, so the token never enters a generated file.
    token_env: EnvVarName | None = None
    tenant: str | None = None  # mimir only: the X-Scope-OrgID
    memory_limit_mib: PositiveInt = 512
    genai_traces: GenAiTraces | None = None

    def __post_init__(self) -> None:
        if (self.backend == "mimir") != (self.tenant is not None):
            raise ValueError("tenant is required for the mimir backend and only for it")


# Kubernetes names: DNS-1123 labels; quantities as Kubernetes writes them ("250m", "512Mi").
DnsLabel = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
Quantity = Annotated[str, msgspec.Meta(pattern=r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")]
# An image pinned to a release or a digest: ``latest`` or no tag would change under a restart.
PinnedImage = Annotated[str, msgspec.Meta(pattern=r"^[^\s:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})$")]


class KubernetesResources(Strict, frozen=True, kw_only=True):
    """One exporter replica's share (docs/deployment.md, "Sizing the exporter")."""

    cpu_request: Quantity = "250m"
    memory_request: Quantity = "256Mi"
    # No CPU limit: throttling a replica mid-scrape turns a 50 ms render into a timeout.
    memory_limit: Quantity = "512Mi"


class Kubernetes(Strict, frozen=True, kw_only=True):
    """What build/kubernetes/ needs to know about the cluster (docs/kubernetes.md)."""

    namespace: DnsLabel = "gatewatch"
    # Ingest is accepted only from pods in this namespace (NetworkPolicy).
    gateway_namespace: DnsLabel = "ai-gateway"
    # Scrapes are accepted only from pods with these labels in this namespace.
    prometheus_namespace: DnsLabel = "monitoring"
    prometheus_pod_labels: dict[str, str] = msgspec.field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"}
    )
    # Prometheus's service account, granted discovery in the namespace (kube-prometheus-stack:
    # <release>-prometheus; kube-prometheus: prometheus-k8s).
    prometheus_service_account: DnsLabel = "kube-prometheus-stack-prometheus"
    # Labels the Prometheus Operator's ruleSelector / serviceMonitorSelector /
    # alertmanagerConfigSelector match (kube-prometheus-stack: release=<its release name>).
    operator_labels: dict[str, str] = msgspec.field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    # The Grafana sidecar's folder for the dashboards, and the Grafana Operator's instance labels.
    grafana_folder: str = "gatewatch"
    grafana_instance_labels: dict[str, str] = msgspec.field(default_factory=lambda: {"dashboards": "grafana"})
    image: PinnedImage = "gatewatch/exporter:0.1.0"
    replicas: PositiveInt = 2
    resources: KubernetesResources = KubernetesResources()
    storage_class: DnsLabel | None = None  # None takes the cluster's default
    storage_size: Quantity = "1Gi"


class Review(Strict, frozen=True, kw_only=True):
    """The weekly review of what guardrails blocked and flagged (reports review, docs/review.md)."""

    default_max_false_positive_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.2
    # Fewer decisive verdicts (true or false positive) than this say too little about a ratio.
    min_reviewed: PositiveInt = 20
    # The exporter's verdict counts cover the most recent reviewed weeks, so a tuned guardrail's
    # ratio recovers once newer weeks are reviewed.
    window_weeks: PositiveInt = 4

    def tolerated_ratio(self, guardrail: Guardrail) -> float:
        if guardrail.max_false_positive_ratio is not None:
            return guardrail.max_false_positive_ratio
        return self.default_max_false_positive_ratio


# Evidence kinds a compliance control can name (reports/compliance.py evaluates each live), and
# for each the unit of its threshold: a share in [0, 1], a count, or days.
EVIDENCE_THRESHOLDS: dict[str, str] = {
    "record_keeping": "days",
    "guardrail_coverage": "share",
    "attribution": "share",
    "budget_owners": "count",
    "runbooks": "count",
    "unapproved_models": "count",
    "model_inventory": "share",
    "sensitive_followup": "share",
    "violations_resolved": "share",
    "false_positive_ratio": "share",
}
Evidence = Literal[
    "record_keeping", "guardrail_coverage", "attribution", "budget_owners", "runbooks", "unapproved_models",
    "model_inventory", "sensitive_followup", "violations_resolved", "false_positive_ratio",
]
# Control ids and frameworks become metric labels: bounded, lower-case, no spaces.
ControlId = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.-]{0,62}$")]


class Control(Strict, frozen=True, kw_only=True):
    id: ControlId
    framework: Name
    reference: str = ""  # the clause in the framework, e.g. "Art. 12(1)" or "CC7.2"
    title: str
    evidence: Evidence
    # None takes the evidence kind's default (docs/compliance.md).
    threshold: float | None = None


class Compliance(Strict, frozen=True, kw_only=True):
    controls: tuple[Control, ...] = ()


class Audit(Strict, frozen=True, kw_only=True):
    """The audit trail's retention (exporter --audit-dir, docs/audit.md), in days of day files."""

    # Record-keeping rules set a floor (EU AI Act Art. 19: at least six months): no purge may
    # remove a day file younger than this.
    retention_min_days: PositiveInt = 180
    # Data minimisation sets a ceiling: the exporter purges day files older than this once a day.
    retention_max_days: PositiveInt = 400


OtlpSignal = Literal["spans", "metrics", "none"]


class OtlpSource(Strict, frozen=True, kw_only=True):
    """Which signal one OTLP producer's figures are taken from, matched by its resource's
    ``service.name`` and its instrumentation scope (shell-style patterns)."""

    service: str = "*"
    scope: str = "*"
    signal: OtlpSignal


class Otlp(Strict, frozen=True, kw_only=True):
    """What the OTLP receiver (/v1/traces, /v1/metrics) counts.

    A model call can reach the exporter twice: as the application's client span and as the
    gateway's span, or as a span and as metrics. Only the producer the spec names authoritative
    for a call counts it; the first matching source decides, ``default_signal`` the rest.
    """

    sources: tuple[OtlpSource, ...] = ()
    default_signal: OtlpSignal = "spans"

    def signal(self, service: str, scope: str) -> OtlpSignal:
        for source in self.sources:
            if fnmatch.fnmatchcase(service, source.service) and fnmatch.fnmatchcase(scope, source.scope):
                return source.signal
        return self.default_signal


Audience = Literal["oncall", "budget_owner", "security"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class SupportChannel(Strict, frozen=True, kw_only=True):
    kind: Literal["chat", "email", "ticket", "phone", "pager"]
    address: str  # a chat channel, an address or a URL: never a secret
    use_for: str


class OfficeHours(Strict, frozen=True, kw_only=True):
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: ClockTime = "09:00"
    end: ClockTime = "17:00"
    timezone: str = "UTC"  # an IANA zone name


class ResponseTarget(Strict, frozen=True, kw_only=True):
    priority: str
    meaning: str
    first_response_minutes: PositiveInt
    # "office": the clock runs in office hours only; "always": around the clock.
    hours: Literal["office", "always"] = "office"


class EscalationStep(Strict, frozen=True, kw_only=True):
    who: str
    how: str
    after_minutes: NonNegativeInt  # since the alert or request, without an answer


class Support(Strict, frozen=True, kw_only=True):
    """Where developers ask for help, when someone answers, and who comes next for each audience."""

    channels: tuple[SupportChannel, ...]
    platform_team: str | None = None  # the team in teams that runs the platform (owns it in Backstage)
    office_hours: OfficeHours = OfficeHours()
    response_targets: tuple[ResponseTarget, ...] = ()
    # After the receiver the alert routes to: who to bring in next, per alert audience.
    # Keys: the alert audiences (oncall, budget_owner, security), all of them.
    escalation: dict[str, tuple[EscalationStep, ...]] = {}


class Change(Strict, frozen=True, kw_only=True):
    """One entry of the platform changelog developers read."""

    date: str  # YYYY-MM-DD, UTC
    kind: Literal["model_added", "model_retired", "price", "budget", "guardrail", "team", "other"]
    summary: str
    model: str | None = None
    team: str | None = None


class Spec(Strict, frozen=True, kw_only=True):
    version: Literal[1]
    organization: Organization
    teams: tuple[Team, ...]
    apps: tuple[App, ...] = ()
    models: tuple[Model, ...] = ()
    guardrails: tuple[Guardrail, ...] = ()
    classification: Classification = Classification()
    attribution: dict[str, FormatAttribution] = {}
    ingest: Ingest = Ingest()
    otlp: Otlp = Otlp()
    alerting: Alerting | None = None
    slos: Slos = Slos()
    collector: Collector = Collector()
    kubernetes: Kubernetes = Kubernetes()
    finance: Finance = Finance()
    audit: Audit = Audit()
    compliance: Compliance = Compliance()
    review: Review = Review()
    support: Support | None = None
    changes: tuple[Change, ...] = ()

    @property
    def thresholds(self) -> AlertThresholds:
        """Every alert threshold: the alerting section's, or the defaults when it is absent."""
        return self.alerting if self.alerting is not None else DEFAULT_THRESHOLDS

    def team(self, name: str) -> Team:
        for team in self.teams:
            if team.name == name:
                return team
        raise KeyError(name)

    def model(self, name: str) -> Model | None:
        for model in self.models:
            if model.name == name:
                return model
        return None


class SpecError(Exception):
    """A spec that cannot be used: says which file, where in it, and what was expected."""

    def __init__(self, file: str, path: str, message: str, line: int | None = None) -> None:
        self.file, self.path, self.message, self.line = file, path, message, line
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {path or '(top level)'}: {message}")


def load(path: str | os.PathLike[str]) -> Spec:
    """Load and validate a spec file; raise SpecError on any problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError(file, "", f"cannot read the spec: {err.strerror}") from None
    return parse(text, file)


def parse(text: str, file: str = "<spec>") -> Spec:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise SpecError(file, "", f"not valid YAML: {getattr(err, 'problem', err)}", line) from None
    if not isinstance(data, dict):
        raise SpecError(file, "", "expected a mapping with version, organization and teams at the top")
    try:
        spec = msgspec.convert(data, Spec)
    except msgspec.ValidationError as err:
        message, _, where = str(err).rpartition(" - at `")
        path = where.rstrip("`").removeprefix("$").lstrip(".") if message else ""
        expectation = _expectation(message or str(err), _allowed_values(path))
        raise SpecError(file, path, expectation, _line_of(node, path)) from None
    problems = list(_cross_checks(spec))
    if problems:
        path, message = problems[0]
        raise SpecError(file, path, message, _line_of(node, path))
    return spec


def spec_hash(spec: Spec) -> str:
    """A short hash of the spec's meaning (comments and key order do not change it)."""
    return hashlib.sha256(msgspec.json.encode(spec, order="sorted")).hexdigest()[:16]


def _expectation(message: str, allowed: tuple[object, ...] = ()) -> str:
    """Turn msgspec's message into the spec's voice: what was expected."""
    text = message.replace("`", "")
    if text.startswith("Invalid enum value ") and allowed:
        choices = " or ".join(repr(v) if isinstance(v, str) else str(v) for v in allowed)
        return f"expected {choices}, got {text.removeprefix('Invalid enum value ')}"
    if text.startswith("Expected "):
        return "expected " + text.removeprefix("Expected ")
    if text.startswith("Object missing required field "):
        return "missing required key " + text.removeprefix("Object missing required field ")
    if text.startswith("Object contains unknown field "):
        return "unknown key " + text.removeprefix("Object contains unknown field ") + " (a typo?)"
    return text[:1].lower() + text[1:]


def _cross_checks(spec: Spec) -> Iterable[tuple[str, str]]:
    """Checks across sections that types alone cannot express, as (path, message)."""
    team_names = [t.name for t in spec.teams]
    if not team_names:
        yield "teams", "expected at least one team"
    yield from _duplicates("teams", "name", team_names)
    yield from _duplicates("apps", "name", [a.name for a in spec.apps])
    yield from _duplicates("models", "name", [m.name for m in spec.models])
    yield from _duplicates("guardrails", "name", [g.name for g in spec.guardrails])

    levels = spec.classification.levels
    if spec.classification.default not in levels:
        yield "classification.default", f"expected one of the levels {list(levels)}"
    for fmt, sources in spec.classification.sources.items():
        yield from _attribute_paths(f"classification.sources.{fmt}", fmt, sources)
    for fmt, rule in spec.attribution.items():
        yield from _attribute_paths(f"attribution.{fmt}.team", fmt, rule.team)
        yield from _attribute_paths(f"attribution.{fmt}.app", fmt, rule.app)

    yield from _unique_aliases("teams", "team", spec.teams)
    yield from _unique_aliases("apps", "app", spec.apps)
    yield from _unique_aliases("guardrails", "guardrail", spec.guardrails)
    yield from _unique_aliases("models", "model", spec.models)
    model_names = [m.name for m in spec.models]
    guardrail_names = {g.name for g in spec.guardrails}
    for i, team in enumerate(spec.teams):
        for j, pattern in enumerate(team.approved_models):
            if model_names and not fnmatch.filter(model_names, pattern):
                yield (f"teams[{i}].approved_models[{j}]",
                       f"expected a model name or pattern matching a model in models, got {pattern!r}")
        for j, level in enumerate(team.classifications):
            if level not in levels:
                yield f"teams[{i}].classifications[{j}]", f"expected one of {list(levels)}, got {level!r}"
        for j, name in enumerate(team.required_guardrails):
            if name not in guardrail_names:
                yield (f"teams[{i}].required_guardrails[{j}]",
                       f"expected a guardrail declared under guardrails, got {name!r}")

    for i, app in enumerate(spec.apps):
        if app.team not in team_names:
            yield f"apps[{i}].team", f"expected one of the teams {team_names}, got {app.team!r}"
    yield from _alerting_checks(spec, team_names)
    yield from _slo_checks(spec)
    yield from _finance_checks(spec, team_names)
    if spec.audit.retention_min_days > spec.audit.retention_max_days:
        yield ("audit.retention_min_days",
               f"expected at most audit.retention_max_days ({spec.audit.retention_max_days}), "
               f"got {spec.audit.retention_min_days}")
    yield from _compliance_checks(spec)
    yield from _kubernetes_checks(spec.kubernetes)
    yield from _portal_checks(spec, team_names)


def _portal_checks(spec: Spec, team_names: list[str]) -> Iterable[tuple[str, str]]:
    """Model deprecations, the support section and the changelog."""
    model_names = [m.name for m in spec.models]
    for i, model in enumerate(spec.models):
        deprecation, where = model.deprecation, f"models[{i}].deprecation"
        if deprecation is None:
            continue
        if not _is_date(deprecation.retires):
            yield f"{where}.retires", f"expected a date YYYY-MM-DD, got {deprecation.retires!r}"
        if deprecation.replacement is not None and deprecation.replacement not in model_names:
            yield f"{where}.replacement", f"expected one of the models {model_names}, got {deprecation.replacement!r}"
        elif deprecation.replacement == model.name:
            yield f"{where}.replacement", "expected another model: a model cannot replace itself"
    if spec.support is not None:
        yield from _support_checks(spec.support)
        if spec.support.platform_team not in (None, *team_names):
            yield "support.platform_team", f"expected one of the teams {team_names}, got {spec.support.platform_team!r}"
    for i, change in enumerate(spec.changes):
        if not _is_date(change.date):
            yield f"changes[{i}].date", f"expected a date YYYY-MM-DD, got {change.date!r}"
        if change.team is not None and change.team not in team_names:
            yield f"changes[{i}].team", f"expected one of the teams {team_names}, got {change.team!r}"
        # A retired model may be gone from the price table; any other change names a current one.
        if change.model is not None and change.kind != "model_retired" and change.model not in model_names:
            yield f"changes[{i}].model", f"expected one of the models {model_names}, got {change.model!r}"


def _support_checks(support: Support) -> Iterable[tuple[str, str]]:
    if not support.channels:
        yield "support.channels", "expected at least one channel developers can ask in"
    hours = support.office_hours
    if not _is_time_zone(hours.timezone):
        yield ("support.office_hours.timezone",
               f"expected an IANA time zone such as Europe/Berlin, got {hours.timezone!r}")
    if hours.start >= hours.end:
        yield "support.office_hours.end", f"expected a time after start ({hours.start}), got {hours.end!r}"
    if not hours.days:
        yield "support.office_hours.days", "expected at least one day"
    yield from _duplicates("support.response_targets", "priority", [t.priority for t in support.response_targets])
    audiences = get_args(Audience)
    for audience in support.escalation:
        if audience not in audiences:
            yield f"support.escalation.{audience}", f"expected an alert audience {list(audiences)}, got {audience!r}"
    for audience in audiences:
        steps = support.escalation.get(audience)
        if not steps:
            yield "support.escalation", f"expected escalation steps for the {audience} audience"
            continue
        waits = [step.after_minutes for step in steps]
        if waits != sorted(waits):
            yield f"support.escalation.{audience}", f"expected steps in order of after_minutes, got {waits}"


def _is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA zone; true for any name where no zone database is installed
    (a slim image without tzdata must not refuse a spec it cannot check)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        try:
            ZoneInfo("Europe/Berlin")
        except ZoneInfoNotFoundError:
            return True
        return False
    return True


_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def _kubernetes_checks(k8s: Kubernetes) -> Iterable[tuple[str, str]]:
    """Labels the API server would refuse, refused here with their place in the spec."""
    for field in ("prometheus_pod_labels", "operator_labels", "grafana_instance_labels"):
        for key, value in getattr(k8s, field).items():
            if not _LABEL_KEY.match(key):
                yield f"kubernetes.{field}", f"expected label keys Kubernetes accepts ([prefix/]name), got {key!r}"
            elif not _LABEL_VALUE.match(value):
                yield (f"kubernetes.{field}.{key}",
                       f"expected a Kubernetes label value (letters, digits, '-', '_', '.'; 63 at most), got {value!r}")


def _compliance_checks(spec: Spec) -> Iterable[tuple[str, str]]:
    controls = spec.compliance.controls
    yield from _duplicates("compliance.controls", "id", [c.id for c in controls])
    for i, control in enumerate(controls):
        if control.threshold is None:
            continue
        unit, value = EVIDENCE_THRESHOLDS[control.evidence], control.threshold
        where = f"compliance.controls[{i}].threshold"
        if unit == "share" and not 0 <= value <= 1:
            yield where, f"expected a share between 0 and 1 for evidence {control.evidence}, got {value:g}"
        elif unit == "count" and (value < 0 or value != int(value)):
            yield where, f"expected a whole number >= 0 for evidence {control.evidence}, got {value:g}"
        elif unit == "days" and value < 1:
            yield where, f"expected a number of days >= 1 for evidence {control.evidence}, got {value:g}"


def _finance_checks(spec: Spec, team_names: list[str]) -> Iterable[tuple[str, str]]:
    finance = spec.finance
    app_names = [a.name for a in spec.apps]
    model_names = [m.name for m in spec.models]
    for i, allocation in enumerate(finance.allocations):
        if allocation.app not in app_names:
            yield f"finance.allocations[{i}].app", f"expected one of the apps {app_names}, got {allocation.app!r}"
        for j, team in enumerate(allocation.teams):
            if team not in team_names:
                yield f"finance.allocations[{i}].teams[{j}]", f"expected one of the teams {team_names}, got {team!r}"
    for i, onboarding in enumerate(finance.onboardings):
        if onboarding.team not in team_names:
            yield f"finance.onboardings[{i}].team", f"expected one of the teams {team_names}, got {onboarding.team!r}"
        if not _is_date(onboarding.starting):
            yield f"finance.onboardings[{i}].starting", f"expected a date YYYY-MM-DD, got {onboarding.starting!r}"
    for i, change in enumerate(finance.price_changes):
        if change.model not in model_names:
            yield f"finance.price_changes[{i}].model", f"expected one of the models {model_names}, got {change.model!r}"
        if not _is_date(change.effective):
            yield f"finance.price_changes[{i}].effective", f"expected a date YYYY-MM-DD, got {change.effective!r}"


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _alerting_checks(spec: Spec, team_names: list[str]) -> Iterable[tuple[str, str]]:
    alerting = spec.alerting
    if alerting is None:
        return
    receivers = [r.name for r in alerting.receivers]
    yield from _duplicates("alerting.receivers", "name", receivers)
    for key in ("oncall_receiver", "security_receiver", "finance_receiver", "deadman_receiver"):
        name = getattr(alerting, key)
        if name not in receivers:
            yield f"alerting.{key}", f"expected a receiver from alerting.receivers {receivers}, got {name!r}"
    for overridden, override in alerting.team_overrides.items():
        if overridden not in team_names:
            yield (f"alerting.team_overrides.{overridden}",
                   f"expected one of the teams {team_names}, got {overridden!r}")
        elif override.receiver is not None and override.receiver not in receivers:
            yield (f"alerting.team_overrides.{overridden}.receiver",
                   f"expected a receiver from alerting.receivers {receivers}, got {override.receiver!r}")
    overrides = alerting.team_overrides
    for i, team in enumerate(spec.teams):
        if team.name in overrides and overrides[team.name].receiver is not None:
            continue
        generated = BUDGET_RECEIVER_PREFIX + team.name
        if generated in receivers:
            yield (f"alerting.receivers[{receivers.index(generated)}].name",
                   f"{generated!r} is the receiver generated for team {team.name}'s budget owner; rename it, "
                   f"or name it in alerting.team_overrides.{team.name}.receiver")
        if not team.budget_owner.email:
            yield (f"teams[{i}].budget_owner.email",
                   f"expected an email (budget alerts go to the budget owner), or a receiver in "
                   f"alerting.team_overrides.{team.name}.receiver")
    emailed = any(r.email is not None for r in alerting.receivers) or any(
        team not in overrides or overrides[team].receiver is None for team in team_names
    )
    if emailed and alerting.smtp is None:
        yield "alerting.smtp", "expected smtp settings: budget owners are emailed unless a team names a receiver"


def _slo_checks(spec: Spec) -> Iterable[tuple[str, str]]:
    ttft_bounds = catalog.TIME_TO_FIRST_TOKEN.buckets
    for i, objective in enumerate(spec.slos.objectives):
        where = f"slos.objectives[{i}]"
        unreachable = unreachable_factors(objective.target_percent)
        if unreachable:
            lowest = lowest_reachable_target(max(unreachable)) * 100
            yield (f"{where}.target_percent",
                   f"expected a target above {lowest:.2f} %: at {objective.target_percent:g} % the "
                   f"{max(unreachable):g}x burn-rate alert would need an error ratio above 100 % and could never fire")
        if objective.threshold_seconds is not None and objective.threshold_seconds not in ttft_bounds:
            yield (f"{where}.threshold_seconds",
                   f"expected one of the TTFT histogram bounds {list(ttft_bounds)} (a threshold between "
                   f"bounds cannot be counted exactly), got {objective.threshold_seconds:g}")
    yield from _duplicates("slos.objectives", "name", [o.name for o in spec.slos.objectives])


class _Aliased(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...


def _unique_aliases(section: str, kind: str, items: tuple[_Aliased, ...]) -> Iterable[tuple[str, str]]:
    """Each raw value maps to one canonical name: an alias naming two things is ambiguous."""
    owners = {item.name: item.name for item in items}
    for i, item in enumerate(items):
        for j, alias in enumerate(item.aliases):
            owner = owners.setdefault(alias, item.name)
            if owner != item.name:
                yield f"{section}[{i}].aliases[{j}]", f"alias {alias!r} already names {kind} {owner!r}"


def _duplicates(section: str, key: str, values: list[str]) -> Iterable[tuple[str, str]]:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            yield f"{section}[{i}].{key}", f"expected a unique {key}, {value!r} appears twice"
        seen.add(value)


def _attribute_paths(where: str, fmt: str, paths: Iterable[str]) -> Iterable[tuple[str, str]]:
    if fmt not in ATTRIBUTE_FIELDS:
        yield where, f"expected a format among {list(ATTRIBUTE_FIELDS)}, got {fmt!r}"
        return
    for i, path in enumerate(paths):
        if not is_known_field(fmt, path):
            yield f"{where}[{i}]", f"expected a field the {fmt} adapter reads, got {path!r}"


def _allowed_values(path: str) -> tuple[object, ...]:
    """The literal values the model allows at ``path``, when it is an enumeration."""
    info: msgspec.inspect.Type = msgspec.inspect.type_info(Spec)
    for key, index in _STEP.findall(path):
        while isinstance(info, msgspec.inspect.UnionType):
            info = next((t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)), info)
        if key and isinstance(info, msgspec.inspect.StructType):
            info = next((f.type for f in info.fields if f.name == key), msgspec.inspect.AnyType())
        elif key and isinstance(info, msgspec.inspect.DictType):
            info = info.value_type
        elif index and isinstance(info, msgspec.inspect.ListType | msgspec.inspect.VarTupleType):
            info = info.item_type
        else:
            return ()
    return tuple(info.values) if isinstance(info, msgspec.inspect.LiteralType) else ()


_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _line_of(node: yaml.Node | None, path: str) -> int | None:
    """The 1-based line of ``path`` (``teams[2].budget``) in the composed YAML, if found."""
    line = node.start_mark.line + 1 if node is not None else None
    for key, index in _STEP.findall(path):
        if isinstance(node, yaml.MappingNode) and key:
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and index:
            node = node.value[int(index)] if int(index) < len(node.value) else None
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line
