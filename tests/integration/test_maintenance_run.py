"""Maintenance beside a live writer, on the local stack: nothing lost, fewer files, the stream's marker kept.

A thread plays the stream: it appends small batches, each commit carrying `dp.stream-id` and
`dp.stream-batch`, while maintenance compacts, expires and removes orphans on the same table.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from pyspark.sql import SparkSession

from dataplatform.aws import client
from dataplatform.maintenance.policy import (
    MaintenancePolicy,
    TableReport,
    error_text,
    first_line,
    is_commit_conflict,
)
from dataplatform.maintenance.run import maintain_tables
from dataplatform.settings import Settings
from dataplatform.spark.session import CATALOG

TABLE = "raw.events__maint_test"
STREAM_ID = "maint-test-stream"
ROWS_PER_BATCH = 4
BATCHES_BEFORE = 20
# Seconds, not days, so the test can see an orphan removed; a writer's append here takes about a second.
LONGEST_WRITER_COMMIT = timedelta(seconds=15)
POLICY = MaintenancePolicy(
    min_input_files=5,
    max_concurrent_rewrites=2,
    rewrite_manifests_above=5,
    expire_older_than=timedelta(0),
    retain_last=5,
    orphan_older_than=LONGEST_WRITER_COMMIT + timedelta(seconds=5),
    longest_writer_commit=LONGEST_WRITER_COMMIT,
    retry_backoff_seconds=0.5,
)


def append_batch(spark: SparkSession, batch: int) -> None:
    """One micro-batch as the stream commits it: two day partitions, ids unique across batches."""
    rows = [(batch * 1000 + i, f"2026-01-0{1 + i % 2}", f"batch {batch}") for i in range(ROWS_PER_BATCH)]
    (
        spark.createDataFrame(rows, "id BIGINT, day STRING, payload STRING")
        .selectExpr("id", "CAST(day AS DATE) AS day", "payload")
        .writeTo(TABLE)
        .option("snapshot-property.dp.stream-id", STREAM_ID)
        .option("snapshot-property.dp.stream-batch", str(batch))
        .append()
    )


@dataclass
class Writer:
    """Appends batch after batch on a thread until stopped, as the stream would."""

    spark: SparkSession
    next_batch: int
    committed: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                append_batch(self.spark, self.next_batch)
            except BaseException as exc:  # the test asserts there are none
                self.errors.append(exc)
                return
            self.committed.append(self.next_batch)
            self.next_batch += 1
            time.sleep(0.2)


def plant_orphan(settings: Settings, table_location: str) -> tuple[str, str]:
    """A Parquet file in the table's data folder that no snapshot references."""
    bucket, _, prefix = table_location.removeprefix("s3://").partition("/")
    key = f"{prefix}/data/day=2026-01-01/planted-orphan.parquet"
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": [-1]}), buffer)
    client("s3", settings).put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
    return bucket, key


def exists(settings: Settings, bucket: str, key: str) -> bool:
    try:
        client("s3", settings).head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"404", "NoSuchKey"}:
            return False
        raise
    return True


def latest_stream_batch_on_ancestry(spark: SparkSession) -> int | None:
    """Walk back from the current snapshot through parent ids, as the stream's exactly-once check does."""
    current = spark.sql(f"SELECT snapshot_id FROM {TABLE}.refs WHERE name = 'main'").collect()[0][0]
    rows = spark.sql(
        f"SELECT snapshot_id, parent_id, summary['dp.stream-id'] AS stream, "
        f"summary['dp.stream-batch'] AS batch FROM {TABLE}.snapshots"
    ).collect()
    by_id = {r["snapshot_id"]: r for r in rows}
    node = current
    while node in by_id:
        if by_id[node]["stream"] == STREAM_ID:
            return int(by_id[node]["batch"])
        node = by_id[node]["parent_id"]
    return None


@dataclass(frozen=True)
class MaintenanceRun:
    report: TableReport
    writer: Writer
    orphan: tuple[str, str]
    batches_during: int


