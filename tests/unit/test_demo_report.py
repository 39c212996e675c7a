"""The demo's HTML report from data: one self-contained page, each chart's data in it, the script that
stamps what was drawn. (Rendering in a browser, from a real warehouse: tests/integration/test_transforms.py.)"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from dptools.demo.bi_queries import BI_QUERIES, QueryResult
from dptools.demo.browser_check import RenderedChart
from dptools.demo.report import CHARTS, ReportData, render_report

ANSWERS = {
    "revenue_by_nation_month": QueryResult(
        ["nation_name", "order_month", "net_revenue", "orders"],
        [
            ("FRANCE", date(1995, 1, 1), Decimal("1234.5000"), 3),
            ("FRANCE", date(1995, 2, 1), Decimal("99.2500"), 1),
            ("PERU", date(1995, 1, 1), Decimal("10.0000"), 1),
        ],
    ),
    "daily_funnel": QueryResult(
        [
            "event_date",
            "page_view_sessions",
            "add_to_cart_sessions",
            "purchase_sessions",
            "view_to_cart_rate",
            "cart_to_purchase_rate",
        ],
        [(date(2026, 12, 1), 40, 12, 5, Decimal("0.3000"), Decimal("0.4167"))],
    ),
    "rating_distribution": QueryResult(["rating", "reviews"], [(1, 7), (4, 21), (5, 30)]),
}


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(ReportData(ANSWERS, [("stack up", 12.5), ("transform run", 80.0)], {"raw.x": 5}))


def test_the_report_is_one_offline_page_with_every_chart_and_its_data(page: str) -> None:
    assert "<script src=" not in page.replace('<script src="data:', "")  # nothing fetched from a network
    assert page.count("Plotly.newPlot(") == len(CHARTS)
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # the library, inlined once
    for name in CHARTS:
        assert f'<section class="chart" id="{name}">' in page
    assert page.count("data-rendered-marks") == len(CHARTS)  # each chart stamps what it drew
    assert '"FRANCE"' in page and '"PERU"' in page and "1234.5" in page
    assert "transform run" in page and "80.0" in page


def test_the_queries_the_report_charts_are_the_bi_queries() -> None:
    assert [q.name for q in BI_QUERIES] == [c for c in CHARTS if c != "stage_timings"]


def test_a_chart_with_no_marks_or_no_stamp_is_a_problem() -> None:
    assert RenderedChart("daily_funnel", 3, 3).problem is None
    assert RenderedChart("daily_funnel", 0, 0).problem == "daily_funnel: empty (0 marks, 0 data points)"
    assert RenderedChart("daily_funnel", None, None).problem == (
        "daily_funnel: not rendered (the page's script did not run)"
    )
