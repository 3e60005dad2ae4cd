"""Chargeback renderers: CSV, Markdown, a self-contained HTML page with an inline SVG chart,
and FinOps FOCUS 1.2 CSV. Each returns the whole document as text; nothing is written here."""

from __future__ import annotations

import csv
import html
import io

from contract.spec import Spec
from reports import focus
from reports.ledger import FOOTER, TOKEN_TYPES, Chargeback, Line

CSV_COLUMNS = ("team", "cost_center", "app", "model", "provider", "allocation", "requests",
               *(f"{t}_tokens" for t in TOKEN_TYPES), "cost_usd")


def render(report: Chargeback, fmt: str, spec: Spec) -> str:
    renderers = {"csv": to_csv, "md": to_markdown, "html": to_html}
    if fmt == "focus":
        return to_focus(report, spec)
    return renderers[fmt](report)


def _number(value: float, places: int = 0) -> str:
    return f"{value:.{places}f}" if places else f"{round(value):d}"


def _row(report: Chargeback, line: Line) -> list[str]:
    return [line.team, report.cost_center(line.team), line.app, line.model, line.provider, line.allocation,
            _number(line.requests), *(_number(t) for t in line.tokens), f"{line.cost:.6f}"]


def _title(report: Chargeback) -> str:
    return f"gatewatch chargeback {report.period.label}"


def _about(report: Chargeback) -> str:
    return (f"Period {focus.iso(report.period.start)} to {focus.iso(report.period.end)} (UTC, end exclusive); "
            f"source {report.source}; generated {focus.iso(report.generated_at)}.")


def to_csv(report: Chargeback) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in report.lines():
        writer.writerow(_row(report, line))
    writer.writerow(["TOTAL", "", "", "", "", "", _number(report.total_requests()), "", "", "", "",
                     f"{report.total_cost():.6f}"])
    out.write(f"# {FOOTER}\n")
    return out.getvalue()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"


def to_markdown(report: Chargeback) -> str:
    direct = report.direct_by_team()
    parts = [f"# {_title(report)}\n", f"{_about(report)}\n", "## By team\n",
             "| Team | Cost centre | Direct USD | After allocation USD |", "|---|---|---:|---:|"]
    for team, cost in report.by_team().items():
        parts.append(f"| {_md_cell(team)} | {_md_cell(report.cost_center(team))} | "
                     f"{direct.get(team, 0.0):,.2f} | {cost:,.2f} |")
    parts.append(f"| **Total** | | **{report.total_cost():,.2f}** | **{sum(report.by_team().values()):,.2f}** |")
    parts += ["", "## Detail\n",
              "| Team | App | Model | Provider | Allocation | Requests | Input tok | Output tok | USD |",
              "|---|---|---|---|---|---:|---:|---:|---:|"]
    for line in report.lines():
        parts.append(
            f"| {_md_cell(line.team)} | {_md_cell(line.app)} | {_md_cell(line.model)} | {_md_cell(line.provider)} | "
            f"{_md_cell(line.allocation)} | {line.requests:,.0f} | {line.tokens[0]:,.0f} | {line.tokens[1]:,.0f} | "
            f"{line.cost:,.2f} |")
    parts += ["", f"_{FOOTER}_", ""]
    return "\n".join(parts)


def _chart(by_team: dict[str, float]) -> str:
    """Horizontal bars of cost per team after allocation, as inline SVG."""
    width, bar, gap, label_w = 640, 22, 8, 160
    top = max([abs(v) for v in by_team.values()] + [1e-9])
    height = len(by_team) * (bar + gap) + gap
    items = []
    for i, (team, cost) in enumerate(by_team.items()):
        y = gap + i * (bar + gap)
        length = max(0.0, cost) / top * (width - label_w - 110)
        items.append(
            f'<text x="{label_w - 6}" y="{y + bar * 0.7:.1f}" text-anchor="end">{html.escape(team)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar}" fill="#3b6ea5"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + bar * 0.7:.1f}">${cost:,.2f}</text>'
        )
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Cost by team" '
            f'width="{width}" height="{height}" font-family="sans-serif" font-size="13">{"".join(items)}</svg>')


def to_html(report: Chargeback) -> str:
    esc = html.escape
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _row(report, line)) + "</tr>" for line in report.lines()
    )
    head = "".join(f"<th>{esc(c)}</th>" for c in CSV_COLUMNS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(_title(report))}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px}}td:nth-child(n+7){{text-align:right}}</style>
</head><body>
<h1>{esc(_title(report))}</h1>
<p>{esc(_about(report))}</p>
<p>Total: <strong>${report.total_cost():,.2f}</strong> over {report.total_requests():,.0f} requests.</p>
<h2>Cost by team (after allocation)</h2>
{_chart(report.by_team())}
<h2>Detail</h2>
<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
<footer><p>{esc(FOOTER)}</p></footer>
</body></html>
"""


def to_focus(report: Chargeback, spec: Spec) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=focus.COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(focus.rows(report, spec))
    return out.getvalue()
