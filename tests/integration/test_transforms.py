"""Transforms on the local stack: raw RDS exports -> staging -> analytics, on the run's branches, then
published; a later export is processed incrementally, and a rerun changes nothing.

(The stack is shared: test_snapshot_catalog has landed its exports before this module runs, so the
first run here processes whatever export is current, and the module lands a later one itself.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.iceberg.summary import EXPORT_ID
from dataplatform.settings import Settings
from dataplatform.transforms.contract import CONTRACT, violations
from dataplatform.transforms.report import StepReport
from dataplatform.transforms.steps import RUN_TABLES, Step, run_step
from dataplatform.warehouse.service import load_analytics
from dptools.cli.main import app
from dptools.demo.bi_queries import (
    BI_QUERIES,
    DAILY_FUNNEL,
    RATING_DISTRIBUTION,
    REVENUE_BY_NATION_MONTH,
    QueryResult,
    run_bi_queries,
)
from dptools.demo.browser_check import ChromiumMissing, rendered_charts
from dptools.demo.flows import bi_url, warehouse_rows
from dptools.demo.report import CHARTS, ReportData, write_report
from dptools.local.paths import DP_LOCAL_DIR
from dptools.local.stack import LocalStack
from dptools.samples.rds_export import download_export, generate_tpch, land_rds_export
from tests.integration.test_trino_sql import land_stream_batch

# Later than any export the other modules land on the shared stack (test_snapshot_export: Nov 2026).
FIRST, LATER = date(2027, 1, 2), date(2027, 1, 5)
TPCH_TABLES = ("region", "nation", "customer", "supplier", "part", "orders", "lineitem")


def run_all(spark: SparkSession, run_id: str) -> dict[str, StepReport]:
    reports = {}
    for step in ("staging", "model", "aggregates", "publish"):
        tables = [t for t in TPCH_TABLES] if step == "staging" else None
        if step == "model":
            tables = ["dim_customer", "dim_supplier", "dim_part", "dim_date", "fact_sales"]
        if step == "aggregates":
            tables = ["agg_revenue_by_nation_month"]
        reports[step] = run_step(spark, step, run_id, tables)
    return reports


def plant_unknown_customer(tpch: Path, customer: int) -> None:
    """The first order of the sample export names `customer`, whom the export does not have."""
    orders = pq.read_table(tpch / "orders.parquet")
    custkeys = orders["o_custkey"].to_pylist()
    custkeys[0] = customer
    pq.write_table(orders.set_column(1, "o_custkey", pa.array(custkeys, pa.int64())), tpch / "orders.parquet")


def _plain(table: pa.Table) -> pa.Table:
    """tpchgen's string_view columns as strings, which pyarrow's filter takes."""
    return table.cast(
        pa.schema(
            pa.field(f.name, pa.string() if pa.types.is_string_view(f.type) else f.type) for f in table.schema
        )
    )


def drop_order(tpch: Path, index: int) -> tuple[int, int]:
    """The sample export without its `index`th order and that order's lines: (order key, lines)."""
    orders = _plain(pq.read_table(tpch / "orders.parquet"))
    key = orders["o_orderkey"][index].as_py()
    pq.write_table(orders.filter(pc.not_equal(orders["o_orderkey"], key)), tpch / "orders.parquet")
    lines = _plain(pq.read_table(tpch / "lineitem.parquet"))
    kept = lines.filter(pc.not_equal(lines["l_orderkey"], key))
    pq.write_table(kept, tpch / "lineitem.parquet")
    return key, lines.num_rows - kept.num_rows


# TPC-H Q1 (pricing summary report) written against analytics.fact_sales's contract.
Q1 = """
SELECT return_flag, line_status, sum(quantity) AS sum_qty, sum(extended_price) AS sum_base_price,
  sum(extended_price * (1 - discount)) AS sum_disc_price,
  sum(extended_price * (1 - discount) * (1 + tax)) AS sum_charge, avg(quantity) AS avg_qty,
  avg(extended_price) AS avg_price, avg(discount) AS avg_disc, count(*) AS count_order
FROM {fact_sales} WHERE ship_date <= DATE '1998-09-02'
GROUP BY return_flag, line_status ORDER BY return_flag, line_status
"""
# The export's lineitem files as RDS wrote them (numbers and dates as text), typed as staging types them.
EXPORT_LINEITEM = """
SELECT l_returnflag AS return_flag, l_linestatus AS line_status,
  CAST(l_quantity AS DECIMAL(15,2)) AS quantity, CAST(l_extendedprice AS DECIMAL(15,2)) AS extended_price,
  CAST(l_discount AS DECIMAL(15,2)) AS discount, CAST(l_tax AS DECIMAL(15,2)) AS tax,
  CAST(l_shipdate AS DATE) AS ship_date
FROM read_parquet('{files}/lineitem/*.parquet')
"""


