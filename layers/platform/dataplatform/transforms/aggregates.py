"""Analytics aggregates over the facts, as pure DataFrame functions."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

FUNNEL_STEPS = ("page_view", "add_to_cart", "purchase")


def revenue_by_nation_month(sales: DataFrame, customers: DataFrame) -> DataFrame:
    """Net revenue and order lines per customer nation and order month (current customer versions)."""
    current = customers.where("is_current").select("customer_key", "nation_name", "region_name")
    return (
        sales.join(current, "customer_key", "left")
        .groupBy(
            F.coalesce("nation_name", F.lit("UNKNOWN")).alias("nation_name"),
            F.coalesce("region_name", F.lit("UNKNOWN")).alias("region_name"),
            F.date_trunc("month", "order_date").cast("date").alias("order_month"),
        )
        .agg(
            F.sum("net_revenue").alias("net_revenue"),
            F.count(F.lit(1)).alias("order_lines"),
            F.countDistinct("order_key").alias("orders"),
        )
    )


def _rate(reached: str, entered: str) -> Column:
    """The share of sessions that went on from one step to the next; null when none entered it."""
    return F.when(F.col(entered) > 0, F.col(reached) / F.col(entered)).cast("decimal(9,4)")


def daily_funnel(events: DataFrame) -> DataFrame:
    """Sessions per day reaching page view, add to cart and purchase, and the step conversions."""
    per_session = events.groupBy("event_date", "session_id").agg(
        *[F.max(F.when(F.col("event_type") == step, 1).otherwise(0)).alias(step) for step in FUNNEL_STEPS]
    )
    counts = per_session.groupBy("event_date").agg(
        F.sum("page_view").alias("page_view_sessions"),
        F.sum("add_to_cart").alias("add_to_cart_sessions"),
        F.sum("purchase").alias("purchase_sessions"),
    )
    return counts.select(
        "event_date",
        "page_view_sessions",
        "add_to_cart_sessions",
        "purchase_sessions",
        _rate("add_to_cart_sessions", "page_view_sessions").alias("view_to_cart_rate"),
        _rate("purchase_sessions", "add_to_cart_sessions").alias("cart_to_purchase_rate"),
    )


def part_ratings(reviews: DataFrame) -> DataFrame:
    """Per part: reviews, average rating and the count of each star rating."""
    return reviews.groupBy("part_key").agg(
        F.count(F.lit(1)).alias("reviews"),
        F.avg("rating").cast("decimal(4,2)").alias("average_rating"),
        *[
            F.sum(F.when(F.col("rating") == stars, 1).otherwise(0)).alias(f"rating_{stars}")
            for stars in range(1, 6)
        ],
    )
