"""The demo's flows on the local stack, each through the platform's real entry points: RDS exports
through the template's rule and the dispatcher, the REST API through its function, Kafka through the
streaming job, the transforms and the warehouse load through TransformStateMachine. A flow reports
progress and results through a `Reporter`; it raises `DemoError`.

Every flow is a replay-safe step: a second demo on the same state lands nothing twice (exports already
cataloged, records and events already there, transforms with no change, loads already audited)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Profile, Settings
from dataplatform.snapshot_catalog.catalog_export import marker_key
from dataplatform.snapshot_export.snapshots import export_id_for
from dataplatform.spark.session import build_session
from dataplatform.sql.result import SqlError
from dataplatform.warehouse.tables import KEYS as ANALYTICS_KEYS
from dptools.demo.bi_queries import QueryResult, run_bi_queries
from dptools.demo.smoke import run_smoke
from dptools.executions import execution_runner
from dptools.functions import function_sender
from dptools.local.output import output_to
from dptools.local.paths import project_root
from dptools.local.stack import TRINO, LocalStack
from dptools.local.streaming_process import LocalStream
from dptools.local.trino_client import trino_query
from dptools.samples.clickstream import produce_events
from dptools.samples.rds_export import (
    BASE_DATE,
    DATABASE,
    TABLES,
    ExportNotCataloged,
    generate_tpch,
    land_rds_export,
)

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef
    from pyiceberg.catalog import Catalog
    from pyspark.sql import SparkSession

API_INGEST_FUNCTION = "ApiIngestFunction"
TRANSFORM_STATE_MACHINE = "TransformStateMachine"
STREAM_TABLES = ("raw.events__clickstream", "raw.events__clickstream__typed", "raw.events__dead_letters")
ANALYTICS_TABLES = tuple(ANALYTICS_KEYS)
SCALE = 0.1  # TPC-H scale factor of the sample RDS database
FIRST_EXPORT, SECOND_EXPORT = BASE_DATE, BASE_DATE + timedelta(days=1)
FIRST_EVENTS, LATER_EVENTS = 5_000, 1_000


class DemoError(RuntimeError):
    """A flow did not get where it should; the message says where to look."""


@dataclass(frozen=True)
class Reporter:
    progress: Callable[[str], None]
    ok: Callable[[str], None]
    info: Callable[[str], None]
    stage: Callable[[str], None] = print


def smoke(stack: LocalStack, report: Reporter) -> None:
    """The smoke flow, with a Spark session of its own that is stopped whatever happens."""
    settings = stack.settings()
    sessions: list[SparkSession] = []

    def spark() -> SparkSession:
        sessions.append(build_session("dp-smoke", settings, master="local[2]"))
        return sessions[-1]

    try:
        results = run_smoke(settings, spark, step=lambda name: report.progress(f"smoke: {name}"))
    finally:
        for session in sessions:
            session.stop()
    for result in results:
        report.ok(f"{result.name} ({result.seconds:.1f}s): {result.detail}")


def _table_rows(catalog: Catalog, name: str) -> int:
    """Rows of an Iceberg table: its snapshot summary's count when it has no deletes, else a scan of one
    column (merge-on-read tables)."""
    table = catalog.load_table(name)
    snapshot = table.current_snapshot()
    if snapshot is None:
        return 0
    summary = snapshot.summary.additional_properties if snapshot.summary else {}
    if (
        int(summary.get("total-position-deletes", 0)) == 0
        and int(summary.get("total-equality-deletes", 0)) == 0
    ):
        return int(summary.get("total-records", 0))
    first = table.schema().fields[0].name
    return table.scan(selected_fields=(first,)).to_arrow().num_rows


def rds_export(stack: LocalStack, settings: Settings, report: Reporter, day: date, scale: float) -> None:
    """A daily RDS export lands; the template's rule and the dispatcher catalog it. An export already
    cataloged is not written again (a replay of the demo lands nothing twice)."""
    bucket = settings.require("raw_bucket")
    export_id = export_id_for(DATABASE, day)
    s3 = client("s3", settings)
    if s3.list_objects_v2(Bucket=bucket, Prefix=marker_key(export_id)).get("KeyCount", 0):
        report.ok(f"export {export_id} already cataloged: nothing to land")
        return
    tpch = generate_tpch(scale, stack.paths.root / "samples" / "tpch")
    changes = " (~1% of customers, parts and orders changed, new orders)" if day > BASE_DATE else ""
    report.progress(
        f"RDS export of {day}: TPC-H SF {scale:g}{changes} in RDS's layout to s3://{bucket}/exports/"
    )
    try:
        export = land_rds_export(settings, tpch, day, timeout_s=600)
    except ExportNotCataloged as exc:
        raise DemoError(f"{exc}; see {stack.paths.run}/dispatcher.log") from exc
    catalog = glue_catalog(settings)
    counts = {t: _table_rows(catalog, f"raw.tpch__public__{t}") for t in TABLES}
    report.ok(f"export {export.export_id} cataloged by snapshot_catalog: {counts}")


@contextmanager
def _output_to(log: Path | None) -> Iterator[None]:
    """The process's output into `log` while in-process handlers run; unchanged when `log` is None
    (`--verbose`)."""
    if log is None:
        yield
        return
    with output_to(log):
        yield


def api_ingest(
    settings: Settings, report: Reporter, events: Sequence[dict[str, Any]], log: Path | None
) -> None:
    """The sample reviews API pulled through the function, as its schedule (or a backfill) would; a
    record already landed is not landed again."""
    send = function_sender(API_INGEST_FUNCTION, Profile.LOCAL, "")
    for event in events:
        what = (
            f"window {event['window']['start']}..{event['window']['end']}"
            if "window" in event
            else (f"scheduled {event['scheduled_time']}")
        )
        report.progress(f"REST API: {API_INGEST_FUNCTION}, {what}")
        with _output_to(log):
            result = send(event)
        report.ok(
            f"{result['table']}: {result['status']}, {result['record_count']} records landed, "
            f"{result['duplicates_skipped']} already there"
        )
    report.info(
        f"raw.reviews__reviews holds {_table_rows(glue_catalog(settings), 'raw.reviews__reviews')} review versions"
    )


def api_events(later: bool) -> list[dict[str, Any]]:
    """The first pass: a scheduled run and a backfill (events/api_ingest); the later pass: the next
    day's scheduled run, which takes only what is new."""
    folder = project_root() / "events/api_ingest"
    scheduled = json.loads((folder / "scheduled.json").read_text())
    if not later:
        return [scheduled, json.loads((folder / "backfill.json").read_text())]
    when = datetime.fromisoformat(scheduled["scheduled_time"].replace("Z", "+00:00")) + timedelta(days=1)
    return [{**scheduled, "scheduled_time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}]


def topic_messages(bootstrap: str, topic: str) -> int:
    """Messages in `topic` (0 when it does not exist): the sum of its partitions' end offsets."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dp-demo-topic-size", "log_level": 3})
    try:
        topics = consumer.list_topics(topic, timeout=30).topics
        if topic not in topics or topics[topic].error is not None:
            return 0
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in topics[topic].partitions
        )
    finally:
        consumer.close()


def streaming(stack: LocalStack, settings: Settings, report: Reporter, total: int, seed: int) -> None:
    """Clickstream events (5% malformed) to Kafka until the topic holds `total`, then the streaming job,
    run available-now, lands what it has not landed yet."""
    topic = "clickstream"
    bootstrap = stack.kafka_bootstrap() or ""
    missing = total - topic_messages(bootstrap, topic)
    if missing > 0:
        produced = produce_events(bootstrap, topic, missing, None, 0.05, seed=seed)
        report.progress(
            f"Kafka: produced {produced.produced} events to {topic} ({produced.malformed} malformed)"
        )
    else:
        report.ok(f"Kafka: {topic} already holds {total} events: nothing to produce")
    catalog = glue_catalog(settings)
    if catalog.table_exists(STREAM_TABLES[0]) and _table_rows(catalog, STREAM_TABLES[0]) >= total:
        report.ok(
            f"{STREAM_TABLES[0]} already holds every message of {topic}: the stream has nothing to land"
        )
        return
    stream = LocalStream(stack.paths, topic)
    report.progress("streaming: streaming/kafka_to_raw.py --trigger available-now (Spark, local[2])")
    stream.start(settings, [topic], trigger="available-now")
    deadline = time.monotonic() + 300
    while stream.process.is_running():
        if time.monotonic() > deadline:
            stream.stop()
            raise DemoError(f"the streaming job did not finish in 300 s; see {stream.process.log_file}")
        time.sleep(1)
    status = stream.status()
    if status.get("state") != "stopped":
        raise DemoError(f"the streaming job failed: {status.get('error')}; see {stream.process.log_file}")
    counts = {name: _table_rows(catalog, name) for name in STREAM_TABLES}
    report.ok(f"streaming job landed every event: {counts}")


def transform_run(stack: LocalStack, report: Reporter, label: str) -> None:
    """A run of TransformStateMachine, as `dp transform run` starts it: staging, the model, the
    aggregates, publish, then LoadWarehouse; a line per state."""

    def show(events: Sequence[HistoryEventTypeDef]) -> None:
        for event in events:
            if event["type"] == "TaskStateExited":
                report.ok(f"{label}: {event['stateExitedEventDetails']['name']}")

    execute = execution_runner(TRANSFORM_STATE_MACHINE, Profile.LOCAL, "", on_events=show)
    name = f"demo-{label.replace(' ', '-')}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    report.progress(f"transforms: execution {name} of {TRANSFORM_STATE_MACHINE} (one Spark job per state)")
    outcome = execute(name, {})
    if not outcome.succeeded:
        raise DemoError(
            f"the transform run {outcome.status}: {outcome.error}: {(outcome.cause or '').strip()[:500]}; "
            f"see {stack.paths.run} (aws.log, emr-jobs)"
        )
    output = outcome.output or {}
    if output.get("skipped"):
        raise DemoError(f"the transform run did nothing: {output['skipped']}")
    total = (output.get("published", {}).get("figures", {}) or {}).get("total")
    report.ok(f"{label}: run {output.get('run_id', name)} published" + (f", {total}" if total else ""))


def warehouse_rows(settings: Settings) -> dict[str, int]:
    """Rows per analytics table in the warehouse (as its admin)."""
    from dataplatform.warehouse.adapters import warehouse_for

    warehouse = warehouse_for(settings)
    return {
        f"warehouse.analytics.{t}": int(warehouse.query(f"SELECT count(*) FROM analytics.{t}")[0][0])
        for t in ANALYTICS_TABLES
    }


def lake_rows(settings: Settings, zones: Sequence[str] = ("raw", "staging", "analytics")) -> dict[str, int]:
    """Rows per table of the lake's zones."""
    catalog = glue_catalog(settings)
    return {
        f"{zone}.{name}": _table_rows(catalog, f"{zone}.{name}")
        for zone in zones
        for (_, name) in catalog.list_tables(zone)
        if not name.startswith("smoke__") and name != "transform_quarantine"
    }


def check_warehouse(settings: Settings, report: Reporter) -> dict[str, int]:
    """The warehouse holds every row of each published analytics table (LoadWarehouse loaded them)."""
    lake = lake_rows(settings, ("analytics",))
    loaded = warehouse_rows(settings)
    differ = {
        t: (lake.get(t.removeprefix("warehouse."), 0), n)
        for t, n in loaded.items()
        if lake.get(t.removeprefix("warehouse."), 0) != n
    }
    if differ:
        raise DemoError(f"the warehouse does not hold the analytics rows (lake, warehouse): {differ}")
    report.ok(f"warehouse holds every analytics row: {sum(loaded.values()):,} rows in {len(loaded)} tables")
    return loaded


def sql_examples(exports: Sequence[date]) -> dict[str, str]:
    """The demo's two Trino queries: orders as each of `exports` had them, and the stream's events."""
    as_of = " UNION ALL ".join(
        f"SELECT '{day}' AS export, count(*) AS orders FROM raw.tpch__public__orders "
        f"FOR VERSION AS OF 'export-{day}'"
        for day in exports
    )
    return {
        "orders as each RDS export had them (time travel by export tag)": f"{as_of} ORDER BY 1",
        "clickstream events by type (the stream's typed table)": (
            "SELECT event_type, count(*) AS events FROM raw.events__clickstream__typed GROUP BY 1 ORDER BY 2 DESC"
        ),
    }


def sql(stack: LocalStack, report: Reporter, exports: Sequence[date]) -> None:
    """Two example queries through the stack's Trino, the local stand-in for Athena (`dp sql`)."""
    url = stack.start_trino(report.progress)
    for title, query in sql_examples(exports).items():
        report.progress(f"dp sql: {title}")
        try:
            result = trino_query(url, query)
        except SqlError as exc:
            raise DemoError(f"{exc}; see {stack.parts[TRINO].log_file}") from exc
        report.ok(f"{title}: {' | '.join(result.columns)}")
        for row in result.rows:
            report.info(" | ".join(str(v) for v in row))


@dataclass
class Stages:
    """The demo's stages in order, each with its wall time."""

    report: Reporter
    seconds: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.report.stage(name)
        start = time.monotonic()
        yield
        self.seconds.append((name, time.monotonic() - start))
        self.report.info(f"[dim]{name}: {self.seconds[-1][1]:.1f} s[/]")


@dataclass(frozen=True)
class DemoResult:
    settings: Settings
    stages: list[tuple[str, float]]
    table_rows: dict[str, int]
    bi: dict[str, QueryResult]
    bi_url: str


def bi_url(settings: Settings) -> str:
    """The local warehouse's connection string for the BI user (`dp warehouse url --bi`)."""
    from dataplatform.warehouse.adapters import secret_value
    from dataplatform.warehouse.postgres import PostgresConnection

    return PostgresConnection.from_secret(
        secret_value(settings, settings.require("warehouse_bi_secret"))
    ).url()


def _second_pass(
    stack: LocalStack, settings: Settings, report: Reporter, stages: Stages, scale: float, log: Path | None
) -> dict[str, int]:
    """Every source again, with changes, and the incremental transform run (and load) they start."""
    with stages.stage("RDS export 2 (changes) and its cataloging"):
        rds_export(stack, settings, report, SECOND_EXPORT, scale)
    with stages.stage("REST API: next day's pull"):
        api_ingest(settings, report, api_events(later=True), log)
    with stages.stage("clickstream: more events"):
        streaming(stack, settings, report, FIRST_EVENTS + LATER_EVENTS, seed=2)
    with stages.stage("incremental transform run (and load)"):
        transform_run(stack, report, "incremental run")
        return check_warehouse(settings, report)


def run_demo(
    stack: LocalStack, report: Reporter, scale: float = SCALE, verbose: bool = False, passes: int = 2
) -> DemoResult:
    """Stack up, then every flow in order: a first pass of each source, a transform run (which loads the
    warehouse), then (with `passes` 2) a second pass with changes and an incremental run; the SQL and BI
    queries at the end."""
    if passes not in (1, 2):
        raise DemoError(f"passes is 1 or 2, not {passes}")
    stages = Stages(report)
    log = None if verbose else stack.paths.run / "demo-handlers.log"
    with stages.stage("stack up"):
        settings = stack.up(progress=report.progress)
        stack.start_trino(report.progress, wait=False)  # starts beside the flows; sql() waits for it
    with stages.stage("RDS export 1 and its cataloging"):
        rds_export(stack, settings, report, FIRST_EXPORT, scale)
    with stages.stage("REST API pulls"):
        api_ingest(settings, report, api_events(later=False), log)
    with stages.stage("clickstream: Kafka and the stream"):
        streaming(stack, settings, report, FIRST_EVENTS, seed=1)
    with stages.stage("transform run (and warehouse load)"):
        transform_run(stack, report, "first run")
        loaded = check_warehouse(settings, report)
    if passes == 2:
        loaded = _second_pass(stack, settings, report, stages, scale, log)
    with stages.stage("SQL over the lake (Trino)"):
        sql(stack, report, [FIRST_EXPORT, SECOND_EXPORT][:passes])
    with stages.stage("BI queries on the warehouse"):
        url = bi_url(settings)
        results = run_bi_queries(url)
        report.ok(f"{len(results)} queries as the BI user (read only)")
    return DemoResult(settings, stages.seconds, {**lake_rows(settings), **loaded}, results, url)
