"""Aggregates over the facts, on small frames with null rows (chispa)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from dataplatform.transforms.aggregates import daily_funnel, part_ratings, revenue_by_nation_month


def test_revenue_is_summed_per_current_nation_and_month(spark: SparkSession) -> None:
    sales = spark.createDataFrame(
        [
            (1, 1, 10, date(2026, 1, 5), Decimal("1.0001")),
            (1, 2, 10, date(2026, 1, 20), Decimal("2.0000")),
            (2, 1, 11, date(2026, 2, 1), Decimal("5.0000")),
            (3, 1, 99, date(2026, 2, 2), Decimal("1.0000")),
        ],
        "order_key bigint, line_number int, customer_key bigint, order_date date, net_revenue decimal(18,4)",
    )
    customers = spark.createDataFrame(
        [(10, "GERMANY", "EUROPE", True), (10, "FRANCE", "EUROPE", False), (11, None, None, True)],
        "customer_key bigint, nation_name string, region_name string, is_current boolean",
    )
    expected = spark.createDataFrame(
        [
            ("GERMANY", "EUROPE", date(2026, 1, 1), Decimal("3.0001"), 2, 1),
            ("UNKNOWN", "UNKNOWN", date(2026, 2, 1), Decimal("6.0000"), 2, 2),
        ],
        "nation_name string, region_name string, order_month date, net_revenue decimal(28,4), "
        "order_lines bigint, orders bigint",
    )
    assert_df_equality(
        revenue_by_nation_month(sales, customers), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_the_funnel_counts_sessions_per_step_and_day(spark: SparkSession) -> None:
    events = spark.createDataFrame(
        [
            (date(2026, 1, 1), "s1", "page_view"),
            (date(2026, 1, 1), "s1", "add_to_cart"),
            (date(2026, 1, 1), "s1", "purchase"),
            (date(2026, 1, 1), "s2", "page_view"),
            (date(2026, 1, 1), "s2", "page_view"),
            (date(2026, 1, 2), "s3", "add_to_cart"),
        ],
        "event_date date, session_id string, event_type string",
    )
    expected = spark.createDataFrame(
        [
            (date(2026, 1, 1), 2, 1, 1, Decimal("0.5000"), Decimal("1.0000")),
            (date(2026, 1, 2), 0, 1, 0, None, Decimal("0.0000")),
        ],
        "event_date date, page_view_sessions bigint, add_to_cart_sessions bigint, purchase_sessions bigint, "
        "view_to_cart_rate decimal(9,4), cart_to_purchase_rate decimal(9,4)",
    )
    assert_df_equality(daily_funnel(events), expected, ignore_row_order=True, ignore_nullable=True)


def test_part_ratings_count_each_star(spark: SparkSession) -> None:
    reviews = spark.createDataFrame([(1, 5), (1, 4), (1, 5), (2, None)], "part_key bigint, rating int")
    got = {r.part_key: r for r in part_ratings(reviews).collect()}
    assert (got[1].reviews, got[1].average_rating, got[1].rating_5, got[1].rating_4, got[1].rating_1) == (
        3,
        Decimal("4.67"),
        2,
        1,
        0,
    )
    assert (got[2].reviews, got[2].average_rating, got[2].rating_5) == (1, None, 0)
