"""The demo's HTML report: one self-contained file (plotly.js embedded, so it works offline) with the
BI queries' charts, the stage timings and the rows per zone and table, drawn from data only: the
BI queries' results (dptools.demo.bi_queries), the stages' seconds, the row counts.

After plotly has drawn a chart, the page's script stamps its container with what is on screen
(`data-rendered-marks`: the drawn SVG paths of its traces; `data-rendered-points`: the data points of its
traces), which dptools.demo.browser_check reads back from a headless browser.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from dptools.demo.bi_queries import DAILY_FUNNEL, RATING_DISTRIBUTION, REVENUE_BY_NATION_MONTH, QueryResult

CHARTS = ("revenue_by_nation_month", "daily_funnel", "rating_distribution", "stage_timings")

# Runs after plotly.newPlot has drawn the chart whose div id is {plot_id}.
STAMP_RENDERED = """
var gd = document.getElementById('{plot_id}');
var marks = Array.prototype.filter.call(
  gd.querySelectorAll('.cartesianlayer .trace path'),
  function (p) { var d = p.getAttribute('d'); return d && d !== 'M0,0Z'; }
).length;
var points = 0;
(gd.data || []).forEach(function (t) { points += (t.x || []).length; });
var section = gd.closest('section.chart');
section.setAttribute('data-rendered-marks', String(marks));
section.setAttribute('data-rendered-points', String(points));
"""


@dataclass(frozen=True)
class ReportData:
    bi: Mapping[str, QueryResult]
    stages: Sequence[tuple[str, float]]
    table_rows: Mapping[str, int] = field(default_factory=dict)
    bi_url: str = ""
    title: str = "Data platform demo"


def _column(result: QueryResult, name: str) -> list[Any]:
    index = result.columns.index(name)
    return [row[index] for row in result.rows]


def revenue_chart(result: QueryResult) -> go.Figure:
    """One line per nation: net revenue per order month."""
    by_nation: dict[str, list[tuple[Any, float]]] = defaultdict(list)
    for nation, month, revenue in zip(
        _column(result, "nation_name"),
        _column(result, "order_month"),
        _column(result, "net_revenue"),
        strict=True,
    ):
        by_nation[str(nation)].append((month, float(revenue)))
    figure = go.Figure(
        [
            go.Scatter(x=[m for m, _ in points], y=[r for _, r in points], mode="lines", name=nation)
            for nation, points in sorted(by_nation.items())
        ]
    )
    figure.update_layout(
        title=REVENUE_BY_NATION_MONTH.title, xaxis_title="order month", yaxis_title="net revenue"
    )
    return figure


def funnel_chart(result: QueryResult) -> go.Figure:
    """Sessions per day at each funnel step, side by side."""
    days = [str(d) for d in _column(result, "event_date")]
    steps = (
        ("page_view_sessions", "page view"),
        ("add_to_cart_sessions", "add to cart"),
        ("purchase_sessions", "purchase"),
    )
    figure = go.Figure(
        [go.Bar(x=days, y=[int(v) for v in _column(result, column)], name=label) for column, label in steps]
    )
    figure.update_layout(
        title=DAILY_FUNNEL.title,
        barmode="group",
        xaxis_title="day",
        yaxis_title="sessions",
        xaxis_type="category",
    )
    return figure


def ratings_chart(result: QueryResult) -> go.Figure:
    stars = [f"{int(r)} ★" for r in _column(result, "rating")]
    figure = go.Figure([go.Bar(x=stars, y=[int(v) for v in _column(result, "reviews")], name="reviews")])
    figure.update_layout(title=RATING_DISTRIBUTION.title, xaxis_title="rating", yaxis_title="reviews")
    return figure


def stages_chart(stages: Sequence[tuple[str, float]]) -> go.Figure:
    figure = go.Figure(
        [
            go.Bar(
                x=[round(s, 1) for _, s in stages], y=[n for n, _ in stages], orientation="h", name="seconds"
            )
        ]
    )
    figure.update_layout(
        title="Time per stage (seconds)", yaxis={"autorange": "reversed"}, xaxis_title="seconds", height=420
    )
    return figure


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chart(name: str, figure: go.Figure, first: bool) -> str:
    div = figure.to_html(
        full_html=False,
        include_plotlyjs=first,  # the library once, inline: no network needed to open the file
        div_id=f"chart-{name}",
        post_script=STAMP_RENDERED,
        config={"displaylogo": False},
    )
    return f'<section class="chart" id="{name}">{div}</section>'


def render_report(data: ReportData) -> str:
    """The report's HTML."""
    figures = {
        "revenue_by_nation_month": revenue_chart(data.bi[REVENUE_BY_NATION_MONTH.name]),
        "daily_funnel": funnel_chart(data.bi[DAILY_FUNNEL.name]),
        "rating_distribution": ratings_chart(data.bi[RATING_DISTRIBUTION.name]),
        "stage_timings": stages_chart(data.stages),
    }
    charts = "\n".join(_chart(name, figures[name], index == 0) for index, name in enumerate(CHARTS))
    total = sum(s for _, s in data.stages)
    rows = _table(["table", "rows"], [(t, f"{n:,}") for t, n in sorted(data.table_rows.items())])
    stages = _table(
        ["stage", "seconds"], [(n, f"{s:.1f}") for n, s in data.stages] + [("total", f"{total:.1f}")]
    )
    connection = (
        f"<p>BI connection (read only): <code>{html.escape(data.bi_url)}</code></p>" if data.bi_url else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(data.title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
code {{ background: #f4f4f4; padding: 2px 4px; }}
.columns {{ display: flex; gap: 3em; flex-wrap: wrap; }}
</style></head>
<body>
<h1>{html.escape(data.title)}</h1>
{connection}
{charts}
<div class="columns">
<div><h2>Time per stage</h2>{stages}</div>
<div><h2>Rows per zone and table</h2>{rows}</div>
</div>
</body></html>
"""


def write_report(data: ReportData, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(data), encoding="utf-8")
    return path
