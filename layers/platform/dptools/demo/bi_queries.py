"""The three example BI queries, defined once: what a BI tool would ask the warehouse (Redshift; the
local PostgreSQL) over the analytics aggregates and facts. The demo prints their results, the HTML
report charts them, and tests/integration/test_transforms.py checks them against DuckDB on the raw
zone's files.

The SQL is plain enough to run unchanged on Redshift and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class BiQuery:
    name: str
    title: str
    sql: str


REVENUE_BY_NATION_MONTH = BiQuery(
    "revenue_by_nation_month",
    "Net revenue by customer nation and order month",
    "SELECT nation_name, order_month, net_revenue, orders\n"
    "FROM analytics.agg_revenue_by_nation_month\n"
    "ORDER BY nation_name, order_month",
)
DAILY_FUNNEL = BiQuery(
    "daily_funnel",
    "Daily funnel: sessions reaching page view, add to cart and purchase",
    "SELECT event_date, page_view_sessions, add_to_cart_sessions, purchase_sessions,\n"
    "  view_to_cart_rate, cart_to_purchase_rate\n"
    "FROM analytics.agg_daily_funnel\n"
    "ORDER BY event_date",
)
RATING_DISTRIBUTION = BiQuery(
    "rating_distribution",
    "Rating distribution: reviews per star rating",
    "SELECT rating, count(*) AS reviews\n"
    "FROM analytics.fact_reviews\n"
    "WHERE rating IS NOT NULL\n"
    "GROUP BY rating\n"
    "ORDER BY rating",
)
BI_QUERIES = (REVENUE_BY_NATION_MONTH, DAILY_FUNNEL, RATING_DISTRIBUTION)


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_bi_queries(url: str) -> dict[str, QueryResult]:
    """Each BI query on the warehouse at `url` (a PostgreSQL URL; the BI user's, read only)."""
    results: dict[str, QueryResult] = {}
    with psycopg.connect(url) as conn:
        for query in BI_QUERIES:
            cursor = conn.execute(query.sql)
            columns = [c.name for c in cursor.description or ()]
            results[query.name] = QueryResult(columns, [tuple(r) for r in cursor.fetchall()])
    return results
