"""A load batch as one transaction of Redshift SQL: COPY into a staging table, de-duplicate, delete
what Iceberg deleted, MERGE, and the audit row. Every change is guarded by the batch's absence from
the audit table, so a batch that already committed changes nothing when it runs again (and two
copies racing each other conflict under serializable isolation, and the retry finds it done)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dataplatform.warehouse.connection import CopyFromManifest, Statement
from dataplatform.warehouse.dialect import literal
from dataplatform.warehouse.tables import SCHEMA

AUDIT_TABLE = "warehouse_meta.load_audit"


@dataclass(frozen=True)
class Batch:
    table: str
    batch_id: str
    previous_snapshot_id: int | None
    source_snapshot_id: int
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    upserts_manifest: str | None
    deletes_manifest: str | None
    rows_staged: int
    rows_deleted: int
    replace: bool

    @property
    def target(self) -> str:
        return f"{SCHEMA}.{self.table}"

    @property
    def not_loaded(self) -> str:
        return f"NOT EXISTS (SELECT 1 FROM {AUDIT_TABLE} WHERE batch_id = {literal(self.batch_id)})"


def _on(keys: Sequence[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in keys)


def load_statements(batch: Batch) -> list[Statement]:
    cols = ", ".join(batch.columns)
    keys = ", ".join(batch.keys)
    stage, dedup, deleted = f"stage_{batch.table}", f"dedup_{batch.table}", f"deleted_{batch.table}"
    plan: list[Statement] = [f"CREATE TEMP TABLE {stage} (LIKE {batch.target})"]
    if batch.upserts_manifest:
        plan.append(CopyFromManifest(stage, batch.columns, batch.upserts_manifest))
    deduplicated = (
        f"SELECT {cols} FROM (SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {keys}) "
        f"AS dp_row FROM {stage}) AS s WHERE dp_row = 1 AND {batch.not_loaded}"
    )
    if batch.replace:  # the whole table: empty the target and insert, no MERGE needed
        plan.append(f"DELETE FROM {batch.target} WHERE {batch.not_loaded}")
        plan.append(f"INSERT INTO {batch.target} ({cols}) {deduplicated}")
        plan.append(_audit(batch))
        return plan
    plan.append(f"CREATE TEMP TABLE {dedup} AS {deduplicated}")
    if batch.deletes_manifest:
        plan.append(f"CREATE TEMP TABLE {deleted} AS SELECT {keys} FROM {batch.target} WHERE 1 = 0")
        plan.append(CopyFromManifest(deleted, batch.keys, batch.deletes_manifest))
        plan.append(
            f"DELETE FROM {batch.target} USING {deleted} AS d WHERE {_on(batch.keys, batch.target, 'd')} "
            f"AND {batch.not_loaded}"
        )
    updates = ", ".join(f"{c} = s.{c}" for c in batch.columns if c not in batch.keys)
    matched = f"WHEN MATCHED THEN UPDATE SET {updates} " if updates else ""
    plan.append(
        f"MERGE INTO {batch.target} USING {dedup} AS s ON {_on(batch.keys, batch.target, 's')} "
        f"{matched}WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({', '.join(f's.{c}' for c in batch.columns)})"
    )
    plan.append(_audit(batch))
    return plan


def _audit(batch: Batch) -> str:
    return (
        f"INSERT INTO {AUDIT_TABLE} (batch_id, table_name, previous_snapshot_id, source_snapshot_id, "
        f"rows_staged, rows_deleted) SELECT {literal(batch.batch_id)}, {literal(batch.table)}, "
        f"{literal(batch.previous_snapshot_id)}, {batch.source_snapshot_id}, {batch.rows_staged}, "
        f"{batch.rows_deleted} WHERE {batch.not_loaded}"
    )
