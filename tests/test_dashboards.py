"""Structural tests of the generated Grafana dashboards and their provisioning.

The data test (tests/test_dashboard_data.py) runs every query against a real Prometheus; these
check what can be checked without one: the JSON model, layout, variables, and that every query
parses and reads only series that exist.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import promql_parser
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from alerts.model import RecordingRule
from alerts.prometheus_rules import all_groups
from contract import catalog
from contract import spec as spec_model
from contract.dashboards import DASHBOARDS, DashboardRef
from dashboards import render
from dashboards.panels import Panel, Query, layout
from tests.paths import EXAMPLE_SPEC
from tests.support.promql import selected_names

SPEC = spec_model.load(EXAMPLE_SPEC)
FILES = render.render(SPEC)
BOARDS: dict[str, dict[str, Any]] = {
    path.removeprefix("grafana/dashboards/").removesuffix(".json"): json.loads(text)
    for path, text in FILES.items()
    if path.startswith("grafana/dashboards/")
}
REF_BY_UID = {ref.uid: ref for ref in DASHBOARDS.values()}
PANELS = [(uid, panel) for uid, board in BOARDS.items() for panel in board["panels"]]
QUERIES = render.panel_queries(SPEC)

# Distinct durations, so a parsed range tells which variable it came from.
RATE_INTERVAL = timedelta(minutes=7, seconds=13)
SUBSTITUTIONS = {"$__rate_interval": "7m13s", "$__range": "11d", "$__interval": "17s"}
BUILTINS = {"__rate_interval", "__range", "__interval"}
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]")


def substituted(expr: str) -> str:
    for name, value in SUBSTITUTIONS.items():
        expr = expr.replace(name, value)
    return re.sub(r"\$\{?(team|app|model|provider)\}?", "some-value", expr)


def recorded_names() -> set[str]:
    return {rule.record for group in all_groups(SPEC) for rule in group.rules if isinstance(rule, RecordingRule)}


def walk(node: Any) -> Iterator[Any]:
    yield node
    for attribute in ("expr", "lhs", "rhs", "vector_selector", "param"):
        child = getattr(node, attribute, None)
        if child is not None and not isinstance(child, str | int | float):
            yield from walk(child)
    for child in getattr(node, "args", None) or ():
        yield from walk(child)


def query_id(query: tuple[str, int, str, str]) -> str:
    return f"{query[0]}#{query[1]}"


# ---- files and the dashboard model ------------------------------------------------------------

def test_renders_one_dashboard_per_links_table_entry_and_the_provisioning() -> None:
    assert set(FILES) == {
        "grafana/dashboards/gatewatch-overview.json",
        "grafana/dashboards/gatewatch-cost.json",
        "grafana/dashboards/gatewatch-security.json",
        "grafana/dashboards/gatewatch-team.json",
        "grafana/dashboards/gatewatch-adoption.json",
        "grafana/provisioning/dashboards/gatewatch.yml",
        "grafana/provisioning/datasources/prometheus.yml",
    }
    assert set(BOARDS) == {ref.uid for ref in DASHBOARDS.values()}


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_dashboard_is_the_grafana_12_schema_with_the_links_table_title(uid: str) -> None:
    board = BOARDS[uid]
    assert board["schemaVersion"] == 42  # what Grafana 12 writes, and what SDK 0.0.21 emits
    assert board["uid"] == uid
    assert board["title"] == REF_BY_UID[uid].title
    assert isinstance(board["panels"], list) and board["panels"]


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_description_names_owner_audience_and_review_cadence(uid: str) -> None:
    description = BOARDS[uid]["description"]
    for field in ("Owner: ", "Audience: ", "Review: "):
        assert field in description


def test_output_is_deterministic() -> None:
    assert render.render(SPEC) == FILES
    for path, text in FILES.items():
        if path.endswith(".json"):
            assert json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n" == text


# ---- panels -----------------------------------------------------------------------------------

@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_panel_ids_are_unique_and_exactly_the_links_table(uid: str) -> None:
    ids = [panel["id"] for panel in BOARDS[uid]["panels"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(REF_BY_UID[uid].panels.values())


def test_alert_panel_links_point_at_existing_panels() -> None:
    for ref in DASHBOARDS.values():
        ids = {panel["id"] for panel in BOARDS[ref.uid]["panels"]}
        for key, panel_id in ref.panels.items():
            assert panel_id in ids, f"{ref.key}/{key}"


@pytest.mark.parametrize(("uid", "panel"), PANELS, ids=[f"{u}#{p['id']}" for u, p in PANELS])
def test_panel_has_title_description_unit_and_the_datasource_variable(uid: str, panel: dict[str, Any]) -> None:
    assert panel["title"].strip()
    assert len(panel["description"]) > 20
    assert panel["fieldConfig"]["defaults"]["unit"]
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert panel["targets"]
    for target in panel["targets"]:
        assert target["datasource"]["uid"] == "${datasource}"


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    across = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
    down = a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
    return across and down


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_panels_fit_the_grid_and_never_overlap(uid: str) -> None:
    positions = [panel["gridPos"] for panel in BOARDS[uid]["panels"]]
    for pos in positions:
        assert pos["x"] >= 0 and pos["y"] >= 0 and pos["w"] > 0 and pos["h"] > 0
        assert pos["x"] + pos["w"] <= 24
    for a, b in itertools.combinations(positions, 2):
        assert not _overlap(a, b), (a, b)


def test_overlap_check_itself_catches_an_overlap() -> None:
    assert _overlap({"x": 0, "y": 0, "w": 12, "h": 8}, {"x": 11, "y": 7, "w": 4, "h": 4})
    assert not _overlap({"x": 0, "y": 0, "w": 12, "h": 8}, {"x": 12, "y": 0, "w": 12, "h": 8})
    assert not _overlap({"x": 0, "y": 0, "w": 12, "h": 8}, {"x": 0, "y": 8, "w": 12, "h": 8})


PROPERTY_REF = DashboardRef("p", "p", "p", {f"k{i}": i + 1 for i in range(30)})


@given(st.lists(st.tuples(st.integers(1, 24), st.integers(1, 12)), min_size=1, max_size=30))
def test_layout_never_overlaps_whatever_the_sizes(sizes: list[tuple[int, int]]) -> None:
    panels = [Panel(f"k{i}", "t", "d", "s", (Query("up"),), width=w, height=h) for i, (w, h) in enumerate(sizes)]
    placed = layout(PROPERTY_REF, panels)
    boxes = [{"x": p.x, "y": p.y, "w": p.w, "h": p.h} for p in placed]
    assert [(p.w, p.h) for p in placed] == sizes
    for box in boxes:
        assert box["x"] + box["w"] <= 24
    for a, b in itertools.combinations(boxes, 2):
        assert not _overlap(a, b)


def test_layout_refuses_a_panel_missing_from_the_links_table() -> None:
    with pytest.raises(KeyError, match="nope"):
        layout(PROPERTY_REF, [Panel("nope", "t", "d", "s", ())])


# ---- variables and queries --------------------------------------------------------------------

def _defined(board: dict[str, Any]) -> set[str]:
    return {variable["name"] for variable in board["templating"]["list"]}


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_datasource_variable_and_only_the_agreed_query_variables(uid: str) -> None:
    variables = {v["name"]: v for v in BOARDS[uid]["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert set(variables) <= {"datasource", "team", "app", "model", "provider"}
    for name, variable in variables.items():
        if name != "datasource":
            assert variable["type"] == "query"
            assert variable["datasource"]["uid"] == "${datasource}"


def test_each_dashboard_has_the_filters_its_workflow_needs() -> None:
    expected = {
        "gatewatch-overview": {"datasource", "team", "model", "provider"},
        "gatewatch-cost": {"datasource", "team", "app", "model", "provider"},
        "gatewatch-security": {"datasource", "team", "app"},
        "gatewatch-team": {"datasource", "team", "app", "model"},
        "gatewatch-adoption": {"datasource"},
    }
    assert {uid: _defined(board) for uid, board in BOARDS.items()} == expected


def test_team_dashboard_shows_one_team_so_it_can_be_shared_per_team() -> None:
    team = next(v for v in BOARDS["gatewatch-team"]["templating"]["list"] if v["name"] == "team")
    assert team["multi"] is False and team["includeAll"] is False


VARIABLE_QUERY = re.compile(r"^label_values\((?P<selector>.+), (?P<label>\w+)\)$")


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_variable_queries_read_a_label_of_a_catalog_metric(uid: str) -> None:
    board = BOARDS[uid]
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = VARIABLE_QUERY.match(variable["query"])
        assert match, variable["query"]
        (name,) = selected_names(substituted(match["selector"]))
        assert match["label"] in catalog.BY_NAME[name].labels
        for used in VARIABLE.findall(match["selector"]):
            assert {u for u in used if u} <= _defined(board)


@pytest.mark.parametrize("query", QUERIES, ids=[query_id(q) for q in QUERIES])
def test_every_variable_a_query_uses_is_defined(query: tuple[str, int, str, str]) -> None:
    uid, _, _, expr = query
    used = {name for groups in VARIABLE.findall(expr) for name in groups if name}
    assert used <= _defined(BOARDS[uid]) | BUILTINS


@pytest.mark.parametrize("query", QUERIES, ids=[query_id(q) for q in QUERIES])
def test_every_query_parses_and_reads_catalog_series_or_recording_rules(query: tuple[str, int, str, str]) -> None:
    names = selected_names(substituted(query[3]))
    allowed = catalog.series_names() | recorded_names() | {"ALERTS"}
    assert names, "a query that reads no series shows a constant"
    assert names <= allowed, names - allowed


@pytest.mark.parametrize("query", QUERIES, ids=[query_id(q) for q in QUERIES])
def test_rates_use_rate_interval_and_long_windows_read_recording_rules(query: tuple[str, int, str, str]) -> None:
    tree = promql_parser.parse(substituted(query[3]))
    raw = catalog.series_names()
    for node in walk(tree):
        if type(node).__name__ == "Call" and node.func.name in ("rate", "irate"):
            (matrix,) = [a for a in node.args if type(a).__name__ == "MatrixSelector"]
            assert matrix.range == RATE_INTERVAL
        if type(node).__name__ == "MatrixSelector" and matrix_is_fixed_and_long(node.range):
            assert node.vector_selector.name not in raw, "a long fixed window over a raw series"


def matrix_is_fixed_and_long(window: timedelta) -> bool:
    """Longer than an hour and not the dashboard's own range (``$__range``, chosen by the reader)."""
    return window > timedelta(hours=1) and window != timedelta(days=11)


