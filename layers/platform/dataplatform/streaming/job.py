"""The Kafka -> raw zone streaming job: configuration, the query, and the loop that reports on it.

The same code runs on EMR Serverless (STREAMING mode) and locally (`dp streaming start`, or the tests,
as a process of its own). A SIGTERM stops the query between batches; SIGKILL or a crash are safe too,
since the checkpoint and the per-epoch commits replay the unfinished batch exactly once.
"""

from __future__ import annotations

import json
import logging
import signal
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from dataplatform.streaming.sink import EpochWriter
from dataplatform.streaming.tables import StreamTables
from dataplatform.streaming.validation import EventSchema

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.literals import StandardUnitType
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef
    from mypy_boto3_s3 import S3Client

AVAILABLE_NOW = "available-now"
# The job's trigger unless told otherwise, and so on EMR (the supervisor passes none): a batch every 10 s
# keeps an event's landing within about 20 s while each table gets 6 commits a minute, not 60.
DEFAULT_TRIGGER = "10 seconds"
METRICS_NAMESPACE = "DataPlatform"
# Spark's own advice on HotSpot: a stage whose generated method is over 8,000 bytes of bytecode (the
# JIT's limit) runs without whole-stage codegen, in split methods the JIT compiles. The validation's
# CASE WHEN over every rule of a schema is such a method; left at 64 KB it is interpreted, 3x slower.
SESSION_CONF = {"spark.sql.codegen.hugeMethodLimit": "8000"}
log = logging.getLogger("dataplatform.streaming")


@dataclass(frozen=True)
class StreamConfig:
    name: str  # the stream's id: in every snapshot it commits, and in its metrics
    topics: tuple[str, ...]
    bootstrap: str
    checkpoint: str
    schemas_dir: Path
    trigger: str = DEFAULT_TRIGGER  # a processing-time interval, or "available-now"
    max_offsets_per_trigger: int | None = 100_000
    # Spark tasks per batch: Kafka gives one per topic partition (3 tasks on 2 cores leave one core idle
    # half the time); None is the session's default parallelism, a multiple of its cores.
    min_partitions: int | None = None
    starting_offsets: str = "earliest"
    kafka_options: Mapping[str, str] = field(default_factory=dict)  # e.g. MSK's IAM auth

    def schemas(self) -> dict[str, EventSchema]:
        """Each topic's event schema, `<schemas_dir>/<topic>.json`; every topic needs one."""
        missing = [t for t in self.topics if not (self.schemas_dir / f"{t}.json").is_file()]
        if missing:
            raise ValueError(f"no event schema for topics {missing} in {self.schemas_dir}")
        return {t: EventSchema.load(self.schemas_dir / f"{t}.json") for t in self.topics}


def start(
    spark: SparkSession, config: StreamConfig, tables: StreamTables | None = None
) -> tuple[StreamingQuery, EpochWriter]:
    tables = tables or StreamTables()
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    schemas = config.schemas()
    tables.ensure(spark, schemas)
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", config.bootstrap)
        .option("subscribe", ",".join(config.topics))
        .option("startingOffsets", config.starting_offsets)
        .option("includeHeaders", "true")
        .option("failOnDataLoss", "true")
    )
    if config.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(config.max_offsets_per_trigger))
    # Offset ranges are split only where there are fewer topic partitions than this.
    min_partitions = config.min_partitions or spark.sparkContext.defaultParallelism
    reader = reader.option("minPartitions", str(min_partitions))
    for key, value in config.kafka_options.items():
        reader = reader.option(f"kafka.{key}", value)
    writer = EpochWriter(spark, config.name, schemas, tables)
    stream = reader.load().writeStream.queryName(config.name).option("checkpointLocation", config.checkpoint)
    stream = stream.foreachBatch(writer)
    if config.trigger == AVAILABLE_NOW:
        stream = stream.trigger(availableNow=True)
    else:
        stream = stream.trigger(processingTime=config.trigger)
    return stream.start(), writer


def local_schemas(location: str, s3: S3Client) -> Path:
    """The schemas folder as a local path: as given, or copied from `s3://bucket/prefix` (on EMR, where
    `make deploy` put `streaming/schemas/`)."""
    if not location.startswith("s3://"):
        return Path(location)
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    target = Path(tempfile.mkdtemp(prefix="schemas-"))
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
    for item in (item for page in pages for item in page.get("Contents", [])):
        if item["Key"].endswith(".json"):
            s3.download_file(bucket, item["Key"], str(target / item["Key"].rsplit("/", 1)[1]))
    return target


