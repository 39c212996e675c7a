"""Staging to the analytics model: dimensions (SCD2 where history matters), facts, as pure DataFrame
functions. Inputs are staging frames with TPC-H's column names; outputs have the contract's names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dataplatform.transforms.contract import EXACT_REVENUE, conform
from dataplatform.transforms.staging import DELETE, OP, UPSERT, row_hash

MERGE_KEY, ATTRIBUTES_HASH = "_merge_key", "_attributes_hash"


def _geography(nation: DataFrame, region: DataFrame) -> DataFrame:
    return nation.join(region, nation.n_regionkey == region.r_regionkey).select(
        "n_nationkey", F.col("n_name").alias("nation_name"), F.col("r_name").alias("region_name")
    )


def customer_rows(customer: DataFrame, nation: DataFrame, region: DataFrame) -> DataFrame:
    """A customer with its nation and region names (the attributes dim_customer versions)."""
    return customer.join(
        _geography(nation, region), customer.c_nationkey == F.col("n_nationkey"), "left"
    ).select(
        F.col("c_custkey").alias("customer_key"),
        F.col("c_name").alias("name"),
        "nation_name",
        "region_name",
        F.col("c_mktsegment").alias("market_segment"),
        F.col("c_acctbal").alias("account_balance"),
        *([F.col(OP)] if OP in customer.columns else []),
    )


def supplier_rows(supplier: DataFrame, nation: DataFrame, region: DataFrame) -> DataFrame:
    rows = supplier.join(_geography(nation, region), supplier.s_nationkey == F.col("n_nationkey"), "left")
    return conform(
        rows.select(
            F.col("s_suppkey").alias("supplier_key"),
            F.col("s_name").alias("name"),
            "nation_name",
            "region_name",
        ),
        "dim_supplier",
    )


def part_rows(part: DataFrame) -> DataFrame:
    return part.select(
        F.col("p_partkey").alias("part_key"),
        F.col("p_name").alias("name"),
        F.col("p_mfgr").alias("manufacturer"),
        F.col("p_brand").alias("brand"),
        F.col("p_type").alias("type"),
        F.col("p_size").alias("size"),
        F.col("p_container").alias("container"),
        F.col("p_retailprice").alias("retail_price"),
    )


def date_rows(spark: SparkSession, first: date, last: date) -> DataFrame:
    """One row per day of [first, last]: the calendar attributes BI tools group by."""
    days = spark.sql(f"SELECT explode(sequence(DATE'{first.isoformat()}', DATE'{last.isoformat()}')) AS date")
    return days.select(
        (F.year("date") * 10000 + F.month("date") * 100 + F.dayofmonth("date")).alias("date_key"),
        "date",
        F.year("date").alias("year"),
        F.quarter("date").alias("quarter"),
        F.month("date").alias("month"),
        F.date_format("date", "MMMM").alias("month_name"),
        F.dayofmonth("date").alias("day_of_month"),
        F.dayofweek("date").alias("day_of_week"),
        F.date_format("date", "EEEE").alias("day_name"),
        F.dayofweek("date").isin(1, 7).alias("is_weekend"),
    )


def net_revenue(extended_price: Column, discount: Column) -> Column:
    """extended_price * (1 - discount), exact: decimal(15,2) * decimal(15,2) fits decimal(18,4)."""
    return (extended_price * (F.lit(1) - discount)).cast(EXACT_REVENUE)


def sales_rows(lineitem: DataFrame, orders: DataFrame) -> DataFrame:
    """One row per order line, with its order's customer, date, status and priority."""
    rows = lineitem.join(orders, lineitem.l_orderkey == orders.o_orderkey).select(
        F.col("l_orderkey").alias("order_key"),
        F.col("l_linenumber").alias("line_number"),
        F.col("o_custkey").alias("customer_key"),
        F.col("l_partkey").alias("part_key"),
        F.col("l_suppkey").alias("supplier_key"),
        F.col("o_orderdate").alias("order_date"),
        F.col("l_shipdate").alias("ship_date"),
        F.col("l_commitdate").alias("commit_date"),
        F.col("l_receiptdate").alias("receipt_date"),
        F.col("l_quantity").alias("quantity"),
        F.col("l_extendedprice").alias("extended_price"),
        F.col("l_discount").alias("discount"),
        F.col("l_tax").alias("tax"),
        F.col("l_returnflag").alias("return_flag"),
        F.col("l_linestatus").alias("line_status"),
        F.col("l_shipmode").alias("ship_mode"),
        F.col("l_shipinstruct").alias("ship_instruct"),
        F.col("o_orderstatus").alias("order_status"),
        F.col("o_orderpriority").alias("order_priority"),
        net_revenue(F.col("l_extendedprice"), F.col("l_discount")).alias("net_revenue"),
    )
    return conform(rows, "fact_sales")


