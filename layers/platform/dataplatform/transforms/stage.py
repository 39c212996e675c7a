"""The staging step: each raw source into `staging.<entity>` on the run's branch, incrementally.

An RDS export is a full snapshot: its rows are typed, hashed and compared with staging, and only new,
changed and deleted keys are merged. API records and stream events are append-only in raw: only what
was appended since the snapshot staging last processed is read.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from dataplatform.iceberg.summary import SNAPSHOT_TIME
from dataplatform.snapshot_catalog import ORIGINAL_TYPE
from dataplatform.transforms.entities import StagingEntity
from dataplatform.transforms.lake import COPY_ON_WRITE, MAIN, Lake
from dataplatform.transforms.report import TableReport
from dataplatform.transforms.staging import (
    DELETE,
    OP,
    SNAPSHOT_TIME_COLUMN,
    UPSERT,
    cast_to_original_types,
    changed_rows,
    first_by_key,
    latest_by_key,
    with_row_hash,
)


def _on(keys: tuple[str, ...]) -> str:
    return " AND ".join(f"t.{k} = s.{k}" for k in keys)


def _original_types(lake: Lake, raw: str) -> dict[str, str]:
    properties = lake.properties(raw)
    return {
        key[len(ORIGINAL_TYPE) :]: value for key, value in properties.items() if key.startswith(ORIGINAL_TYPE)
    }


def stage(lake: Lake, entity: StagingEntity, full_refresh: bool = False) -> TableReport:
    """Bring `staging.<entity>` on the run's branch up to the raw table's current snapshot."""
    head = lake.head(entity.raw, MAIN)
    if head is None:
        return TableReport(entity.table, skipped=f"{entity.raw} has no data yet")
    processed = (
        None if full_refresh or not lake.exists(entity.table) else lake.processed(entity.table, entity.raw)
    )
    if processed == head:
        return TableReport(entity.table, skipped="source unchanged")
    if entity.kind == "rds_export":
        return _stage_export(lake, entity, head, full_refresh)
    return _stage_appended(lake, entity, processed, head)


def _stage_export(lake: Lake, entity: StagingEntity, head: int, full_refresh: bool) -> TableReport:
    snapshot_time = lake.summary(entity.raw, head).get(SNAPSHOT_TIME)
    typed = (
        cast_to_original_types(lake.read(entity.raw, head), _original_types(lake, entity.raw))
        .transform(lambda df: with_row_hash(df, entity.keys))
        .withColumn(SNAPSHOT_TIME_COLUMN, F.lit(snapshot_time).cast("timestamp"))
    )
    lake.create(entity.table, typed)
    current = lake.read(entity.table)
    if full_refresh:
        current = current.limit(0)
    changes = changed_rows(typed, current, entity.keys)
    columns = typed.columns
    merge = (
        "MERGE INTO {target} t USING source s ON " + _on(entity.keys) + " "
        f"WHEN MATCHED AND s.{OP} = '{DELETE}' THEN DELETE "
        f"WHEN MATCHED THEN UPDATE SET {', '.join(f't.{c} = s.{c}' for c in columns)} "
        f"WHEN NOT MATCHED AND s.{OP} = '{UPSERT}' THEN INSERT ({', '.join(columns)}) "
        f"VALUES ({', '.join(f's.{c}' for c in columns)})"
    )
    rows_read = int(lake.summary(entity.raw, head).get("total-records", 0))
    commit = lake.merge(
        entity.table, changes, merge, {entity.raw: head}, {SNAPSHOT_TIME: snapshot_time or ""}
    )
    return TableReport(entity.table, rows_read, commit.rows_changed, commit.bytes_written, commit.snapshot_id)


def _stage_appended(lake: Lake, entity: StagingEntity, processed: int | None, head: int) -> TableReport:
    appended = lake.appended_since(entity.raw, processed, head)
    if entity.kind == "api":
        rows = latest_by_key(appended, entity.keys, entity.order)
        newer = " AND ".join(f"s.{c} > t.{c}" for c in entity.order[:1])
        merge = (
            "MERGE INTO {target} t USING source s ON " + _on(entity.keys) + " "
            f"WHEN MATCHED AND {newer} THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
    else:
        rows = first_by_key(appended, entity.keys, entity.order)
        merge = (
            "MERGE INTO {target} t USING source s ON " + _on(entity.keys) + " WHEN NOT MATCHED THEN INSERT *"
        )
    lake.create(entity.table, rows, COPY_ON_WRITE)  # read by the changelog
    rows_read = appended.count()
    commit = lake.merge(entity.table, rows, merge, {entity.raw: head})
    return TableReport(entity.table, rows_read, commit.rows_changed, commit.bytes_written, commit.snapshot_id)
