"""Kafka to the raw zone, exactly once, on the real local broker and real Spark.

GIVEN clickstream events (some malformed) on a topic of the local Kafka broker,
WHEN the streaming job runs as its own process (as on EMR) and is killed, restarted, or loses its broker,
THEN every record lands in raw exactly once, and in exactly one of the typed or dead-letter tables.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from pyiceberg.exceptions import NoSuchTableError
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from typer.testing import CliRunner

from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.maintenance.policy import MaintenancePolicy
from dataplatform.maintenance.run import maintain_table
from dataplatform.settings import Settings
from dataplatform.streaming.tables import KAFKA_SCHEMA, StreamTables
from dataplatform.streaming.transforms import dead_letter_rows, parse_events
from dataplatform.streaming.validation import EventSchema
from dptools.cli.main import app
from dptools.local.paths import DP_LOCAL_DIR
from dptools.local.stack import KAFKA, LocalStack
from dptools.local.streaming_process import LocalStream
from dptools.sam.template import load_template
from dptools.samples.clickstream import produce_events
from tests.conftest import ROOT, wait_for

SCHEMA = ROOT / "streaming/schemas/clickstream.json"
TABLES = StreamTables()


@pytest.fixture
def topic(tmp_path: Path) -> tuple[str, Path]:
    """A fresh topic, with the clickstream schema under its name."""
    name = f"clicks_{uuid.uuid4().hex[:8]}"
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    shutil.copy(SCHEMA, schemas / f"{name}.json")
    return name, schemas


@pytest.fixture
def stream(local_stack: LocalStack, topic: tuple[str, Path]) -> Iterator[LocalStream]:
    job = LocalStream(local_stack.paths, name=topic[0])
    yield job
    job.stop(timeout_s=30)


def landed(settings: Settings, name: str) -> int:
    """Rows in the topic's raw table so far (none before the job has created it)."""
    try:
        return counts(settings, name)["raw"]
    except NoSuchTableError:
        return 0


def counts(settings: Settings, name: str) -> dict[str, Any]:
    catalog = glue_catalog(settings)
    raw = catalog.load_table(TABLES.raw(name)).scan(selected_fields=("partition", "offset")).to_arrow()
    typed = catalog.load_table(TABLES.typed(name)).scan(selected_fields=("event_id",)).to_arrow()
    letters = catalog.load_table(TABLES.dead_letters).scan(row_filter=f"topic = '{name}'").to_arrow()
    partitions, offsets = raw.column("partition").to_pylist(), raw.column("offset").to_pylist()
    coordinates = set(zip(partitions, offsets, strict=True))
    return {
        "raw": raw.num_rows,
        "distinct_raw": len(coordinates),
        "typed": typed.num_rows,
        "distinct_typed": len(set(typed.column("event_id").to_pylist())),
        "dead": letters.num_rows,
        "reasons": {r["values"]: r["counts"] for r in pc.value_counts(letters.column("reason")).to_pylist()},
    }


def run_to_end(stream: LocalStream, settings: Settings, name: str, schemas: Path) -> None:
    """Start the job with an available-now trigger and wait until it has drained the topic and stopped."""
    stream.start(settings, [name], trigger="available-now", schemas=schemas)
    wait_for(lambda: not stream.process.is_running(), 240, "the available-now run to finish")
    assert stream.status()["state"] == "stopped", stream.process.log_tail(40)


