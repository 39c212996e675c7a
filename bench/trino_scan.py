"""A full scan of the largest raw table (lineitem of a TPC-H RDS export) through the local Trino, against
pyiceberg reading the same snapshot into Arrow; and Trino's start time.

Trino scans two ways: on the server (`count(*)` and `checksum()` of every column, so every value is
read and decoded; what Athena bills and what a query's own work costs), and into this process through the
`trino` client (every row fetched, bound by the client's JSON decoding). One local stack on loopback;
TPC-H SF 1, or SF 0.1 with --quick; the scans are the best of two runs, the fetch one run. Last lines: `RATIO trino_fetch <trino fetch s / pyiceberg s>`, then
`RATIO trino_scan <trino server scan s / pyiceberg s>`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from dataplatform.iceberg.catalog import glue_catalog
from dptools.local.paths import LocalPaths
from dptools.local.stack import LocalStack
from dptools.local.trino_client import trino_query
from dptools.samples.rds_export import generate_tpch, land_rds_export

TABLE = "raw.tpch__public__lineitem"
T = TypeVar("T")


def best_of_two(run: Callable[[], T]) -> tuple[float, T]:
    """The faster of two runs (the first warms the JIT, the caches and the connections) and its result."""
    times = []
    for _ in range(2):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="SF 0.1 instead of SF 1")
    scale = 0.1 if parser.parse_args().quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(paths=LocalPaths(Path(tmp) / "stack"))
        try:
            settings = stack.up()
            started = time.perf_counter()
            url = stack.start_trino()
            start_s = time.perf_counter() - started
            trino_query(url, "SELECT 1")
            first_query_s = time.perf_counter() - started
            print(f"trino start: healthy {start_s:.1f} s, first query answered {first_query_s:.1f} s")

            tpch = generate_tpch(scale, Path(tmp) / "tpch")
            land_rds_export(settings, tpch, date(2026, 11, 1), timeout_s=900)

            table = glue_catalog(settings).load_table(TABLE)
            pyiceberg_s, arrow = best_of_two(lambda: table.scan().to_arrow())
            print(
                f"pyiceberg to_arrow: {arrow.num_rows} rows, {arrow.nbytes / 2**20:.0f} MiB in {pyiceberg_s:.1f} s"
            )

            checksums = ", ".join(f"checksum({name})" for name in arrow.column_names)
            scan_s, result = best_of_two(
                lambda: trino_query(url, f"SELECT count(*), {checksums} FROM {TABLE}")
            )
            (row,) = result.rows
            assert row[0] == arrow.num_rows, (row[0], arrow.num_rows)
            print(f"trino server scan (count and checksum of every column): {row[0]} rows in {scan_s:.1f} s")

            started = time.perf_counter()
            fetched = trino_query(url, f"SELECT * FROM {TABLE}").rows
            fetch_s = time.perf_counter() - started
            assert len(fetched) == arrow.num_rows, (len(fetched), arrow.num_rows)
            print(f"trino fetch into python (SELECT *): {len(fetched)} rows in {fetch_s:.1f} s")
        finally:
            stack.down()
    print(
        f"SF {scale:g}: pyiceberg {pyiceberg_s:.1f} s, trino scan {scan_s:.1f} s, trino fetch {fetch_s:.1f} s"
    )
    print(f"RATIO trino_fetch {fetch_s / pyiceberg_s:.1f}")
    print(f"RATIO trino_scan {scan_s / pyiceberg_s:.1f}")


if __name__ == "__main__":
    main()