def progress_summary(progress: Mapping[str, Any]) -> dict[str, Any]:
    """What status and metrics report of one batch's progress."""
    sources = progress.get("sources") or [{}]
    lag = sources[0].get("metrics", {}).get("maxOffsetsBehindLatest")
    return {
        "batch": progress.get("batchId"),
        "input_rows": progress.get("numInputRows", 0),
        "input_rows_per_s": progress.get("inputRowsPerSecond", 0.0),
        "processed_rows_per_s": progress.get("processedRowsPerSecond", 0.0),
        "batch_duration_ms": progress.get("batchDuration", 0),
        "consumer_lag": int(lag) if lag not in (None, "") else None,
        "at": progress.get("timestamp"),
    }


StreamState = Literal["running", "stopped", "failed"]  # the status file's `state`


class Reporter:
    """Writes the status file and puts the batch metrics (lag, duration, dead letters) in CloudWatch."""

    def __init__(
        self, config: StreamConfig, status_file: Path | None, cloudwatch: CloudWatchClient | None
    ) -> None:
        self.config, self.status_file, self.cloudwatch = config, status_file, cloudwatch
        self.last_batch: int | None = None

    def report(
        self, state: StreamState, query: StreamingQuery | None, writer: EpochWriter | None, error: str = ""
    ) -> None:
        progress = progress_summary(query.lastProgress) if query is not None and query.lastProgress else {}
        if writer is not None and writer.last is not None:
            progress["dead_letters"] = writer.last.dead_letters
        status = {
            "name": self.config.name,
            "topics": list(self.config.topics),
            "state": state,
            "updated_at": datetime.now(UTC).isoformat(),
            "last_progress": progress,
            "error": error,
        }
        if self.status_file is not None:
            tmp = self.status_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(status, indent=2))
            tmp.replace(self.status_file)
        if progress.get("batch") is not None and progress["batch"] != self.last_batch:
            self.last_batch = progress["batch"]
            self._metrics(progress)
        if error:
            self._put([("StreamFailures", 1, "Count")])

    def _metrics(self, progress: Mapping[str, Any]) -> None:
        values: list[tuple[str, float, StandardUnitType]] = [
            ("BatchDurationMs", progress["batch_duration_ms"], "Milliseconds"),
            ("InputRows", progress["input_rows"], "Count"),
        ]
        if progress.get("consumer_lag") is not None:
            values.append(("ConsumerLag", progress["consumer_lag"], "Count"))
        if "dead_letters" in progress:
            values.append(("DeadLetters", progress["dead_letters"], "Count"))
        self._put(values)

    def _put(self, values: list[tuple[str, float, StandardUnitType]]) -> None:
        if self.cloudwatch is None:
            return
        dimensions: list[DimensionTypeDef] = [
            {"Name": "service", "Value": "streaming"},
            {"Name": "stream", "Value": self.config.name},
        ]
        try:
            self.cloudwatch.put_metric_data(
                Namespace=METRICS_NAMESPACE,
                MetricData=[
                    {"MetricName": n, "Value": float(v), "Unit": u, "Dimensions": dimensions}
                    for n, v, u in values
                ],
            )
        except Exception as exc:  # metrics must never stop the stream
            log.warning("could not put metrics: %s", exc)


def run(spark: SparkSession, config: StreamConfig, reporter: Reporter, poll_s: int = 2) -> int:
    """Run until the query ends (available-now), fails, or a SIGTERM/SIGINT stops it; the exit code."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    query, writer = start(spark, config)
    reporter.report("running", query, writer)
    while query.isActive and not stopping.is_set():
        query.awaitTermination(poll_s)
        reporter.report("running", query, writer)
    if stopping.is_set() and query.isActive:
        _stop_between_batches(query)
    error = query.exception()
    reporter.report("failed" if error else "stopped", query, writer, str(error) if error else "")
    return 1 if error else 0


def _stop_between_batches(query: StreamingQuery, timeout_s: float = 30.0) -> None:
    """Let the running micro-batch finish its commits, then stop: `stop()` alone interrupts it, which
    is safe (the checkpoint replays it) but leaves its later tables behind until the next start."""
    deadline = time.monotonic() + timeout_s
    while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline:
        time.sleep(0.2)
    query.stop()