def test_the_checks_catch_an_undefined_variable_and_an_unknown_series() -> None:
    used = {n for groups in VARIABLE.findall('x{slo=~"$slo", t="${team}"}') for n in groups if n}
    assert used == {"slo", "team"}
    assert not used <= _defined(BOARDS["gatewatch-team"]) | BUILTINS
    assert "genai_made_up_total" not in catalog.series_names() | recorded_names()


# ---- what the issue names, checked by hand ----------------------------------------------------

def _queries(dashboard: str, panel: str) -> list[str]:
    ref = DASHBOARDS[dashboard]
    return [expr for uid, pid, _, expr in QUERIES if uid == ref.uid and pid == ref.panels[panel]]


def test_firing_alerts_panel_shows_gatewatch_alerts_that_fire() -> None:
    assert _queries("overview", "firing-alerts") == ['ALERTS{alertstate="firing", source="gatewatch"}']


def test_error_budget_left_divides_the_30_day_error_ratio_by_each_objectives_budget() -> None:
    queries = _queries("overview", "error-budget")
    # ops.yaml: three availability SLOs (99.5, 99.5, 99.0) and two TTFT SLOs at 95 %.
    assert len(queries) == 5
    openai = next(q for q in queries if 'slo="openai-availability"' in q)
    assert openai.endswith(") / 0.005")
    assert "[30d]" in openai and "slo:sli_errors:rate5m" in openai and "slo:sli_requests:rate5m" in openai
    vertex = next(q for q in queries if 'slo="vertex-availability"' in q)
    assert vertex.endswith(") / 0.01")


