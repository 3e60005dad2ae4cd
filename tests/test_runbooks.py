"""Runbook pages: one per alert with the five sections, ready PromQL over real series, links that
resolve, escalation from the spec's contacts, and nothing secret. The sources under
``runbooks/pages/`` are checked for structure; what they say is checked on the rendered pages."""

from __future__ import annotations

import re
from typing import Any

import promql_parser
import pytest
import yaml

from alerts.render import runbook_url
from contract import catalog
from contract.dashboards import DASHBOARDS
from contract.spec import Spec, load, parse
from runbooks import sources
from runbooks.render import documented_rules, render
from runbooks.rules import duration_words, rule_facts
from tests.paths import EXAMPLE_SPEC, ROOT
from tests.support.promql import is_own_series, selected_names
from tests.support.runbooks import ALERT_SECTIONS, PLAYBOOK_SECTIONS, TASK_SECTIONS, sections

SPEC = load(EXAMPLE_SPEC)
PAGES = render(SPEC)
RULES = rule_facts(SPEC)
ALERT_PAGES = sources.alert_pages()
PLAYBOOKS = sources.playbooks()
TASKS = sources.tasks()
SOURCE_DIR = ROOT / "runbooks" / "pages"

# The recording rules DESIGN.md's signals layer names (alerts/recording.py), the only rule outputs runbooks may read.
RECORDING_RULES = frozenset({
    "team_model_provider:genai_requests:rate5m",
    "team_model_provider_outcome:genai_requests:rate5m",
    "provider:genai_requests:rate5m",
    "provider:genai_requests_bad:rate5m",
    "team:genai_cost_usd:rate5m",
    "team:genai_cost_usd:rate1h",
    "team_app:genai_cost_usd:rate1h",
    "team_app:genai_requests:rate5m",
    "team_app:genai_requests:rate1h",
    *(f"model_provider:genai_request_duration_seconds:{q}_5m" for q in ("p50", "p95", "p99")),
    *(f"model_provider:genai_time_to_first_token_seconds:{q}_5m" for q in ("p50", "p95", "p99")),
    "slo:sli_requests:rate5m",
    "slo:sli_errors:rate5m",
    *(f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")),
    "team:genai_cost_usd:increase1h",
    "team:genai_cost_usd:month_to_date",
    "guardrail:genai_review_false_positive:ratio",
    "guardrail:genai_review_decisive_verdicts:max",
})

PROMQL_BLOCK = re.compile(r"```promql\n(.*?)\n```", re.S)
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def section(page: str, heading: str) -> str:
    return dict(sections(page))[heading]


def spec_with(change: Any) -> Spec:
    """The example spec with ``change(data)`` applied to its YAML data."""
    data = yaml.safe_load(EXAMPLE_SPEC.read_text(encoding="utf-8"))
    change(data)
    return parse(yaml.safe_dump(data, sort_keys=False))


def all_promql(pages: dict[str, str]) -> list[tuple[str, str]]:
    return [(path, block) for path, page in pages.items() for block in PROMQL_BLOCK.findall(page)]


# --- one page per alert, facts from the rule -------------------------------------------------


def test_every_generated_alert_has_a_page_and_every_page_an_alert() -> None:
    assert sorted(set(RULES) - set(ALERT_PAGES)) == []  # an alert nobody documented
    assert sorted(set(ALERT_PAGES) - set(RULES)) == []  # a page for an alert that no longer exists


def test_an_alert_without_a_page_stops_the_render(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {name: page for name, page in ALERT_PAGES.items() if name != "GenAIRunawayLoop"}
    monkeypatch.setattr(sources, "alert_pages", lambda: pages)
    with pytest.raises(ValueError, match="GenAIRunawayLoop"):
        documented_rules(SPEC)


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_alert_has_a_page_where_its_runbook_url_points(name: str) -> None:
    assert f"runbooks/{name}.md" in PAGES
    assert runbook_url(SPEC, name) == f"https://runbooks.northwind.example/gatewatch/{name}.md"
    assert PAGES[f"runbooks/{name}.md"].startswith(f"# {name}\n")


def _fact_rows(page: str) -> dict[str, str]:
    """The page's facts table (the first table), as row name -> cell."""
    rows = re.findall(r"^\| ([^|]+) \| (.+) \|$", page.split("## Meaning", maxsplit=1)[0], re.M)
    return {key: value for key, value in rows}


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_facts_table_states_what_the_rule_says(name: str) -> None:
    rule = RULES[name]
    rows = _fact_rows(PAGES[f"runbooks/{name}.md"])
    ref = DASHBOARDS[rule.dashboard]
    assert rows["audience"] == f"`{rule.audience}`"
    assert rows["defined in"] == f"`{rule.module}`"
    assert rows["dashboard"].startswith(f"[{ref.title}: {rule.panel}](")
    assert rows["dashboard"].endswith(f"?viewPanel={ref.panels[rule.panel]})")
    assert (rows["`team` label"] == "`platform`") == rule.team_is_platform


# The rule module makes budget alerts warnings from 90 % of the budget on, info below.
@pytest.mark.parametrize(("thresholds", "severity"), [
    (None, "info below 90 %, warning at 90 % and above"),  # the example spec, with search's 25 %
    ([50, 75, 90, 100], "info below 90 %, warning at 90 % and above"),
    ([50, 80], "info"),
    ([95], "warning"),
])
def test_budget_threshold_severity_comes_from_its_rules(thresholds: list[float] | None, severity: str) -> None:
    def change(data: dict[str, Any]) -> None:
        if thresholds is not None:
            data["alerting"]["budget_thresholds_percent"] = thresholds
            data["alerting"]["team_overrides"].pop("search", None)

    pages = render(spec_with(change))
    assert _fact_rows(pages["runbooks/GenAIBudgetThreshold.md"])["severity"] == severity
    index_row = next(line for line in pages["runbooks/README.md"].splitlines() if "[GenAIBudgetThreshold]" in line)
    assert f"| {severity} |" in index_row


@pytest.mark.parametrize(("name", "severity"), [
    ("GenAIAvailabilitySLOPage", "critical"), ("GenAIAvailabilitySLOTicket", "warning"), ("Watchdog", "info"),
    ("GenAIRunawayLoop", "critical"), ("GenAIGuardrailNeedsTuning", "warning"),
])
def test_single_severity_alerts_state_it(name: str, severity: str) -> None:
    assert _fact_rows(PAGES[f"runbooks/{name}.md"])["severity"] == severity


@pytest.mark.parametrize(("duration", "words"), [
    ("5m", "5 minutes"), ("1m", "1 minute"), ("1h", "1 hour"), ("2h", "2 hours"), ("1h30m", "1 hour 30 minutes"),
    ("30s", "30 seconds"), ("1d", "1 day"), ("2w", "2 weeks"),
])
def test_durations_read_as_words(duration: str, words: str) -> None:
    assert duration_words(duration) == words


@pytest.mark.parametrize("duration", ["", "5", "m5", "5 m", "1.5h", "5mm"])
def test_a_malformed_duration_is_refused(duration: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        duration_words(duration)


def test_the_cost_anomaly_page_states_its_rule_s_for() -> None:
    assert RULES["GenAICostAnomaly"].for_ == "5m"
    assert "must stay there for 5 minutes," in section(PAGES["runbooks/GenAICostAnomaly.md"], "Meaning")


def test_every_label_the_rule_sets_is_listed_on_the_page() -> None:
    from alerts.prometheus_rules import alert_rules

    for rule in alert_rules(SPEC):
        listed = {label.split("=")[0] for label in ALERT_PAGES[rule.name].labels}
        assert set(rule.labels) <= listed, rule.name


def test_a_spec_without_objectives_has_no_slo_pages_and_no_links_to_them() -> None:
    def change(data: dict[str, Any]) -> None:
        data["slos"]["objectives"] = []

    pages = render(spec_with(change))
    slo_pages = {f"runbooks/{n}.md" for n in ALERT_PAGES if "SLO" in n}
    assert len(slo_pages) == 4
    assert set(pages) == set(PAGES) - slo_pages
    assert_relative_links_resolve(pages)
    assert "GenAIAvailabilitySLOPage" not in pages["runbooks/README.md"]
    outage = pages["runbooks/playbooks/provider-outage.md"]
    assert "- [GenAIProviderErrorsHigh](../GenAIProviderErrorsHigh.md)" in outage


# --- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RULES))
def test_alert_pages_have_the_five_sections_in_order_and_none_empty(name: str) -> None:
    found = sections(PAGES[f"runbooks/{name}.md"])
    assert [heading for heading, _ in found] == ALERT_SECTIONS
    assert all(body for _, body in found)


@pytest.mark.parametrize("name", sorted(PLAYBOOKS))
def test_playbooks_have_every_incident_phase(name: str) -> None:
    found = sections(PAGES[f"runbooks/playbooks/{name}.md"])
    assert [heading for heading, _ in found] == PLAYBOOK_SECTIONS
    assert all(body for _, body in found)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_runbooks_have_their_sections(name: str) -> None:
    found = sections(PAGES[f"runbooks/tasks/{name}.md"])
    assert [heading for heading, _ in found] == TASK_SECTIONS
    assert all(body for _, body in found)


def test_the_designed_playbooks_and_tasks_exist() -> None:
    assert set(PLAYBOOKS) == {
        "provider-outage", "guardrail-bypass", "sensitive-data-in-output", "prompt-injection", "cost-runaway",
        "api-key-compromise",
    }
    assert set(TASKS) == {
        "onboard-a-team", "rotate-a-key", "raise-a-budget", "escalate-a-guardrail-false-positive",
        "answer-a-cost-alert",
    }


def test_rendered_files_are_exactly_the_pages_and_the_index() -> None:
    expected = (
        {f"runbooks/{n}.md" for n in RULES}
        | {f"runbooks/playbooks/{n}.md" for n in PLAYBOOKS}
        | {f"runbooks/tasks/{n}.md" for n in TASKS}
        | {"runbooks/README.md"}
    )
    assert set(PAGES) == expected


def test_every_placeholder_is_filled() -> None:
    for path, page in PAGES.items():
        assert "${" not in page, path


# --- PromQL ----------------------------------------------------------------------------------


def test_every_alert_page_has_ready_promql() -> None:
    for name in RULES:
        assert PROMQL_BLOCK.search(section(PAGES[f"runbooks/{name}.md"], "Diagnosis")), name


@pytest.mark.parametrize(("path", "expr"), all_promql(PAGES), ids=lambda value: value.split("\n")[0][:60])
def test_every_promql_block_parses_and_reads_only_known_series(path: str, expr: str) -> None:
    names = selected_names(expr)
    unknown = {n for n in names if n not in catalog.series_names() and n not in RECORDING_RULES
               and not is_own_series(n)}
    assert unknown == set(), path


def _selectors(node: Any) -> list[Any]:
    found = [node] if type(node).__name__ == "VectorSelector" else []
    for attribute in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, str | int | float):
            found += _selectors(child)
    for child in getattr(node, "args", None) or ():
        found += _selectors(child)
    return found


def test_selectors_on_catalog_metrics_match_only_labels_the_metric_has() -> None:
    by_series = {s: m for m in catalog.CATALOG for s in m.series_names}
    checked = 0
    for path, expr in all_promql(PAGES):
        for selector in _selectors(promql_parser.parse(expr)):
            metric = by_series.get(selector.name)
            if metric is None:
                continue
            allowed = set(metric.labels) | ({"le"} if selector.name.endswith("_bucket") else set())
            used = {m.name for m in selector.matchers.matchers}
            assert used <= allowed, (path, selector.name, used - allowed)
            checked += 1
    assert checked > 50


def test_ttft_queries_select_the_bucket_as_the_exporter_spells_it() -> None:
    page = PAGES["runbooks/GenAITTFTSLOPage.md"]
    # claude-sonnet-ttft: 2 s, exposed as le="2.0"; gpt-4o-ttft: 1.5 s, exposed as le="1.5".
    assert 'genai_time_to_first_token_seconds_bucket{model="claude-sonnet-4", le="2.0"}' in page
    assert 'genai_time_to_first_token_seconds_bucket{model="gpt-4o", le="1.5"}' in page


def test_slo_pages_state_each_tier_s_error_ratio_threshold() -> None:
    page = PAGES["runbooks/GenAIAvailabilitySLOPage.md"]
    # 99.5 %: budget 0.5 % -> 14.4x 7.2 %, 6x 3 %, 3x 1.5 %, 1x 0.5 %; 99 %: 14.4 %, 6 %, 3 %, 1 %.
    assert "| `openai-availability` | availability | provider `openai` | 99.5 % | 7.2 % | 3 % | 1.5 % | 0.5 % |" in page
    assert "| `vertex-availability` | availability | provider `vertex_ai` | 99 % | 14.4 % | 6 % | 3 % | 1 % |" in page
    assert "gpt-4o-ttft" not in page  # TTFT objectives belong on the TTFT pages
    assert "| `gpt-4o-ttft` | ttft, good below 1.5 s | model `gpt-4o` | 95 % | 72 % | 30 % | 15 % | 5 % |" in (
        PAGES["runbooks/GenAITTFTSLOTicket.md"]
    )


# --- links -----------------------------------------------------------------------------------

DASHBOARD_LINK = re.compile(r"https://grafana\.northwind\.example/d/([^/]+)/([^?)\s]+)\?viewPanel=(\d+)")


def test_every_dashboard_link_names_an_existing_panel() -> None:
    by_uid = {ref.uid: ref for ref in DASHBOARDS.values()}
    links = [m for page in PAGES.values() for m in DASHBOARD_LINK.finditer(page)]
    assert len(links) >= len(RULES)
    for match in links:
        uid, slug, panel = match.groups()
        ref = by_uid[uid]
        assert slug == ref.slug
        assert int(panel) in ref.panels.values()


@pytest.mark.parametrize(("name", "url"), [
    ("GenAIBudgetThreshold", "https://grafana.northwind.example/d/gatewatch-cost/genai-cost-and-budgets?viewPanel=3"),
    ("GenAIGuardrailBypass",
     "https://grafana.northwind.example/d/gatewatch-security/genai-security-operations?viewPanel=8"),
    ("GenAIExporterDown", "https://grafana.northwind.example/d/gatewatch-overview/genai-platform-overview?viewPanel=7"),
])
def test_diagnosis_links_the_alert_s_panel(name: str, url: str) -> None:
    assert f"({url})" in section(PAGES[f"runbooks/{name}.md"], "Diagnosis")


def assert_relative_links_resolve(pages: dict[str, str]) -> None:
    for path, page in pages.items():
        base = path.rsplit("/", 1)[0]
        for target in MD_LINK.findall(page):
            if target.startswith("http"):
                continue
            parts: list[str] = base.split("/")
            for step in target.split("/"):
                if step == "..":
                    parts.pop()
                else:
                    parts.append(step)
            assert "/".join(parts) in pages, (path, target)


def test_every_relative_link_resolves_to_a_rendered_page() -> None:
    assert_relative_links_resolve(PAGES)


def test_every_playbook_and_task_is_reachable_from_an_alert_page() -> None:
    alert_pages = "".join(PAGES[f"runbooks/{n}.md"] for n in RULES)
    for name in PLAYBOOKS:
        assert f"(playbooks/{name}.md)" in alert_pages, name
    for name in TASKS:
        assert f"(tasks/{name}.md)" in alert_pages, name


def test_playbooks_detect_through_alerts_that_exist_and_link_back() -> None:
    for name, playbook in PLAYBOOKS.items():
        assert playbook.detection, name
        for alert in playbook.detection:
            assert alert in ALERT_PAGES, (name, alert)


def test_the_index_links_every_page() -> None:
    index = PAGES["runbooks/README.md"]
    linked = {target for target in MD_LINK.findall(index)}
    assert linked == {p.removeprefix("runbooks/") for p in PAGES if p != "runbooks/README.md"}


# --- escalation ------------------------------------------------------------------------------


def _row(text: str, team: str) -> str:
    rows = [line for line in text.splitlines() if line.startswith(f"| `{team}` |")]
    assert len(rows) == 1, team
    return rows[0]


@pytest.mark.parametrize("name", ["GenAIBudgetThreshold", "GenAIBudgetExhausted", "GenAIBudgetOverrunProjected",
                                  "GenAICostAnomaly"])
def test_budget_alerts_escalate_to_each_team_s_budget_owner_not_on_call(name: str) -> None:
    text = section(PAGES[f"runbooks/{name}.md"], "Escalation")
    support = _row(text, "support")
    assert "Marcus Okafor" in support and "marcus.okafor@northwind.example" in support
    assert "`budget-support`" in support and "25000 USD" in support
    search = _row(text, "search")
    assert "Priya Natarajan" in search and "`search-oncall-chat`" in search
    assert "25 %, 50 %, 75 %, 90 %, 100 %" in search  # search's own thresholds
    assert "8x" in _row(text, "research")  # research's own anomaly factor
    assert "oncall-pager" not in text


def test_budget_escalation_names_the_receiver_the_routing_tree_uses() -> None:
    from alerts.routing import team_receivers

    text = section(PAGES["runbooks/GenAIBudgetThreshold.md"], "Escalation")
    for team, receiver in team_receivers(SPEC).items():
        assert f"receiver `{receiver}`" in _row(text, team)


def test_security_alerts_escalate_to_security_operations() -> None:
    for name, rule in RULES.items():
        if rule.audience != "security":
            continue
        text = section(PAGES[f"runbooks/{name}.md"], "Escalation")
        assert "`secops`" in text and "`#secops-alerts`" in text, name
        assert "oncall-pager" not in text, name


def test_platform_alerts_escalate_to_on_call() -> None:
    text = section(PAGES["runbooks/GenAIExporterDown.md"], "Escalation")
    assert "`oncall-pager` (PagerDuty)" in text
    assert "secops" not in text and "@" not in text


def test_unattributed_spend_escalates_to_the_finance_contact() -> None:
    text = section(PAGES["runbooks/GenAIUnattributedSpend.md"], "Escalation")
    assert "`finops`" in text and "finops@northwind.example" in text
    assert "oncall-pager" not in text and "northwind.example" not in text.replace("finops@northwind.example", "")


def test_the_watchdog_escalates_to_the_dead_man_s_switch() -> None:
    text = section(PAGES["runbooks/Watchdog.md"], "Escalation")
    assert "`deadman-switch`" in text and "`oncall-pager`" in text


def test_the_runaway_loop_pages_on_call_and_names_team_owners() -> None:
    text = section(PAGES["runbooks/GenAIRunawayLoop.md"], "Escalation")
    assert "`oncall-pager`" in text and "budget owner already got a copy" in text
    assert "amara-diallo" in _row(text, "research")


def test_contacts_and_thresholds_come_from_the_spec() -> None:
    def change(data: dict[str, Any]) -> None:
        data["organization"]["finance_contact"] = "treasury-desk"
        data["teams"][1]["budget_owner"] = {"name": "Ada Lovelace", "email": "ada@northwind.example"}
        data["alerting"]["provider_error_ratio"] = 0.4
        del data["alerting"]["team_overrides"]["search"]

    pages = render(spec_with(change))
    finance = section(pages["runbooks/GenAIUnattributedSpend.md"], "Escalation")
    assert "`treasury-desk`" in finance and "`finops`" in finance  # contact, then its receiver
    budget = section(pages["runbooks/GenAIBudgetExhausted.md"], "Escalation")
    assert "Ada Lovelace, ada@northwind.example" in _row(budget, "support")
    assert "Marcus Okafor" not in budget
    assert "`budget-search`" in _row(budget, "search") and "50 %, 75 %, 90 %, 100 %" in _row(budget, "search")
    assert "More than 40 % of the requests" in section(pages["runbooks/GenAIProviderErrorsHigh.md"], "Meaning")


def test_a_spec_without_alerting_still_renders_every_page() -> None:
    def change(data: dict[str, Any]) -> None:
        del data["alerting"]

    pages = render(spec_with(change))
    assert set(pages) == set(PAGES)
    for name in RULES:
        assert [h for h, body in sections(pages[f"runbooks/{name}.md"]) if body] == ALERT_SECTIONS
    # The model's defaults stand in for the missing section.
    assert "More than 25 % of the requests" in pages["runbooks/GenAIProviderErrorsHigh.md"]


# --- determinism and secrets -----------------------------------------------------------------


def test_output_is_deterministic() -> None:
    again = render(load(EXAMPLE_SPEC))
    assert again == PAGES
    assert list(again) == list(PAGES)


def _contact_emails(spec: Spec) -> set[str]:
    emails = {t.budget_owner.email for t in spec.teams if t.budget_owner.email}
    if spec.alerting is not None:
        emails |= {r.email.to for r in spec.alerting.receivers if r.email is not None}
    return emails


def test_the_only_emails_are_the_spec_s_contacts() -> None:
    found = {e for page in PAGES.values() for e in EMAIL.findall(page)}
    assert found
    assert found <= _contact_emails(SPEC)
    assert "gatewatch-alerts@northwind.example" not in found  # the SMTP sender is no contact


def test_no_secret_file_webhook_url_or_smtp_login_reaches_a_page() -> None:
    def change(data: dict[str, Any]) -> None:
        data["alerting"]["receivers"][3]["webhook"]["url"] = "https://deadman.example/ping/s3cr3t-t0ken-123"

    pages = render(spec_with(change))
    text = "\n".join(pages.values())
    assert "s3cr3t-t0ken-123" not in text and "deadman.example" not in text
    assert "/etc/alertmanager/secrets" not in text
    assert "gatewatch-alerts" not in text  # smtp auth_username
    assert "smtp.northwind.example" not in text
