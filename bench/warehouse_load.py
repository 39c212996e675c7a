"""The warehouse loader against row-wise INSERTs: TPC-H's sales facts (fact_sales, the contract's
columns, built by DuckDB from tpchgen-cli's lineitem and orders) as an Iceberg table on a local stack
of its own, loaded into its PostgreSQL by the loader's path (Iceberg -> Parquet + manifest on S3 ->
COPY into staging, de-duplicate, MERGE, audit, one transaction), and the same rows into a copy of the
table by INSERT statements sent in batches of 1,000 rows (psycopg's executemany, pipelined), as a
client without COPY would load it.

TPC-H SF 1 (6M order lines), or SF 0.01 (60k) with --quick, whose minute the INSERT path at SF 0.1
would take twice over. Prints both rows/s; last line:
`RATIO warehouse_load <insert_s / loader_s>` (goal: at least 10).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.warehouse.adapters import secret_value, warehouse_for
from dataplatform.warehouse.load import load_table
from dataplatform.warehouse.postgres import PostgresConnection
from dptools.local.paths import LocalPaths
from dptools.local.stack import LocalStack
from dptools.samples.rds_export import generate_tpch

NAMESPACE = "bench_warehouse"
INSERT_BATCH = 1_000
FACT_SALES_SQL = """
SELECT l_orderkey AS order_key, CAST(l_linenumber AS INTEGER) AS line_number, o_custkey AS customer_key,
  l_partkey AS part_key, l_suppkey AS supplier_key, o_orderdate AS order_date, l_shipdate AS ship_date,
  l_commitdate AS commit_date, l_receiptdate AS receipt_date, CAST(l_quantity AS DECIMAL(15,2)) AS quantity,
  CAST(l_extendedprice AS DECIMAL(15,2)) AS extended_price, CAST(l_discount AS DECIMAL(15,2)) AS discount,
  CAST(l_tax AS DECIMAL(15,2)) AS tax, CAST(l_returnflag AS VARCHAR) AS return_flag,
  CAST(l_linestatus AS VARCHAR) AS line_status, CAST(l_shipmode AS VARCHAR) AS ship_mode,
  CAST(l_shipinstruct AS VARCHAR) AS ship_instruct, CAST(o_orderstatus AS VARCHAR) AS order_status,
  CAST(o_orderpriority AS VARCHAR) AS order_priority,
  CAST(CAST(l_extendedprice AS DECIMAL(15,2)) * (1 - CAST(l_discount AS DECIMAL(15,2))) AS DECIMAL(18,4))
    AS net_revenue
FROM read_parquet('{root}/lineitem.parquet') JOIN read_parquet('{root}/orders.parquet') ON l_orderkey = o_orderkey
"""


def fact_sales(tpch: Path) -> pa.Table:
    rows = duckdb.sql(FACT_SALES_SQL.format(root=tpch)).arrow()
    table = rows.read_all() if isinstance(rows, pa.RecordBatchReader) else rows
    # As Spark writes it: plain strings, and the contract's nullability (keys and money never null).
    schema = pa.schema(
        [
            pa.field(
                f.name,
                pa.string() if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) else f.type,
            )
            for f in table.schema
        ]
    )
    return table.cast(schema)


def insert_rows(connection: PostgresConnection, rows: pa.Table) -> float:
    """Seconds to INSERT `rows` into a copy of analytics.fact_sales, `INSERT_BATCH` rows a round."""
    import psycopg

    columns = rows.column_names
    insert = (
        f"INSERT INTO bench_inserts.fact_sales ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    c = connection
    with psycopg.connect(host=c.host, port=c.port, user=c.user, password=c.password, dbname=c.dbname) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench_inserts")
        conn.execute("DROP TABLE IF EXISTS bench_inserts.fact_sales")
        conn.execute("CREATE TABLE bench_inserts.fact_sales (LIKE analytics.fact_sales INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            for batch in rows.to_batches(INSERT_BATCH):
                values = list(
                    zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True)
                )
                cursor.executemany(insert, values)
                conn.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="TPC-H SF 0.01 instead of SF 1")
    parser.add_argument("--verbose", action="store_true", help="the loader's time per phase and statement")
    args = parser.parse_args()
    if args.verbose:
        logging.basicConfig(format="  %(message)s")
        logging.getLogger("dataplatform.warehouse").setLevel(logging.DEBUG)
    scale = 0.01 if args.quick else 1.0
    with tempfile.TemporaryDirectory(prefix="bench-warehouse-") as tmp:
        stack = LocalStack(paths=LocalPaths(Path(tmp) / "local"))
        print(f"starting a local stack in {tmp}")
        settings = stack.up()
        try:
            rows = fact_sales(generate_tpch(scale, Path(tmp) / "tpch"))
            print(f"TPC-H SF {scale:g}: {rows.num_rows} order lines")
            catalog = glue_catalog(settings)
            catalog.create_namespace(
                NAMESPACE, {"location": f"s3://{settings.require('curated_bucket')}/{NAMESPACE}"}
            )
            iceberg = catalog.create_table(f"{NAMESPACE}.fact_sales", schema=rows.schema)
            iceberg.append(rows)

            warehouse = warehouse_for(settings)
            started = time.perf_counter()
            result = load_table(
                warehouse,
                catalog,
                client("s3", settings),
                settings.require("curated_bucket"),
                "fact_sales",
                NAMESPACE,
            )
            loader_s = time.perf_counter() - started
            assert result.rows_staged == rows.num_rows, result
            [(count,)] = warehouse.query("SELECT count(*) FROM analytics.fact_sales")
            assert count == rows.num_rows, count

            admin = PostgresConnection.from_secret(
                secret_value(settings, settings.require("warehouse_secret"))
            )
            insert_s = insert_rows(admin, rows)
            print(
                f"loader (Parquet on S3 -> COPY, dedupe, insert): {loader_s:.1f} s, {rows.num_rows / loader_s:,.0f} rows/s"
            )
            print(
                f"INSERT batches of {INSERT_BATCH}: {insert_s:.1f} s, {rows.num_rows / insert_s:,.0f} rows/s"
            )
            print(f"RATIO warehouse_load {insert_s / loader_s:.2f}")
        finally:
            stack.down()


if __name__ == "__main__":
    main()
