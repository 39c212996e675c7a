"""The stream's `foreachBatch`: each micro-batch into its tables, exactly once per table and epoch.

Spark's checkpoint replays a micro-batch that had not finished (same batch id, same offsets) after a
crash or a redeploy. Each table's append carries `dp.stream-id` and `dp.stream-batch` in its snapshot
summary, and a table that already holds this batch is skipped, so a replay adds each record once even
when the crash fell between two tables' commits.

A batch costs one pass over its messages: each is parsed and validated once into a cached frame (the one
action counts it), and the three appends read that cache, at the same time: each is a Spark job and an
Iceberg commit of its own table, so one's commit round trips overlap the others' work. They skip
Iceberg's shuffle by partition (`distribution-mode` none, fanout writers): each task writes its own
files, so all cores write at once; compaction (`dataplatform.maintenance`) merges the files later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce

from pyspark import inheritable_thread_target
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataplatform.iceberg.summary import STREAM_BATCH, STREAM_ID
from dataplatform.streaming.tables import StreamTables
from dataplatform.streaming.transforms import (
    REASON,
    TEXT,
    EventParser,
    dead_letter_rows,
    raw_rows,
    typed_rows,
    with_event_time,
)
from dataplatform.streaming.validation import EventSchema

log = logging.getLogger("dataplatform.streaming")
# Each task writes the rows it has, however many days they span: no shuffle before the write.
WRITE_OPTIONS = {"distribution-mode": "none", "fanout-enabled": "true"}


@dataclass
class BatchReport:
    batch_id: int
    input_rows: int = 0
    dead_letters: int = 0
    skipped_tables: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # validating, each append, the whole batch


class EpochWriter:
    def __init__(
        self, spark: SparkSession, stream_id: str, schemas: Mapping[str, EventSchema], tables: StreamTables
    ) -> None:
        self.spark, self.stream_id, self.schemas, self.tables = spark, stream_id, schemas, tables
        self._parsers = {topic: EventParser(schema) for topic, schema in schemas.items()}
        self._committed: dict[str, int] = {}  # the last batch each table holds, read once per process
        self.last: BatchReport | None = None
        self._appends = ThreadPoolExecutor(max_workers=3, thread_name_prefix=f"append-{stream_id}")

    def committed_batch(self, table: str) -> int:
        if table not in self._committed:
            row = self.spark.sql(
                f"SELECT max(CAST(summary['{STREAM_BATCH}'] AS BIGINT)) AS batch FROM {table}.snapshots "
                f"WHERE summary['{STREAM_ID}'] = '{self.stream_id}'"
            ).first()
            self._committed[table] = -1 if row is None or row["batch"] is None else int(row["batch"])
        return self._committed[table]

    def _append(self, frame: DataFrame, table: str, batch_id: int, report: BatchReport) -> None:
        started = time.perf_counter()
        if self.committed_batch(table) >= batch_id:
            report.skipped_tables.append(table)
            return
        (
            frame.writeTo(table)
            .option(f"snapshot-property.{STREAM_ID}", self.stream_id)
            .option(f"snapshot-property.{STREAM_BATCH}", str(batch_id))
            .option("mergeSchema", "true")
            .options(**WRITE_OPTIONS)
            .append()
        )
        self._committed[table] = batch_id
        report.seconds[table] = time.perf_counter() - started

    def _append_all(self, appends: list[tuple[DataFrame, str]], batch_id: int, report: BatchReport) -> None:
        """The appends at once, each in a thread with the batch's Spark job properties (so stopping the
        query cancels them too); the first failure is raised once all have ended."""
        append = inheritable_thread_target(self._append)
        futures = [self._appends.submit(append, frame, table, batch_id, report) for frame, table in appends]
        for future in futures:
            future.exception()
        for future in futures:
            future.result()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        report = BatchReport(batch_id)
        ingested_at = F.lit(datetime.now(UTC)).cast("timestamp")
        several = len(self.schemas) > 1
        # With several topics, each topic's pass filters the batch: read Kafka once for all of them.
        source = batch.persist() if several else batch
        cached: list[DataFrame] = [source] if several else []
        appends: list[tuple[DataFrame, str]] = []
        dead: list[DataFrame] = []
        try:
            for topic, parse in self._parsers.items():
                records = source.where(F.col("topic") == topic) if several else source
                # Parsed and validated once, into the cache that raw, typed and dead letters all read.
                parsed = parse(records).drop(TEXT).persist()
                cached.append(parsed)
                rows, letters = parsed.agg(F.count(F.lit(1)), F.count(REASON)).first()  # type: ignore[misc]
                report.input_rows += rows
                report.dead_letters += letters
                if not rows:
                    continue
                appends.append((raw_rows(parsed, ingested_at), self.tables.raw(topic)))
                typed = with_event_time(typed_rows(parsed, ingested_at), self.tables.event_time_field)
                appends.append((typed, self.tables.typed(topic)))
                if letters:
                    dead.append(dead_letter_rows(parsed, ingested_at))
            if dead:
                appends.append((reduce(DataFrame.unionByName, dead), self.tables.dead_letters))
            report.seconds["validate"] = time.perf_counter() - started
            self._append_all(appends, batch_id, report)
        finally:
            for frame in cached:
                frame.unpersist()
        report.seconds["batch"] = time.perf_counter() - started
        self.last = report
        log.info(
            "batch %d: %d records, %d dead letters, skipped %s; seconds %s",
            batch_id,
            report.input_rows,
            report.dead_letters,
            report.skipped_tables,
            {step: round(seconds, 2) for step, seconds in report.seconds.items()},
        )