def by_table(report: StepReport) -> dict[str, Any]:
    return {t.table: t for t in report.tables}


def main_heads(settings: Settings) -> dict[str, int | None]:
    catalog = glue_catalog(settings)
    heads: dict[str, int | None] = {}
    for table in RUN_TABLES:
        if catalog.table_exists(table):
            snapshot = catalog.load_table(table).current_snapshot()
            heads[table] = snapshot.snapshot_id if snapshot else None
    return heads


@pytest.fixture(scope="module")
def first_run(
    spark: SparkSession, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, StepReport]:
    tpch = generate_tpch(0.01, tmp_path_factory.mktemp("tpch"))
    land_rds_export(
        stack_settings, tpch, FIRST, timeout_s=90
    )  # the newest export on the stack: every run below processes it first
    return run_all(spark, "first")


def test_the_first_run_builds_and_publishes_the_model(
    first_run: dict[str, StepReport], spark: SparkSession
) -> None:
    staging = by_table(first_run["staging"])
    assert staging["staging.lineitem"].rows_changed == spark.table("staging.lineitem").count() > 0
    assert spark.table("analytics.fact_sales").count() == spark.table("staging.lineitem").count()
    assert (
        spark.table("analytics.dim_customer").where("is_current").count()
        == spark.table("staging.customer").count()
    )
    for table in ("fact_sales", "dim_customer", "dim_supplier"):
        published = spark.table(f"analytics.{table}").select(*[f.name for f in CONTRACT[table].fields])
        assert violations(published, table) == []
    branches = spark.sql("SELECT name FROM analytics.fact_sales.refs").collect()
    assert [b.name for b in branches] == ["main"]


def test_a_rerun_reads_nothing_and_changes_nothing(
    first_run: dict[str, StepReport], spark: SparkSession, stack_settings: Settings
) -> None:
    before = main_heads(stack_settings)
    again = run_all(spark, "rerun")
    assert all(t.skipped for step in ("staging", "model", "aggregates") for t in again[step].tables), again
    assert main_heads(stack_settings) == before


