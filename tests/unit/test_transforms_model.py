"""Staging -> analytics as pure DataFrame functions (chispa, null rows), and SCD2 applied by the same
MERGE the jobs run, on a local Iceberg catalog (no stack)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataplatform.transforms.contract import CONTRACT, create_table_sql, violations
from dataplatform.transforms.model import (
    ATTRIBUTES_HASH,
    customer_rows,
    date_rows,
    sales_rows,
    scd2_merge_source,
    scd2_merge_sql,
    supplier_rows,
)
from dataplatform.transforms.staging import changed_rows, with_row_hash

CUSTOMER = (
    "c_custkey bigint, c_name string, c_address string, c_nationkey bigint, c_phone string, "
    "c_acctbal decimal(15,2), c_mktsegment string, c_comment string"
)
UNSHIPPED = (None,) * 8  # a line with no flags, dates, shipping or comment yet
ATTRIBUTES = ["name", "nation_name", "region_name", "market_segment", "account_balance"]


@pytest.fixture(scope="module")
def geography(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    nation = spark.createDataFrame(
        [(0, "ALGERIA", 0, ""), (7, "GERMANY", 3, "")],
        "n_nationkey bigint, n_name string, n_regionkey bigint, n_comment string",
    )
    region = spark.createDataFrame(
        [(0, "AFRICA", ""), (3, "EUROPE", "")], "r_regionkey bigint, r_name string, r_comment string"
    )
    return nation, region


@pytest.fixture(scope="module")
def iceberg(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Iceberg catalog on the filesystem, attached to the run's one session."""
    name = "unit"
    spark.conf.set(f"spark.sql.catalog.{name}", "org.apache.iceberg.spark.SparkCatalog")
    spark.conf.set(f"spark.sql.catalog.{name}.type", "hadoop")
    spark.conf.set(f"spark.sql.catalog.{name}.warehouse", tmp_path_factory.mktemp("warehouse").as_uri())
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {name}.analytics")
    yield name


