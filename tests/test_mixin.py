"""The jsonnet mixin (build/mixin/), evaluated offline with the jsonnet package: with its default
_config it is build/'s rules and dashboards; an overridden selector reaches every expression that
reads the exporter's series; overridden thresholds give what the generator gives for them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import _jsonnet
import msgspec
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from contract import spec as spec_model
from generate import render_all, write
from mixin import thresholds
from mixin.render import dashboards_by_file, rule_groups
from mixin.templating import Templater, exporter_series
from tests.paths import EXAMPLE_SPEC
from tests.support.promql import vector_selectors

SELECTOR = 'cluster="eu-1", namespace="ai-gateway"'
SPEC_ALERT = "GenAISpecOutOfStep"


@pytest.fixture(scope="module")
def spec() -> spec_model.Spec:
    return spec_model.load(EXAMPLE_SPEC)


@pytest.fixture(scope="module")
def mixin_dir(tmp_path_factory: pytest.TempPathFactory, spec: spec_model.Spec) -> Path:
    out = tmp_path_factory.mktemp("build")
    write(render_all(spec), out)
    return out / "mixin"


def evaluate(mixin_dir: Path, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The mixin as a jsonnet-bundler user's file would import it, with ``config`` merged into _config."""
    overrides = json.dumps(config or {})
    snippet = f"""
    local mixin = (import 'mixin.libsonnet') + {{ _config+:: std.mergePatch(super._config, {overrides}) }};
    {{ rules: mixin.prometheusRules, alerts: mixin.prometheusAlerts, dashboards: mixin.grafanaDashboards }}
    """
    return json.loads(_jsonnet.evaluate_snippet("test.jsonnet", snippet, jpathdir=[str(mixin_dir)]))


def test_default_config_gives_exactly_builds_rules_and_dashboards(mixin_dir: Path, spec: spec_model.Spec) -> None:
    out = evaluate(mixin_dir)
    build = mixin_dir.parent
    assert out["rules"] == yaml.safe_load((build / "prometheus/rules/gatewatch-recording.yml").read_text())
    assert out["alerts"] == yaml.safe_load((build / "prometheus/rules/gatewatch-alerts.yml").read_text())
    boards = {f.name: json.loads(f.read_text()) for f in (build / "grafana/dashboards").glob("*.json")}
    assert len(boards) >= 5
    assert out["dashboards"] == boards