def test_a_later_export_is_processed_incrementally(
    first_run: dict[str, StepReport],
    spark: SparkSession,
    stack_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tpch = generate_tpch(0.01, tmp_path_factory.mktemp("tpch-later"))
    gone, gone_lines = drop_order(tpch, 7)  # the source deleted an order and its lines
    later = land_rds_export(stack_settings, tpch, LATER, timeout_s=90)
    customers_before = spark.table("analytics.dim_customer").count()
    second = run_all(spark, "second")
    staging = by_table(second["staging"])
    lineitems = spark.table("staging.lineitem").count()
    # The export is read whole, but only its changes reach staging and beyond.
    assert staging["staging.lineitem"].rows_read == lineitems
    assert staging["staging.lineitem"].rows_changed == gone_lines > 0
    assert spark.table("analytics.fact_sales").where(f"order_key = {gone}").count() == 0
    assert 0 < staging["staging.customer"].rows_changed < spark.table("staging.customer").count() * 0.05
    assert 0 < staging["staging.orders"].rows_changed < spark.table("staging.orders").count() * 0.05
    model = by_table(second["model"])
    assert 0 < model["analytics.fact_sales"].rows_changed < lineitems * 0.05
    changed_customers = staging["staging.customer"].rows_changed
    # Each changed customer closed one version and opened another.
    assert spark.table("analytics.dim_customer").count() == customers_before + changed_customers
    assert (
        spark.table("analytics.dim_customer").where("is_current").count()
        == spark.table("staging.customer").count()
    )
    assert spark.table("analytics.fact_sales").count() == lineitems

    # Rerunning the incremental run changes nothing.
    heads = main_heads(stack_settings)
    again = run_all(spark, "second-rerun")
    assert all(t.skipped for step in ("staging", "model", "aggregates") for t in again[step].tables), again
    assert main_heads(stack_settings) == heads

    # TPC-H Q1 on the published facts equals DuckDB's on the latest export's own files.
    ours = [tuple(r) for r in spark.sql(Q1.format(fact_sales="analytics.fact_sales")).collect()]
    files = download_export(stack_settings, later.export_id, tmp_path_factory.mktemp("later-files"))
    duck = duckdb.connect()
    duck.execute(f"CREATE VIEW fact_sales AS {EXPORT_LINEITEM.format(files=files)}")
    theirs = duck.execute(Q1.format(fact_sales="fact_sales")).fetchall()
    assert [r[:2] for r in ours] == [r[:2] for r in theirs] and len(ours) == 4
    for mine, duckdbs in zip(ours, theirs, strict=True):
        assert mine[2:6] == duckdbs[2:6]  # sums of decimals: exact
        # Spark's decimal average keeps 6 places; DuckDB's is a double.
        assert [float(v) for v in mine[6:9]] == pytest.approx([float(v) for v in duckdbs[6:9]], abs=5e-7)
        assert mine[9] == duckdbs[9]


# The BI queries (dptools.demo.bi_queries) computed by DuckDB from the raw zone's own files: the RDS
# export's Parquet as RDS wrote it (text numbers and dates, typed here as staging types them), and the
# data files of the raw Iceberg tables of the clickstream (first landing per event) and the reviews API
# (latest version per review).
DUCKDB_BI = {
    REVENUE_BY_NATION_MONTH.name: """
WITH lines AS (
  SELECT l_orderkey, CAST(l_extendedprice AS DECIMAL(15,2)) AS price, CAST(l_discount AS DECIMAL(15,2)) AS discount
  FROM read_parquet('{files}/lineitem/*.parquet')),
orders AS (
  SELECT o_orderkey, o_custkey, CAST(o_orderdate AS DATE) AS order_date FROM read_parquet('{files}/orders/*.parquet')),
geography AS (
  SELECT c_custkey, n_name, r_name FROM read_parquet('{files}/customer/*.parquet')
  JOIN read_parquet('{files}/nation/*.parquet') ON c_nationkey = n_nationkey
  JOIN read_parquet('{files}/region/*.parquet') ON n_regionkey = r_regionkey)
SELECT coalesce(n_name, 'UNKNOWN') AS nation_name, CAST(date_trunc('month', order_date) AS DATE) AS order_month,
  sum(CAST(price * (1 - discount) AS DECIMAL(18,4))) AS net_revenue, count(DISTINCT o_orderkey) AS orders
FROM lines JOIN orders ON l_orderkey = o_orderkey LEFT JOIN geography ON o_custkey = c_custkey
GROUP BY ALL ORDER BY nation_name, order_month
""",
    DAILY_FUNNEL.name: """
WITH events AS (
  SELECT * FROM read_parquet('{clicks}/*.parquet', union_by_name = true)
  QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY kafka_timestamp, "offset") = 1),
sessions AS (
  SELECT CAST(occurred_at_ts AS DATE) AS event_date, session_id,
    max(CASE WHEN event_type = 'page_view' THEN 1 ELSE 0 END) AS viewed,
    max(CASE WHEN event_type = 'add_to_cart' THEN 1 ELSE 0 END) AS carted,
    max(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS bought
  FROM events GROUP BY ALL)
SELECT event_date, sum(viewed) AS page_view_sessions, sum(carted) AS add_to_cart_sessions,
  sum(bought) AS purchase_sessions,
  CAST(sum(carted) / nullif(sum(viewed), 0) AS DECIMAL(9,4)) AS view_to_cart_rate,
  CAST(sum(bought) / nullif(sum(carted), 0) AS DECIMAL(9,4)) AS cart_to_purchase_rate
FROM sessions GROUP BY event_date ORDER BY event_date
""",
    RATING_DISTRIBUTION.name: """
WITH latest AS (
  SELECT * FROM read_parquet('{reviews}/*.parquet', union_by_name = true)
  QUALIFY row_number() OVER (PARTITION BY review_id ORDER BY updated_at DESC, _ingested_at DESC) = 1)
SELECT CAST(rating AS INTEGER) AS rating, count(*) AS reviews FROM latest
WHERE rating IS NOT NULL GROUP BY 1 ORDER BY 1
""",
}
BI_RUN_TABLES: dict[Step, list[str]] = {
    "staging": ["reviews", "web_events"],
    "model": ["fact_web_events", "fact_reviews"],
    "aggregates": ["agg_revenue_by_nation_month", "agg_daily_funnel", "agg_part_ratings"],
}


def download_table_files(settings: Settings, table: str, into: Path) -> Path:
    """The data files of an Iceberg table's current snapshot (append-only raw tables: no delete files)."""
    s3 = client("s3", settings)
    into.mkdir(parents=True, exist_ok=True)
    for index, task in enumerate(glue_catalog(settings).load_table(table).scan().plan_files()):
        assert not task.delete_files, f"{table} has delete files"
        bucket, key = task.file.file_path.removeprefix("s3://").split("/", 1)
        s3.download_file(bucket, key, str(into / f"{index:05d}.parquet"))
    return into


@dataclass(frozen=True)
class WarehouseBi:
    answers: dict[str, QueryResult]
    stages: list[tuple[str, float]]
    table_rows: dict[str, int]


@pytest.fixture(scope="module")
def warehouse_bi(
    first_run: dict[str, StepReport],
    spark: SparkSession,
    stack_settings: Settings,
    local_stack: LocalStack,
) -> WarehouseBi:
    """After the module's runs: the clickstream and the reviews API in raw (each landed here unless the
    session already has them), a run of their tables, the warehouse loaded, and the BI queries on it as
    the BI user."""
    stages: list[tuple[str, float]] = []

    def timed(name: str, start: float) -> None:
        stages.append((name, time.monotonic() - start))

    start = time.monotonic()
    land_stream_batch(spark, "clickstream", 600, "transforms-tests")
    catalog = glue_catalog(stack_settings)
    if not catalog.table_exists("raw.reviews__reviews"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(DP_LOCAL_DIR, str(local_stack.paths.root))
            window = ["--start", "2026-01-01T00:00:00Z", "--end", "2026-01-02T00:00:00Z"]
            pulled = CliRunner().invoke(
                app, ["ingest", "backfill", "reviews", "--endpoint", "reviews", *window]
            )
            assert pulled.exit_code == 0, pulled.output
    timed("clickstream and reviews into raw", start)
    start = time.monotonic()
    for step, tables in BI_RUN_TABLES.items():
        run_step(spark, step, "bi", tables)
    run_step(spark, "publish", "bi")
    timed("transform run", start)
    start = time.monotonic()
    load_analytics(stack_settings)
    timed("warehouse load", start)
    start = time.monotonic()
    answers = run_bi_queries(bi_url(stack_settings))
    timed("BI queries", start)
    return WarehouseBi(answers, stages, warehouse_rows(stack_settings))


def test_the_bi_queries_on_the_warehouse_equal_duckdb_on_the_raw_files(
    warehouse_bi: WarehouseBi, stack_settings: Settings, tmp_path: Path
) -> None:
    """The three BI example queries, as the BI user on the loaded warehouse, give what DuckDB computes
    from the raw zone: the export the analytics tables were built from, the stream's and the API's files."""
    lineitem = glue_catalog(stack_settings).load_table("raw.tpch__public__lineitem").current_snapshot()
    assert lineitem is not None and lineitem.summary is not None
    export_id = str(lineitem.summary[EXPORT_ID])
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    sql = {
        name: query.format(
            files=download_export(stack_settings, export_id, tmp_path / "export"),
            clicks=download_table_files(
                stack_settings, "raw.events__clickstream__typed", tmp_path / "clicks"
            ),
            reviews=download_table_files(stack_settings, "raw.reviews__reviews", tmp_path / "reviews"),
        )
        for name, query in DUCKDB_BI.items()
    }
    for query in BI_QUERIES:
        ours = warehouse_bi.answers[query.name]
        theirs = duck.execute(sql[query.name]).fetchall()
        assert len(ours.rows) == len(theirs) > 0, query.name
        if query is DAILY_FUNNEL:  # the rates come from a double in both engines: to the 4th place
            for mine, duckdbs in zip(ours.rows, theirs, strict=True):
                assert mine[:4] == duckdbs[:4]
                assert [float(v) for v in mine[4:] if v is not None] == pytest.approx(
                    [float(v) for v in duckdbs[4:] if v is not None], abs=1e-4
                )
        else:
            assert ours.rows == [tuple(r) for r in theirs], query.name
    revenue = warehouse_bi.answers[REVENUE_BY_NATION_MONTH.name]
    assert len({r[0] for r in revenue.rows}) == 25  # every TPC-H nation


def test_a_report_of_the_warehouse_renders_every_chart_in_headless_chromium(
    warehouse_bi: WarehouseBi, tmp_path: Path
) -> None:
    """The demo's report, written from the loaded warehouse's BI answers and this module's stage timings,
    opened in headless Chromium: each chart drew marks for its data points."""
    report = write_report(
        ReportData(warehouse_bi.answers, warehouse_bi.stages, warehouse_bi.table_rows),
        tmp_path / "report.html",
    )
    try:
        charts = rendered_charts(report)
    except ChromiumMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    assert [c.name for c in charts] == list(CHARTS)
    assert [c.problem for c in charts if c.problem] == []
    points = {c.name: c.points for c in charts}
    assert points["rating_distribution"] == len(warehouse_bi.answers[RATING_DISTRIBUTION.name].rows)
    assert points["stage_timings"] == len(warehouse_bi.stages)
    assert points["revenue_by_nation_month"] == len(warehouse_bi.answers[REVENUE_BY_NATION_MONTH.name].rows)
