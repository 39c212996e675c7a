"""The loader: each changed analytics table's Iceberg increment since its watermark, to Parquet on S3,
then one transaction in the warehouse (`plan.load_statements`). The watermark is the source snapshot
of the table's last audit row, committed with the data it describes."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataplatform.warehouse import tables as wt
from dataplatform.warehouse.connection import Warehouse
from dataplatform.warehouse.dialect import literal
from dataplatform.warehouse.errors import SerializationConflictError
from dataplatform.warehouse.export import write_files
from dataplatform.warehouse.increment import read_increment
from dataplatform.warehouse.plan import AUDIT_TABLE, Batch, load_statements
from dataplatform.warehouse.schema_check import loaded_columns

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from pyiceberg.catalog import Catalog

LOAD_PREFIX = "warehouse-loads"  # under the curated bucket; the only prefix Redshift's COPY role reads
MAX_ATTEMPTS = 5
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableLoad:
    table: str
    batch_id: str | None = None
    source_snapshot_id: int | None = None
    rows_staged: int = 0
    rows_deleted: int = 0
    attempts: int = 0
    skipped: str | None = None

    def describe(self) -> str:
        if self.skipped:
            return f"{self.table}: {self.skipped}"
        retried = f" after {self.attempts - 1} conflict(s)" if self.attempts > 1 else ""
        return (
            f"{self.table}: {self.rows_staged} rows merged, {self.rows_deleted} deleted "
            f"(snapshot {self.source_snapshot_id}){retried}"
        )


def watermark(warehouse: Warehouse, table: str) -> int | None:
    rows = warehouse.query(
        f"SELECT source_snapshot_id FROM {AUDIT_TABLE} WHERE table_name = {literal(table)} "
        "ORDER BY loaded_at DESC, source_snapshot_id DESC LIMIT 1"
    )
    return int(rows[0][0]) if rows else None


def is_loaded(warehouse: Warehouse, batch_id: str) -> bool:
    return bool(warehouse.query(f"SELECT 1 FROM {AUDIT_TABLE} WHERE batch_id = {literal(batch_id)}"))


def warehouse_columns(warehouse: Warehouse, table: str) -> list[tuple[str, str, object]]:
    rows = warehouse.query(
        "SELECT column_name, data_type, numeric_scale FROM information_schema.columns "
        f"WHERE table_schema = {literal(wt.SCHEMA)} AND table_name = {literal(table)} ORDER BY ordinal_position"
    )
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


def run_with_retries(
    run: Callable[[int], None], attempts: int = MAX_ATTEMPTS, sleep: Callable[[float], None] = time.sleep
) -> int:
    """`run(attempt)` until it does not lose a serialization conflict; the attempts it took."""
    for attempt in range(1, attempts + 1):
        try:
            run(attempt)
            return attempt
        except SerializationConflictError as conflict:
            if attempt == attempts:
                raise
            logger.warning("serialization conflict, retrying (attempt %d): %s", attempt, conflict)
            sleep(min(0.2 * 2**attempt, 5.0))
    raise AssertionError("unreachable")


def load_table(
    warehouse: Warehouse,
    catalog: Catalog,
    s3: S3Client,
    bucket: str,
    table: str,
    namespace: str = wt.SCHEMA,
) -> TableLoad:
    """One table's increment in one transaction; `namespace` is the Iceberg one (tests use their own)."""
    keys = wt.KEYS[table]
    identifier = f"{namespace}.{table}"
    if not catalog.table_exists(identifier):
        return TableLoad(table, skipped="no Iceberg table yet")
    iceberg = catalog.load_table(identifier)
    previous = watermark(warehouse, table)
    head = iceberg.current_snapshot()
    if head is None:
        return TableLoad(table, skipped="the Iceberg table has no snapshot yet")
    if head.snapshot_id == previous:
        return TableLoad(table, source_snapshot_id=previous, skipped=f"up to date (snapshot {previous})")
    batch_id = f"{table}.{previous or 0}.{head.snapshot_id}"
    if is_loaded(warehouse, batch_id):
        return TableLoad(table, batch_id, head.snapshot_id, skipped=f"batch {batch_id} already loaded")
    columns = loaded_columns(table, iceberg.schema().as_arrow(), warehouse_columns(warehouse, table))
    started = time.perf_counter()
    increment = read_increment(iceberg, previous, keys)
    logger.debug("%.2fs read the increment of %s", time.perf_counter() - started, identifier)
    started = time.perf_counter()
    assert increment is not None and increment.head == head.snapshot_id
    prefix = f"{LOAD_PREFIX}/{table}/{batch_id}"
    batch = Batch(
        table=table,
        batch_id=batch_id,
        previous_snapshot_id=previous,
        source_snapshot_id=head.snapshot_id,
        columns=columns,
        keys=keys,
        upserts_manifest=write_files(
            s3, bucket, f"{prefix}/upserts", increment.upserts.select(list(columns))
        ),
        deletes_manifest=write_files(s3, bucket, f"{prefix}/deletes", increment.deleted_keys),
        rows_staged=increment.upserts.num_rows,
        rows_deleted=increment.deleted_keys.num_rows,
        replace=increment.replace,
    )
    logger.debug("%.2fs wrote the Parquet files and manifests", time.perf_counter() - started)
    statements = load_statements(batch)

    def run(attempt: int) -> None:
        token = hashlib.sha256(f"{batch_id}#{attempt}".encode()).hexdigest()[:64]
        warehouse.transaction(statements, token)

    attempts = run_with_retries(run)
    return TableLoad(table, batch_id, head.snapshot_id, batch.rows_staged, batch.rows_deleted, attempts)


def load(
    warehouse: Warehouse,
    catalog: Catalog,
    s3: S3Client,
    bucket: str,
    tables: Sequence[str] | None = None,
    progress: Callable[[TableLoad], None] = lambda _: None,
    namespace: str = wt.SCHEMA,
) -> list[TableLoad]:
    """Load every changed table (or `tables`), one transaction each; unknown names fail first."""
    results = []
    for table in wt.chosen(tuple(tables) if tables else None):
        result = load_table(warehouse, catalog, s3, bucket, table, namespace)
        progress(result)
        results.append(result)
    return results
