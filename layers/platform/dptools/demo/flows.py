"""The demo's flows on the local stack, each through the platform's real entry points: RDS exports
through the template's rule and the dispatcher, the REST API through its function, Kafka through the
streaming job. A flow reports progress and results through a `Reporter`; it raises `DemoError`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Profile, Settings
from dataplatform.spark.session import build_session
from dataplatform.sql.result import SqlError
from dptools.demo.smoke import run_smoke
from dptools.functions import function_sender
from dptools.local.paths import project_root
from dptools.local.stack import TRINO, LocalStack
from dptools.local.streaming_process import LocalStream
from dptools.local.trino_client import trino_query
from dptools.samples.clickstream import produce_events
from dptools.samples.rds_export import TABLES, ExportNotCataloged, generate_tpch, land_rds_export

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

API_INGEST_FUNCTION = "ApiIngestFunction"
STREAM_TABLES = ("raw.events__clickstream", "raw.events__clickstream__typed", "raw.events__dead_letters")


class DemoError(RuntimeError):
    """A flow did not get where it should; the message says where to look."""


@dataclass(frozen=True)
class Reporter:
    progress: Callable[[str], None]
    ok: Callable[[str], None]
    info: Callable[[str], None]


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


def rds_exports(stack: LocalStack, settings: Settings, report: Reporter) -> None:
    """Two daily RDS exports land; the template's rule and the dispatcher catalog each one."""
    bucket = settings.require("raw_bucket")
    tpch = generate_tpch(0.01, stack.paths.root / "samples" / "tpch")
    for day in (date(2026, 11, 1), date(2026, 11, 2)):
        report.progress(
            f"RDS export of {day}: writing TPC-H SF 0.01 in RDS's layout to s3://{bucket}/exports/"
        )
        try:
            export = land_rds_export(settings, tpch, day)
        except ExportNotCataloged as exc:
            raise DemoError(f"{exc}; see {stack.paths.run}/dispatcher.log") from exc
        catalog = glue_catalog(settings)
        counts = {t: catalog.load_table(f"raw.tpch__public__{t}").scan().to_arrow().num_rows for t in TABLES}
        report.ok(f"export {export.export_id} cataloged by snapshot_catalog: {counts}")


def api_ingest(settings: Settings, report: Reporter) -> None:
    """The sample reviews API pulled as its schedule would, through the function: a scheduled run, then
    a backfill over the same weeks (whose records are already in, so none land twice)."""
    send = function_sender(API_INGEST_FUNCTION, Profile.LOCAL, "")
    for name in ("scheduled.json", "backfill.json"):
        report.progress(f"REST API: dp invoke {API_INGEST_FUNCTION} -e events/api_ingest/{name}")
        result = send(json.loads((project_root() / "events/api_ingest" / name).read_text()))
        report.ok(
            f"{result['table']}: {result['status']}, {result['record_count']} records landed, "
            f"{result['duplicates_skipped']} already there"
        )
    rows = glue_catalog(settings).load_table("raw.reviews__reviews").scan(selected_fields=("review_id",))
    report.info(f"raw.reviews__reviews holds {rows.to_arrow().num_rows} review versions")


def streaming(stack: LocalStack, settings: Settings, report: Reporter) -> None:
    """A batch of clickstream events (5% malformed) through the streaming job, run available-now."""
    topic = "clickstream"
    produced = produce_events(stack.kafka_bootstrap() or "", topic, 5_000, None, 0.05, seed=int(time.time()))
    report.progress(f"Kafka: produced {produced.produced} events to {topic} ({produced.malformed} malformed)")
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
    catalog = glue_catalog(settings)
    counts = {
        name: catalog.load_table(name).scan(selected_fields=("offset",)).to_arrow().num_rows
        for name in STREAM_TABLES
    }
    report.ok(f"streaming job landed every event: {counts}")


SQL_EXAMPLES = {
    "orders as each RDS export had them (time travel by export tag)": (
        "SELECT '2026-11-01' AS export, count(*) AS orders FROM raw.tpch__public__orders "
        "FOR VERSION AS OF 'export-2026-11-01' UNION ALL "
        "SELECT '2026-11-02', count(*) FROM raw.tpch__public__orders FOR VERSION AS OF 'export-2026-11-02' "
        "ORDER BY 1"
    ),
    "clickstream events by type (the stream's typed table)": (
        "SELECT event_type, count(*) AS events FROM raw.events__clickstream__typed GROUP BY 1 ORDER BY 2 DESC"
    ),
}


def sql(stack: LocalStack, report: Reporter) -> None:
    """Two example queries through the stack's Trino, the local stand-in for Athena (`dp sql`)."""
    url = stack.start_trino(report.progress)
    for title, query in SQL_EXAMPLES.items():
        report.progress(f"dp sql: {title}")
        try:
            result = trino_query(url, query)
        except SqlError as exc:
            raise DemoError(f"{exc}; see {stack.parts[TRINO].log_file}") from exc
        report.ok(f"{title}: {' | '.join(result.columns)}")
        for row in result.rows:
            report.info(" | ".join(str(v) for v in row))


def run_demo(stack: LocalStack, report: Reporter) -> Settings:
    """Stack up, then every flow in order; returns the stack's settings for the where-to-look summary."""
    settings = stack.up(progress=report.progress)
    stack.start_trino(report.progress, wait=False)  # starts beside the flows; sql() waits for it
    smoke(stack, report)
    rds_exports(stack, settings, report)
    api_ingest(settings, report)
    streaming(stack, settings, report)
    sql(stack, report)
    return settings