def _expressions(out: dict[str, Any]) -> list[str]:
    exprs = [r["expr"] for doc in ("rules", "alerts") for g in out[doc]["groups"] for r in g["rules"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "query", "definition") and isinstance(value, str) and value:
                    exprs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(out["dashboards"])
    return exprs


def _grafana_free(expr: str) -> str:
    """Grafana's variables and its label_values() function made plain PromQL, so it parses."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__range", "1d").replace("$__interval", "1m")
    expr = expr.replace("${__range_s}", "86400")
    if expr.startswith("label_values("):
        expr = expr.removeprefix("label_values(").rpartition(",")[0]
    return re.sub(r"\$\{?(\w+)\}?", r"\1", expr)


def _exporter_selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(series name, equality matchers) of every selector reading the exporter's series."""
    series = set(exporter_series())
    return [(name, matchers) for name, matchers in vector_selectors(_grafana_free(expr))
            if name in series or (name == "up" and "job" in matchers)]


def test_an_overridden_selector_reaches_every_expression_reading_the_exporter(mixin_dir: Path) -> None:
    out = evaluate(mixin_dir, {"gatewatchSelector": SELECTOR})
    wanted = {"cluster": "eu-1", "namespace": "ai-gateway"}
    selectors = [s for expr in _expressions(out) for s in _exporter_selectors(expr)]
    assert len(selectors) > 50
    missing = [(name, m) for name, m in selectors if not wanted.items() <= m.items()]
    assert missing == []


def test_the_selector_check_finds_a_selector_without_it(mixin_dir: Path) -> None:
    assert _exporter_selectors('sum(rate(genai_requests_total{team="a"}[5m])) / up{job="gatewatch"}') == [
        ("genai_requests_total", {"team": "a"}), ("up", {"job": "gatewatch"})]
    default = evaluate(mixin_dir)
    assert any(not {"cluster"} <= m.keys() for e in _expressions(default) for _, m in _exporter_selectors(e))


def test_the_exporter_job_is_configurable(mixin_dir: Path) -> None:
    out = evaluate(mixin_dir, {"exporterJob": "ai-exporter"})
    jobs = {m["job"] for e in _expressions(out) for name, m in _exporter_selectors(e) if name == "up"}
    assert jobs == {"ai-exporter"}


@pytest.mark.parametrize("overrides", [
    {"providerErrorRatio": 0.4, "minRequestsPerHour": 10},
    {"staleAfterSeconds": 1200, "appVolumeFactor": 3, "guardrailBlockFactor": 2.5},
    {"runawayLoopFactor": 20, "costAnomalyMinUSDPerHour": 5, "sensitiveEntitiesPerHour": 50,
     "providerLatencyP95Seconds": 30},
])
def test_overridden_thresholds_give_the_generators_rules_for_them(mixin_dir: Path, spec: spec_model.Spec,
                                                                 overrides: dict[str, float]) -> None:
    out = evaluate(mixin_dir, {"thresholds": overrides})
    expected = rule_groups(thresholds.with_values(spec, overrides))
    for doc, kind in (("rules", "recording"), ("alerts", "alerts")):
        # The spec hash names the spec the rules came from; the mixin's thresholds sit on top of it.
        got = {r.get("alert", r.get("record")) + str(i): r["expr"]
               for g in out[doc]["groups"] for i, r in enumerate(g["rules"]) if r.get("alert") != SPEC_ALERT}
        want = {r.get("alert", r.get("record")) + str(i): r["expr"]
                for g in expected[kind] for i, r in enumerate(g["rules"]) if r.get("alert") != SPEC_ALERT}
        assert got == want
    assert out != evaluate(mixin_dir)


def test_every_threshold_reaches_some_rule(mixin_dir: Path) -> None:
    text = (mixin_dir / "rules.libsonnet").read_text()
    assert [t.config_key for t in thresholds.THRESHOLDS if f"%({t.config_key})s" not in text] == []


def test_overridden_urls_and_datasource_reach_alerts_and_dashboards(mixin_dir: Path) -> None:
    out = evaluate(mixin_dir, {"runbookURLBase": "https://wiki.example/rb", "dashboardURLBase": "https://g.example",
                               "datasource": "Thanos"})
    annotations = [r["annotations"] for g in out["alerts"]["groups"] for r in g["rules"] if "alert" in r]
    assert all(a["runbook_url"].startswith("https://wiki.example/rb/") for a in annotations)
    assert all(a["dashboard_url"].startswith("https://g.example/") for a in annotations)
    for board in out["dashboards"].values():
        (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
        assert variable["current"] == {"text": "Thanos", "value": "Thanos"}
    assert "runbooks.northwind.example" not in json.dumps(out)


def test_the_mixin_follows_the_mixin_conventions(mixin_dir: Path) -> None:
    out = json.loads(_jsonnet.evaluate_snippet("t", "std.objectFieldsAll(import 'mixin.libsonnet')",
                                               jpathdir=[str(mixin_dir)]))
    assert {"_config", "prometheusRules", "prometheusAlerts", "grafanaDashboards"} <= set(out)
    assert json.loads((mixin_dir / "jsonnetfile.json").read_text())["dependencies"] == []


def test_sentinels_are_valid_values_and_distinct(spec: spec_model.Spec) -> None:
    marks = [f"{t.sentinel:g}" for t in thresholds.THRESHOLDS]
    assert len(set(marks)) == len(marks)
    assert not any(a != b and a in b for a in marks for b in marks)
    msgspec.convert(msgspec.to_builtins(thresholds.sentinel_spec(spec)), spec_model.Spec)
    assert dashboards_by_file(spec)


@given(name=st.sampled_from(exporter_series()),
       matchers=st.lists(st.tuples(st.sampled_from(["team", "app", "outcome"]), st.from_regex(r"[a-z_]{1,8}",
                                                                                            fullmatch=True)),
                         max_size=2, unique_by=lambda m: m[0]),
       window=st.sampled_from(["", "[5m]"]), percent=st.booleans())
def test_templating_adds_the_selector_to_any_exporter_selector(name: str, matchers: list[tuple[str, str]],
                                                               window: str, percent: bool) -> None:
    inner = ", ".join(f'{k}="{v}"' for k, v in matchers)
    selector = f"{name}{{{inner}}}" if matchers else name
    expr = f"sum({'rate(' + selector + window + ')' if window else selector})" + (" % 7" if percent else "")
    templated = Templater("https://rb.example", "https://g.example").expression(expr, expr.replace("%", "%%"))
    plain = {"gatewatchSelectorBraces": "", "gatewatchSelectorPrefix": "", "exporterJob": "gatewatch"}
    assert templated % plain == expr
    scoped = {"gatewatchSelectorBraces": '{cluster="eu-1"}', "gatewatchSelectorPrefix": 'cluster="eu-1", ',
              "exporterJob": "gatewatch"}
    assert vector_selectors(templated % scoped) == [(name, {"cluster": "eu-1", **dict(matchers)})]