def test_month_to_date_reads_the_recording_rule_against_the_budget() -> None:
    (expr,) = _queries("cost", "month-to-date")
    assert selected_names(substituted(expr)) == {"team:genai_cost_usd:month_to_date", "genai_team_budget_usd"}
    assert "max by (team) (genai_team_budget_usd" in expr


def test_time_to_first_success_is_first_success_minus_first_seen_earliest_across_replicas() -> None:
    (expr,) = _queries("adoption", "time-to-first-success")
    first, _, second = expr.partition("\n- ")
    assert first.startswith("min by (team) (genai_team_first_success_timestamp_seconds")
    assert second.startswith("min by (team) (genai_team_first_seen_timestamp_seconds")


def test_cache_savings_reads_the_cache_saved_counter() -> None:
    (expr,) = _queries("cost", "cache-savings")
    assert selected_names(substituted(expr)) == {"genai_cache_saved_usd_total"}


# ---- links and provisioning -------------------------------------------------------------------

@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_links_to_every_other_dashboard_and_the_runbooks(uid: str) -> None:
    urls = {link["url"] for link in BOARDS[uid]["links"]}
    others = {f"/d/{ref.uid}/{ref.slug}" for ref in DASHBOARDS.values() if ref.uid != uid}
    assert others <= urls
    assert "https://runbooks.northwind.example/gatewatch/README.md" in urls  # ops.yaml's runbook_base_url
    assert f"/d/{uid}/{REF_BY_UID[uid].slug}" not in urls


def test_datasource_provisioning_is_the_compose_prometheus_with_a_stable_uid() -> None:
    provisioning = yaml.safe_load(FILES["grafana/provisioning/datasources/prometheus.yml"])
    (source,) = provisioning["datasources"]
    assert source["uid"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["type"] == "prometheus"
    # $__rate_interval is four scrape intervals at least: Grafana must know the real one (15 s).
    assert source["jsonData"]["timeInterval"] == "15s"


def test_dashboard_provisioning_loads_the_mounted_directory_read_only() -> None:
    provisioning = yaml.safe_load(FILES["grafana/provisioning/dashboards/gatewatch.yml"])
    (provider,) = provisioning["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/gatewatch"  # compose.yaml mounts it there
    assert provider["allowUiUpdates"] is False
