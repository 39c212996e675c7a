"""The transforms on an RDS export: a full run, an incremental run after a second export (~1% of rows
changed), the limit (one plain scan of the new export's raw tables), and DuckDB running the same SQL
(staging casts, fact_sales, revenue by nation and month) on the same export files.

One process on the local stack (moto, the dispatcher cataloging exports) and local Spark `local[2]`;
TPC-H SF 1, or SF 0.1 with --quick. Last lines: `RATIO transforms_vs_duckdb <duckdb_s / spark_full_s>`
and `RATIO transforms_incremental <full_s / incremental_s>`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import duckdb

from dataplatform.spark.session import build_session
from dataplatform.transforms.entities import STAGING
from dataplatform.transforms.report import StepReport
from dataplatform.transforms.steps import run_step
from dptools.local.paths import LocalPaths
from dptools.local.stack import LocalStack
from dptools.samples.rds_export import download_export, generate_tpch, land_rds_export

TPCH = ("region", "nation", "customer", "supplier", "part", "orders", "lineitem")
MODEL = ["dim_customer", "dim_supplier", "dim_part", "dim_date", "fact_sales"]
T = TypeVar("T")

# The same model in DuckDB's SQL, from the export's string-typed files: staging casts, fact_sales and
# the monthly revenue by customer nation, materialised as tables like the Spark run's.
DUCKDB_SQL = """
CREATE TABLE lineitem AS SELECT l_orderkey, l_partkey, l_suppkey, l_linenumber,
  CAST(l_quantity AS DECIMAL(15,2)) l_quantity, CAST(l_extendedprice AS DECIMAL(15,2)) l_extendedprice,
  CAST(l_discount AS DECIMAL(15,2)) l_discount, CAST(l_tax AS DECIMAL(15,2)) l_tax, l_returnflag,
  l_linestatus, CAST(l_shipdate AS DATE) l_shipdate, CAST(l_commitdate AS DATE) l_commitdate,
  CAST(l_receiptdate AS DATE) l_receiptdate, l_shipinstruct, l_shipmode FROM read_parquet('{root}/lineitem/*.parquet');
CREATE TABLE orders AS SELECT o_orderkey, o_custkey, o_orderstatus, CAST(o_orderdate AS DATE) o_orderdate,
  o_orderpriority FROM read_parquet('{root}/orders/*.parquet');
CREATE TABLE customer AS SELECT c_custkey, c_nationkey, c_name, c_mktsegment,
  CAST(c_acctbal AS DECIMAL(15,2)) c_acctbal FROM read_parquet('{root}/customer/*.parquet');
CREATE TABLE nation AS SELECT * FROM read_parquet('{root}/nation/*.parquet');
CREATE TABLE region AS SELECT * FROM read_parquet('{root}/region/*.parquet');
CREATE TABLE fact_sales AS SELECT l_orderkey order_key, l_linenumber line_number, o_custkey customer_key,
  l_partkey part_key, l_suppkey supplier_key, o_orderdate order_date, l_shipdate ship_date,
  l_commitdate commit_date, l_receiptdate receipt_date, l_quantity quantity, l_extendedprice extended_price,
  l_discount discount, l_tax tax, l_returnflag return_flag, l_linestatus line_status, l_shipmode ship_mode,
  l_shipinstruct ship_instruct, o_orderstatus order_status, o_orderpriority order_priority,
  CAST(l_extendedprice * (1 - l_discount) AS DECIMAL(18,4)) net_revenue
  FROM lineitem JOIN orders ON l_orderkey = o_orderkey;
CREATE TABLE agg_revenue_by_nation_month AS SELECT n_name nation_name, r_name region_name,
  CAST(date_trunc('month', order_date) AS DATE) order_month, sum(net_revenue) net_revenue,
  count(*) order_lines, count(DISTINCT order_key) orders
  FROM fact_sales LEFT JOIN customer ON customer_key = c_custkey
  LEFT JOIN nation ON c_nationkey = n_nationkey LEFT JOIN region ON n_regionkey = r_regionkey
  GROUP BY ALL;
"""


def timed(run: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def totals(reports: list[StepReport]) -> tuple[int, int, int]:
    tables = [t for r in reports for t in r.tables]
    return (
        sum(t.rows_read for t in tables),
        sum(t.rows_changed for t in tables),
        sum(t.bytes_written for t in tables),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="SF 0.1 instead of SF 1")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(paths=LocalPaths(Path(tmp) / "stack"))
        try:
            settings = stack.up()
            tpch = generate_tpch(scale, Path(tmp) / "tpch")
            first = land_rds_export(settings, tpch, date(2026, 11, 1), timeout_s=600)
            print(
                f"export {first.export_id}: TPC-H SF {scale:g}, {first.files} files, {sum(first.rows.values()):,} rows"
            )
            spark, start_s = timed(lambda: build_session("bench-transforms", settings, master="local[2]"))
            spark.sparkContext.setLogLevel("ERROR")
            print(f"Spark session: {start_s:.1f} s (not counted)")

            def run(run_id: str) -> list[StepReport]:
                return [
                    run_step(spark, "staging", run_id, list(TPCH)),
                    run_step(spark, "model", run_id, MODEL),
                    run_step(spark, "aggregates", run_id, ["agg_revenue_by_nation_month"]),
                    run_step(spark, "publish", run_id),
                ]

            full, full_s = timed(lambda: run("bench-full"))
            rows_read, changed, written = totals(full)
            print(
                f"full run: {full_s:.1f} s, {rows_read:,} rows read, {changed:,} rows changed, {written / 2**20:.1f} MiB written"
            )

            second = land_rds_export(settings, tpch, date(2026, 11, 2), timeout_s=600)
            incremental, incremental_s = timed(lambda: run("bench-incremental"))
            rows_read, changed, written = totals(incremental)
            print(
                f"incremental run after {second.export_id}: {incremental_s:.1f} s, {rows_read:,} rows read, "
                f"{changed:,} rows changed, {written / 2**20:.1f} MiB written"
            )

            def scan() -> int:
                return sum(spark.table(STAGING[name].raw).count() for name in TPCH)

            scanned, scan_s = timed(scan)
            print(f"limit, one plain scan of the export's raw tables: {scan_s:.1f} s, {scanned:,} rows")
            spark.stop()

            files = download_export(settings, second.export_id, Path(tmp) / "duckdb-input")
            connection = duckdb.connect()
            connection.execute("SET threads = 2")
            _, duckdb_s = timed(lambda: connection.execute(DUCKDB_SQL.format(root=files)))
            facts = connection.execute("SELECT count(*) FROM fact_sales").fetchone()
            print(
                f"DuckDB, same model on the same files: {duckdb_s:.1f} s, {facts[0] if facts else 0:,} sales"
            )
        finally:
            stack.down()
    print(f"RATIO transforms_vs_duckdb {duckdb_s / full_s:.3f}")
    print(f"RATIO transforms_incremental {full_s / incremental_s:.2f}")


if __name__ == "__main__":
    main()