def test_a_customer_gets_its_nation_and_region_names(
    spark: SparkSession, geography: tuple[DataFrame, DataFrame]
) -> None:
    customers = spark.createDataFrame(
        [
            (1, "Customer#1", "", 7, "", Decimal("10.00"), "BUILDING", ""),
            (2, None, None, 99, None, None, None, None),
        ],
        CUSTOMER,
    )
    expected = spark.createDataFrame(
        [
            (1, "Customer#1", "GERMANY", "EUROPE", "BUILDING", Decimal("10.00")),
            (2, None, None, None, None, None),
        ],
        "customer_key bigint, name string, nation_name string, region_name string, market_segment string, "
        "account_balance decimal(15,2)",
    )
    assert_df_equality(
        customer_rows(customers, *geography), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_dim_supplier_follows_the_contract(
    spark: SparkSession, geography: tuple[DataFrame, DataFrame]
) -> None:
    supplier = spark.createDataFrame(
        [(5, "Supplier#5", "", 0, "", Decimal("1.00"), ""), (6, None, None, None, None, None, None)],
        "s_suppkey bigint, s_name string, s_address string, s_nationkey bigint, s_phone string, "
        "s_acctbal decimal(15,2), s_comment string",
    )
    rows = supplier_rows(supplier, *geography)
    assert violations(rows, "dim_supplier") == []
    assert sorted(rows.collect()) == [(5, "Supplier#5", "ALGERIA", "AFRICA"), (6, None, None, None)]


def test_a_sale_is_an_order_line_with_exact_net_revenue(spark: SparkSession) -> None:
    lineitem = spark.createDataFrame(
        [
            (
                1,
                10,
                20,
                1,
                Decimal("3.00"),
                Decimal("33.33"),
                Decimal("0.07"),
                Decimal("0.02"),
                "N",
                "O",
                date(2026, 1, 5),
                None,
                None,
                "NONE",
                "AIR",
                "",
            ),
            (1, 11, 21, 2, Decimal("1.00"), Decimal("0.01"), Decimal("0.99"), Decimal("0.00"), *UNSHIPPED),
            (9, 11, 21, 1, Decimal("1.00"), Decimal("1.00"), Decimal("0.00"), Decimal("0.00"), *UNSHIPPED),
        ],
        "l_orderkey bigint, l_partkey bigint, l_suppkey bigint, l_linenumber int, l_quantity decimal(15,2), "
        "l_extendedprice decimal(15,2), l_discount decimal(15,2), l_tax decimal(15,2), l_returnflag string, "
        "l_linestatus string, l_shipdate date, l_commitdate date, l_receiptdate date, l_shipinstruct string, "
        "l_shipmode string, l_comment string",
    )
    orders = spark.createDataFrame(
        [(1, 100, "O", Decimal("0"), date(2026, 1, 1), "1-URGENT", "", 0, "")],
        "o_orderkey bigint, o_custkey bigint, o_orderstatus string, o_totalprice decimal(15,2), "
        "o_orderdate date, o_orderpriority string, o_clerk string, o_shippriority int, o_comment string",
    )
    sales = sales_rows(lineitem, orders)
    assert violations(sales, "fact_sales") == []
    got = {
        (r.order_key, r.line_number): (r.customer_key, r.net_revenue, r.ship_mode) for r in sales.collect()
    }
    # 33.33 * 0.93 = 30.9969 and 0.01 * 0.01 = 0.0001: kept exactly, not rounded to cents; the line of an
    # order that is not there has no sale.
    assert got == {(1, 1): (100, Decimal("30.9969"), "AIR"), (1, 2): (100, Decimal("0.0001"), None)}


def test_the_date_dimension_has_one_row_per_day(spark: SparkSession) -> None:
    days = date_rows(spark, date(2024, 2, 27), date(2024, 3, 1))
    assert [(r.date_key, r.month_name, r.is_weekend) for r in days.orderBy("date").collect()] == [
        (20240227, "February", False),
        (20240228, "February", False),
        (20240229, "February", False),
        (20240301, "March", False),
    ]


def _export(spark: SparkSession, balances: dict[int, str | None]) -> DataFrame:
    rows = [
        (k, f"Customer#{k}", "", 7, "", Decimal(v) if v else None, "BUILDING", "")
        for k, v in balances.items()
    ]
    return with_row_hash(spark.createDataFrame(rows, CUSTOMER), ["c_custkey"])


def test_dim_customer_keeps_history_over_exports(
    spark: SparkSession, iceberg: str, geography: tuple[DataFrame, DataFrame]
) -> None:
    """Customer 1: a change, no change, a change back; customer 2 never changes; customer 3 is deleted;
    customer 4 arrives with the second export; customer 5 has no balance (null) throughout."""
    dim = f"{iceberg}.analytics.dim_customer"
    spark.sql(
        create_table_sql(dim, "dim_customer", T.StructType([T.StructField(ATTRIBUTES_HASH, T.StringType())]))
    )
    exports = [
        (datetime(2026, 11, 1, 6), {1: "100.00", 2: "5.00", 3: "7.00", 5: None}),
        (datetime(2026, 11, 2, 6), {1: "110.00", 2: "5.00", 3: "7.00", 4: "1.00", 5: None}),
        (datetime(2026, 11, 3, 6), {1: "110.00", 2: "5.00", 4: "1.00", 5: None}),
        (datetime(2026, 11, 4, 6), {1: "100.00", 2: "5.00", 4: "1.00", 5: None}),
    ]
    previous = _export(spark, {}).limit(0)
    for snapshot_time, balances in exports:
        snapshot = _export(spark, balances)
        changes = customer_rows(changed_rows(snapshot, previous, ["c_custkey"]), *geography)
        current = spark.table(dim).where("is_current")
        source = scd2_merge_source(
            changes, current, "customer_key", ATTRIBUTES, F.lit(snapshot_time).cast("timestamp")
        )
        source.createOrReplaceTempView("scd2_source")
        spark.sql(scd2_merge_sql(dim, "scd2_source", "customer_key", ATTRIBUTES))
        previous = snapshot

    d1, d2, d3, d4 = (t for t, _ in exports)
    history = spark.table(dim).select(
        "customer_key", "account_balance", "valid_from", "valid_to", "is_current"
    )
    expected = spark.createDataFrame(
        [
            (1, Decimal("100.00"), d1, d2, False),
            (1, Decimal("110.00"), d2, d4, False),
            (1, Decimal("100.00"), d4, None, True),
            (2, Decimal("5.00"), d1, None, True),
            (3, Decimal("7.00"), d1, d3, False),
            (4, Decimal("1.00"), d2, None, True),
            (5, None, d1, None, True),
        ],
        "customer_key bigint, account_balance decimal(15,2), valid_from timestamp, valid_to timestamp, "
        "is_current boolean",
    )
    assert_df_equality(history, expected, ignore_row_order=True, ignore_nullable=True)
    assert [f.name for f in spark.table(dim).schema.fields][: len(CONTRACT["dim_customer"].fields)] == [
        f.name for f in CONTRACT["dim_customer"].fields
    ]


def test_replaying_an_export_adds_no_version(
    spark: SparkSession, iceberg: str, geography: tuple[DataFrame, DataFrame]
) -> None:
    dim = f"{iceberg}.analytics.dim_customer_replay"
    spark.sql(
        create_table_sql(dim, "dim_customer", T.StructType([T.StructField(ATTRIBUTES_HASH, T.StringType())]))
    )
    changes = customer_rows(_export(spark, {1: "1.00", 2: None}), *geography)
    for _ in range(2):
        current = spark.table(dim).where("is_current")
        source = scd2_merge_source(changes, current, "customer_key", ATTRIBUTES, F.current_timestamp())
        source.createOrReplaceTempView("scd2_replay")
        spark.sql(scd2_merge_sql(dim, "scd2_replay", "customer_key", ATTRIBUTES))
    assert spark.table(dim).count() == 2