def test_every_event_lands_once_poison_is_counted_exactly_and_a_redeploy_resumes_from_the_checkpoint(
    stream: LocalStream,
    topic: tuple[str, Path],
    local_stack: LocalStack,
    stack_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, schemas = topic
    report = produce_events(local_stack.kafka_bootstrap() or "", name, 3_000, None, 0.1, seed=7)
    run_to_end(stream, stack_settings, name, schemas)
    found = counts(stack_settings, name)
    assert found["raw"] == found["distinct_raw"] == 3_000
    assert found["typed"] == found["distinct_typed"] == report.valid
    assert found["dead"] == report.malformed == 300
    assert sum(found["reasons"].values()) == 300
    assert found["reasons"].get("not_json") == report.malformed_by_kind["not_json"]

    # A redeploy: a new process on the same checkpoint takes only what came after.
    status = stream.status()
    assert status["process"] == "stopped" and status["last_progress"]["consumer_lag"] == 0
    more = produce_events(local_stack.kafka_bootstrap() or "", name, 500, None, 0.0, seed=8)
    run_to_end(stream, stack_settings, name, schemas)
    again = counts(stack_settings, name)
    assert again["raw"] == again["distinct_raw"] == 3_500
    assert again["typed"] == again["distinct_typed"] == report.valid + more.valid

    monkeypatch.setenv(DP_LOCAL_DIR, str(local_stack.paths.root))
    shown = CliRunner().invoke(app, ["streaming", "status", "--name", name])
    assert shown.exit_code == 0, shown.output
    reported = json.loads(shown.stdout)
    assert (reported["process"], reported["topics"], reported["last_progress"]["consumer_lag"]) == (
        "stopped",
        [name],
        0,
    )


def test_sigkill_mid_batch_three_times_loses_and_duplicates_nothing(
    stream: LocalStream, topic: tuple[str, Path], local_stack: LocalStack, stack_settings: Settings
) -> None:
    name, schemas = topic
    report = produce_events(local_stack.kafka_bootstrap() or "", name, 6_000, None, 0.05, seed=11)
    rng = random.Random(3)
    for kill in range(3):
        # Small batches back to back: the job is always inside one when the kill comes.
        stream.start(stack_settings, [name], trigger="0 seconds", max_offsets=400, schemas=schemas)
        wait_for(
            lambda: (stream.status().get("last_progress") or {}).get("batch") is not None, 180, "a batch"
        )
        time.sleep(rng.uniform(0.5, 2.0))
        pid = stream.process.pid()
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        wait_for(lambda: not stream.process.is_running(), 20, f"kill {kill + 1} to take")
    run_to_end(stream, stack_settings, name, schemas)
    found = counts(stack_settings, name)
    assert found["raw"] == found["distinct_raw"] == 6_000
    assert found["typed"] == found["distinct_typed"] == report.valid
    assert found["dead"] == report.malformed


def test_a_broker_restart_mid_stream_loses_nothing(
    stream: LocalStream, topic: tuple[str, Path], local_stack: LocalStack, stack_settings: Settings
) -> None:
    name, schemas = topic
    bootstrap = local_stack.kafka_bootstrap() or ""
    first = produce_events(bootstrap, name, 2_000, None, 0.05, seed=21)
    stream.start(stack_settings, [name], trigger="1 second", max_offsets=500, schemas=schemas)
    wait_for(lambda: (stream.status().get("last_progress") or {}).get("batch") is not None, 180, "a batch")

    local_stack.parts[KAFKA].stop()
    time.sleep(3)
    local_stack.up()  # starts what is not running: the broker, on its port, with its log dir
    second = produce_events(bootstrap, name, 2_000, None, 0.05, seed=22)

    wait_for(
        lambda: landed(stack_settings, name) >= 4_000,
        240,
        "the stream to catch up after the broker came back",
    )
    assert stream.process.is_running(), stream.process.log_tail(40)
    stream.stop()
    found = counts(stack_settings, name)
    assert found["raw"] == found["distinct_raw"] == 4_000
    assert found["typed"] + found["dead"] == 4_000
    assert found["dead"] == first.malformed + second.malformed


def test_maintenance_beside_the_running_stream_keeps_the_counts_and_cuts_the_files(
    stream: LocalStream,
    topic: tuple[str, Path],
    local_stack: LocalStack,
    stack_settings: Settings,
    spark: SparkSession,
) -> None:
    name, schemas = topic
    bootstrap = local_stack.kafka_bootstrap() or ""
    produced = produce_events(bootstrap, name, 3_000, None, 0.05, seed=41).produced
    # Small batches: small files for maintenance to compact while the stream keeps committing.
    stream.start(stack_settings, [name], trigger="0 seconds", max_offsets=300, schemas=schemas)
    wait_for(lambda: landed(stack_settings, name) >= 1_500, 240, "half the backlog to land")
    table = TABLES.raw(name)
    files_before = spark.sql(f"SELECT count(*) FROM {table}.files").first()[0]  # type: ignore[index]
    policy = MaintenancePolicy(min_input_files=2, longest_writer_commit=timedelta(minutes=5))
    report = maintain_table(spark, table, policy)
    assert report.ok, report.error
    assert stream.process.is_running(), "maintenance failed the stream"
    produced += produce_events(bootstrap, name, 1_000, None, 0.05, seed=42).produced
    wait_for(lambda: landed(stack_settings, name) >= produced, 240, "the stream to land the rest")
    stream.stop()
    found = counts(stack_settings, name)
    assert found["raw"] == found["distinct_raw"] == produced
    assert found["typed"] + found["dead"] == produced
    assert report.rewritten_data_files > report.added_data_files
    assert report.data_files_after is not None and report.data_files_after < files_before


def test_the_templates_dead_letter_table_has_the_columns_the_job_writes(spark: SparkSession) -> None:
    declared = load_template(ROOT / "template.yaml")["Resources"]["StreamingDeadLetterTable"]["Properties"]
    columns = [c["Name"] for c in declared["TableInput"]["StorageDescriptor"]["Columns"]]
    parsed = parse_events(spark.createDataFrame([], KAFKA_SCHEMA), EventSchema.load(SCHEMA))
    assert dead_letter_rows(parsed, F.current_timestamp()).columns == columns