def scd2_merge_source(
    changes: DataFrame,
    current: DataFrame,
    key: str,
    attributes: Sequence[str],
    valid_from: Column,
) -> DataFrame:
    """The source of a MERGE that applies `changes` to an SCD2 dimension whose current versions are
    `current` (`is_current` rows, with `_attributes_hash`).

    A change whose attributes equal the current version's is no change. A changed key gets two rows:
    one matching its current version by `_merge_key` (which the MERGE closes at `valid_from`) and one
    with a null `_merge_key` (which it inserts as the new current version). A new key gets one row,
    inserted. A delete (`_op` D) closes the current version and inserts nothing.
    """
    hashed = changes.withColumn(ATTRIBUTES_HASH, row_hash(list(attributes)))
    if OP not in hashed.columns:
        hashed = hashed.withColumn(OP, F.lit(UPSERT))
    known = current.select(F.col(key), F.col(ATTRIBUTES_HASH).alias("_current_hash"))
    compared = hashed.join(known, key, "left")
    real = compared.where(
        (
            (F.col(OP) == UPSERT)
            & (F.col("_current_hash").isNull() | (F.col("_current_hash") != F.col(ATTRIBUTES_HASH)))
        )
        | ((F.col(OP) == DELETE) & F.col("_current_hash").isNotNull())
    ).withColumn("valid_from", valid_from)
    closing_or_new = real.withColumn(MERGE_KEY, F.col(key))
    new_versions = real.where((F.col(OP) == UPSERT) & F.col("_current_hash").isNotNull()).withColumn(
        MERGE_KEY, F.lit(None).cast(closing_or_new.schema[key].dataType)
    )
    return closing_or_new.unionByName(new_versions).drop("_current_hash")


def scd2_merge_sql(target: str, source_view: str, key: str, attributes: Sequence[str]) -> str:
    """MERGE INTO for `scd2_merge_source`: close the matched current version, insert the new one."""
    columns = [key, *attributes, "valid_from", "valid_to", "is_current", ATTRIBUTES_HASH]
    values = [f"s.{c}" for c in [key, *attributes, "valid_from"]] + ["NULL", "true", f"s.{ATTRIBUTES_HASH}"]
    return (
        f"MERGE INTO {target} t USING {source_view} s "
        f"ON t.{key} = s.{MERGE_KEY} AND t.is_current "
        f"WHEN MATCHED THEN UPDATE SET t.is_current = false, t.valid_to = s.valid_from "
        f"WHEN NOT MATCHED AND s.{OP} = '{UPSERT}' THEN INSERT ({', '.join(columns)}) "
        f"VALUES ({', '.join(values)})"
    )


def web_event_rows(events: DataFrame) -> DataFrame:
    """fact_web_events: one row per distinct clickstream event."""
    return events.select(
        "event_id",
        "event_type",
        F.col("occurred_at_ts").alias("occurred_at"),
        F.to_date("occurred_at_ts").alias("event_date"),
        "session_id",
        F.col("customer_key").cast("bigint").alias("customer_key"),
        F.col("part_key").cast("bigint").alias("part_key"),
        F.col("quantity").cast("int").alias("quantity"),
        F.col("unit_price").cast("decimal(15,2)").alias("unit_price"),
    )


def review_rows(reviews: DataFrame) -> DataFrame:
    """fact_reviews: the latest version of each review."""
    return reviews.select(
        F.col("review_id"),
        F.col("part_key").cast("bigint").alias("part_key"),
        F.col("customer_key").cast("bigint").alias("customer_key"),
        F.col("rating").cast("int").alias("rating"),
        F.to_timestamp("updated_at").alias("updated_at"),
    )
