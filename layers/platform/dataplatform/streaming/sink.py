"""The stream's `foreachBatch`: each micro-batch into its tables, exactly once per table and epoch.

Spark's checkpoint replays a micro-batch that had not finished (same batch id, same offsets) after a
crash or a redeploy. Each table's append carries `dp.stream-id` and `dp.stream-batch` in its snapshot
summary, and a table that already holds this batch is skipped, so a replay adds each record once even
when the crash fell between two tables' commits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataplatform.iceberg.summary import STREAM_BATCH, STREAM_ID
from dataplatform.streaming.tables import StreamTables
from dataplatform.streaming.transforms import (
    dead_letter_rows,
    parse_events,
    raw_rows,
    typed_rows,
    with_event_time,
)
from dataplatform.streaming.validation import EventSchema

log = logging.getLogger("dataplatform.streaming")


@dataclass
class BatchReport:
    batch_id: int
    input_rows: int = 0
    dead_letters: int = 0
    skipped_tables: list[str] = field(default_factory=list)


class EpochWriter:
    def __init__(
        self, spark: SparkSession, stream_id: str, schemas: Mapping[str, EventSchema], tables: StreamTables
    ) -> None:
        self.spark, self.stream_id, self.schemas, self.tables = spark, stream_id, schemas, tables
        self._committed: dict[str, int] = {}  # the last batch each table holds, read once per process
        self.last: BatchReport | None = None

    def committed_batch(self, table: str) -> int:
        if table not in self._committed:
            row = self.spark.sql(
                f"SELECT max(CAST(summary['{STREAM_BATCH}'] AS BIGINT)) AS batch FROM {table}.snapshots "
                f"WHERE summary['{STREAM_ID}'] = '{self.stream_id}'"
            ).first()
            self._committed[table] = -1 if row is None or row["batch"] is None else int(row["batch"])
        return self._committed[table]

    def _append(self, frame: DataFrame, table: str, batch_id: int, report: BatchReport) -> None:
        if self.committed_batch(table) >= batch_id:
            report.skipped_tables.append(table)
            return
        (
            frame.writeTo(table)
            .option(f"snapshot-property.{STREAM_ID}", self.stream_id)
            .option(f"snapshot-property.{STREAM_BATCH}", str(batch_id))
            .option("mergeSchema", "true")
            .append()
        )
        self._committed[table] = batch_id

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        report = BatchReport(batch_id)
        batch = batch.persist()
        try:
            report.input_rows = batch.count()
            if report.input_rows:
                self._write(batch, batch_id, report)
        finally:
            batch.unpersist()
        self.last = report
        log.info(
            "batch %d: %d records, %d dead letters, skipped %s",
            batch_id,
            report.input_rows,
            report.dead_letters,
            report.skipped_tables,
        )

    def _write(self, batch: DataFrame, batch_id: int, report: BatchReport) -> None:
        ingested_at = F.lit(datetime.now(UTC)).cast("timestamp")
        dead: DataFrame | None = None
        cached: list[DataFrame] = []
        for topic, schema in self.schemas.items():
            records = batch.where(F.col("topic") == topic)
            self._append(raw_rows(records, ingested_at), self.tables.raw(topic), batch_id, report)
            # Validated once: typed and dead letters both read the reason.
            parsed = parse_events(records, schema).persist()
            cached.append(parsed)
            typed = with_event_time(typed_rows(parsed, ingested_at), self.tables.event_time_field)
            self._append(typed, self.tables.typed(topic), batch_id, report)
            letters = dead_letter_rows(parsed, ingested_at)
            dead = letters if dead is None else dead.unionByName(letters)
        assert dead is not None
        report.dead_letters = dead.count()
        if report.dead_letters:
            self._append(dead, self.tables.dead_letters, batch_id, report)
        for frame in cached:
            frame.unpersist()
