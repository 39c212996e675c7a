"""Registering an RDS export with add_files against making it queryable by rewriting it.

Both run in one process on the local stack, on the same export in RDS's layout (TPC-H, SF 1, or SF 0.1
with --quick): the platform's `catalog_export` (footers only, no data rewritten) and a rewrite that reads
every file and appends it to an Iceberg table with pyiceberg. Last line: `RATIO snapshot_catalog
<rewrite_s / add_files_s>`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Settings
from dataplatform.snapshot_catalog.catalog_export import CatalogDeps, catalog_export
from dataplatform.snapshot_catalog.files import list_parquet
from dptools.local.paths import LocalPaths
from dptools.local.stack import LocalStack
from dptools.samples.rds_export import TABLES, generate_tpch, s3_writer, write_rds_export

PREFIX = "bench/exports"  # outside the rule's exports/ prefix: the dispatcher leaves it alone
REWRITE_NAMESPACE = "bench_rewrite"


def rewrite(settings: Settings, bucket: str, root: str) -> tuple[float, int]:
    """Read every file of every table and append it to a fresh Iceberg table: one commit per table."""
    s3, catalog = client("s3", settings), glue_catalog(settings)
    catalog.create_namespace_if_not_exists(
        REWRITE_NAMESPACE, {"location": f"s3://{bucket}/iceberg/{REWRITE_NAMESPACE}"}
    )
    io = catalog._load_file_io(location=f"s3://{bucket}/{root}")
    started, rows = time.perf_counter(), 0
    for name in TABLES:
        identifier = f"{REWRITE_NAMESPACE}.tpch__public__{name}"
        catalog.purge_table(identifier) if catalog.table_exists(identifier) else None
        parts = []
        for path, _ in list_parquet(s3, bucket, f"{root}/tpch/public.{name}/"):
            with io.new_input(path).open() as stream:
                parts.append(pq.read_table(stream))
        data = pa.concat_tables(parts)
        catalog.create_table(identifier, schema=data.schema).append(data)
        rows += data.num_rows
    return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="SF 0.1 instead of SF 1 (under a minute)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0

    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(paths=LocalPaths(Path(tmp)))
        try:
            settings = stack.up()
            bucket = settings.require("raw_bucket")
            s3 = client("s3", settings)
            tpch = generate_tpch(scale, Path(tmp) / "tpch")

            export = write_rds_export(
                s3_writer(s3, bucket),
                tpch,
                date(2026, 11, 1),
                bucket,
                prefix=PREFIX,
            )
            total_bytes = sum(
                size
                for name in TABLES
                for _, size in list_parquet(s3, bucket, f"{PREFIX}/{export.export_id}/tpch/public.{name}/")
            )
            print(
                f"export: TPC-H SF {scale:g}, {export.files} files, {total_bytes / 2**20:.0f} MiB, {sum(export.rows.values()):,} rows"
            )

            started = time.perf_counter()
            result = catalog_export(bucket, export.info_key, CatalogDeps.from_settings(settings))
            add_files_s = time.perf_counter() - started
            assert result.status == "registered", result.message
            print(f"add_files (platform): {add_files_s:.2f} s for {result.files} files")

            rewrite_s, rows = rewrite(settings, bucket, f"{PREFIX}/{export.export_id}")
            assert rows == sum(export.rows.values())
            print(f"rewrite (read + pyiceberg append): {rewrite_s:.2f} s for {rows:,} rows")
        finally:
            stack.down()
    print(f"RATIO snapshot_catalog {rewrite_s / add_files_s:.1f}")


if __name__ == "__main__":
    main()