@pytest.fixture(scope="module")
def run(spark: SparkSession, stack_settings: Settings) -> MaintenanceRun:
    """Fill the table, plant an orphan, then maintain it while the writer keeps appending."""
    spark.sql(f"DROP TABLE IF EXISTS {TABLE} PURGE")
    spark.sql(
        f"CREATE TABLE {TABLE} (id BIGINT, day DATE, payload STRING) USING iceberg PARTITIONED BY (day)"
    )
    location = spark.sql(f"DESCRIBE TABLE EXTENDED {TABLE}").where("col_name = 'Location'").collect()[0][1]
    orphan = plant_orphan(stack_settings, location)
    planted_at = time.monotonic()
    for batch in range(BATCHES_BEFORE):
        append_batch(spark, batch)
    # The orphan must be past the threshold when maintenance lists files; the appends usually cover it.
    time.sleep(max(0.0, POLICY.orphan_older_than.total_seconds() + 2 - (time.monotonic() - planted_at)))

    writer = Writer(spark, next_batch=BATCHES_BEFORE)
    thread = threading.Thread(target=writer.run, name="stream-writer", daemon=True)
    thread.start()
    time.sleep(1.0)
    reports = maintain_tables(spark, [TABLE], POLICY)
    batches_during = len(writer.committed)
    writer.stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the writer did not stop"
    assert [r.table for r in reports] == [TABLE]
    assert reports[0].ok, reports[0].error
    return MaintenanceRun(reports[0], writer, orphan, batches_during)


def test_the_writer_kept_committing_during_maintenance_and_never_failed(run: MaintenanceRun) -> None:
    assert run.writer.errors == []
    assert run.batches_during >= 2, "the writer hardly overlapped maintenance"


def test_no_row_is_lost_or_duplicated(spark: SparkSession, run: MaintenanceRun) -> None:
    last = run.writer.committed[-1]
    expected = {b * 1000 + i for b in range(last + 1) for i in range(ROWS_PER_BATCH)}
    ids = [r[0] for r in spark.table(TABLE).select("id").collect()]
    assert len(ids) == len(expected)
    assert set(ids) == expected


def test_compaction_leaves_fewer_data_files(spark: SparkSession, run: MaintenanceRun) -> None:
    report = run.report
    assert report.data_files_before is not None and report.data_files_before >= 2 * BATCHES_BEFORE
    assert report.rewritten_data_files >= 2 * BATCHES_BEFORE
    assert 2 <= report.added_data_files <= 4
    assert report.data_files_after is not None and report.data_files_after < report.data_files_before
    files_now = spark.sql(f"SELECT count(*) FROM {TABLE}.data_files").collect()[0][0]
    assert files_now < 2 * (run.writer.committed[-1] + 1)


def test_old_snapshots_are_expired_but_the_streams_latest_commit_stays_reachable(
    spark: SparkSession, run: MaintenanceRun
) -> None:
    report = run.report
    assert report.snapshots_after is not None and report.snapshots_before is not None
    assert report.snapshots_after < report.snapshots_before
    assert report.expired_files_deleted > 0
    assert latest_stream_batch_on_ancestry(spark) == run.writer.committed[-1]


def test_the_planted_orphan_is_removed(stack_settings: Settings, run: MaintenanceRun) -> None:
    assert not exists(stack_settings, *run.orphan)
    assert run.report.orphans_removed >= 1


def test_a_second_run_leaves_the_table_compact_and_finds_no_orphans(
    spark: SparkSession, run: MaintenanceRun
) -> None:
    [report] = maintain_tables(spark, [TABLE], POLICY)
    assert report.ok, report.error
    assert report.orphans_removed == 0
    # Per day partition, fewer small files than it takes to start a compaction.
    assert report.data_files_after is not None
    assert report.data_files_after <= 2 * (POLICY.min_input_files - 1)
    assert latest_stream_batch_on_ancestry(spark) == run.writer.committed[-1]


def test_iceberg_errors_raised_through_pyspark_are_told_apart(
    run: MaintenanceRun, spark: SparkSession
) -> None:
    """The conflict check reads what PySpark really raises: a Py4JJavaError for Iceberg's own
    ValidationException, a converted IllegalArgumentException with the JVM trace kept apart."""

    def failure(sql: str) -> str:
        with pytest.raises(Exception) as caught:
            spark.sql(sql).collect()
        return error_text(caught.value)

    unknown_snapshot = failure(
        f"CALL {CATALOG}.system.rollback_to_snapshot(table => '{TABLE}', snapshot_id => 1)"
    )
    bad_argument = failure(f"CALL {CATALOG}.system.expire_snapshots(table => '{TABLE}', retain_last => 0)")
    assert is_commit_conflict(unknown_snapshot)
    assert not is_commit_conflict(bad_argument)
    assert first_line(bad_argument).startswith("Number of snapshots to retain must be at least 1")
