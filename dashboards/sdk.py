"""The one module that speaks the Grafana Foundation SDK: a Board in, Grafana's dashboard JSON out.

The SDK is young and its builder API moves between releases; keeping every call to it here
means an upgrade touches this file only. Pinned release 0.0.21 emits the Grafana 12 schema.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from dashboards.panels import DATASOURCE_UID, DATASOURCE_VARIABLE, Board, Panel, Placed, Query, layout

with warnings.catch_warnings():
    # The classic (v1) dashboard builder announces the v2 schema; Grafana 12 provisions v1 from
    # files and v2 is still behind a feature flag, so v1 is the model to emit.
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import bargauge, heatmap, prometheus, stat, table, timeseries
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dashboard_builders
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common as common_models
    from grafana_foundation_sdk.models import dashboard as dashboard_models
    from grafana_foundation_sdk.models import prometheus as prometheus_models

DATASOURCE = common_models.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
_FORMATS = {
    "time_series": prometheus_models.PromQueryFormat.TIME_SERIES,
    "table": prometheus_models.PromQueryFormat.TABLE,
    "heatmap": prometheus_models.PromQueryFormat.HEATMAP,
}
_BUILDERS: dict[str, Any] = {
    "timeseries": timeseries.Panel,
    "stat": stat.Panel,
    "bargauge": bargauge.Panel,
    "table": table.Panel,
    "heatmap": heatmap.Panel,
}


def dashboard_json(board: Board) -> dict[str, Any]:
    """Grafana's JSON model of ``board`` (the classic dashboard schema, Grafana 12)."""
    builder = (
        dashboard_builders.Dashboard(board.ref.title)
        .uid(board.ref.uid)
        .description(board.description)
        .tags(list(board.tags))
        .time(board.time_from, "now")
        .refresh(board.refresh)
        .timezone("browser")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dashboard_builders.DatasourceVariable(DATASOURCE_VARIABLE)
            .label("Data source")
            .description("The Prometheus that scrapes gatewatch (or the one it remote-writes to).")
            .type("prometheus")
        )
    )
    for variable in board.variables:
        builder = builder.with_variable(
            dashboard_builders.QueryVariable(variable.name)
            .label(variable.label)
            .description(variable.description)
            .datasource(DATASOURCE)
            .query(variable.query)
            .definition(variable.query)
            .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
            .multi(variable.multi)
            .include_all(variable.multi)
            .all_value(".*")
        )
    for link in board.links:
        builder = builder.link(
            dashboard_builders.DashboardLink(link.title)
            .type(dashboard_models.DashboardLinkType.LINK)
            .url(link.url)
            .tooltip(link.tooltip)
            .icon("dashboard" if link.internal else "doc")
            .keep_time(link.internal)
            .include_vars(link.internal)
            .target_blank(not link.internal)
        )
    for placed in layout(board.ref, board.panels):
        builder = builder.with_panel(_panel(placed))
    text = JSONEncoder(sort_keys=True, indent=2).encode(builder.build())
    result: dict[str, Any] = json.loads(text)
    return result


def _panel(placed: Placed) -> Any:
    panel = placed.panel
    builder = (
        _BUILDERS[panel.kind]()
        .id(placed.id)
        .title(panel.title)
        .description(panel.description)
        .unit(panel.unit)
        .datasource(DATASOURCE)
        .grid_pos(dashboard_models.GridPos(h=placed.h, w=placed.w, x=placed.x, y=placed.y))
    )
    for i, query in enumerate(panel.queries):
        builder = builder.with_target(_target(query, chr(ord("A") + i)))
    if panel.min is not None:
        builder = builder.min(panel.min)
    if panel.max is not None:
        builder = builder.max(panel.max)
    if panel.decimals is not None:
        builder = builder.decimals(panel.decimals)
    if panel.thresholds:
        steps = [dashboard_models.Threshold(value=None, color=panel.base_color)]
        steps += [dashboard_models.Threshold(value=t.value, color=t.color) for t in panel.thresholds]
        builder = builder.thresholds(
            dashboard_builders.ThresholdsConfig().mode(dashboard_models.ThresholdsMode.ABSOLUTE).steps(steps)
        )
    return _options(panel, builder)


def _options(panel: Panel, builder: Any) -> Any:
    if panel.kind == "timeseries":
        builder = builder.legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.RIGHT)
            .calcs(["lastNotNull", "max"])
        ).fill_opacity(10 if not panel.stacked else 40)
        if panel.stacked:
            builder = builder.stacking(
                common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL)
            )
    elif panel.kind in ("stat", "bargauge"):
        builder = builder.reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
    elif panel.kind == "heatmap":
        # Prometheus already buckets the data: Grafana must not re-bucket it.
        builder = builder.calculate(False)
    return builder


def _target(query: Query, ref_id: str) -> Any:
    target = (
        prometheus.Dataquery()
        .expr(query.expr)
        .ref_id(ref_id)
        .datasource(DATASOURCE)
        .format(_FORMATS[query.format])
    )
    if query.legend:
        target = target.legend_format(query.legend)
    return target.instant() if query.instant else target.range()
