"""`dp sample rds-export|rds-snapshots|events`: sample data on the local stack, shaped as the real sources
deliver it."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated

import typer
from confluent_kafka import KafkaException

from dataplatform.aws import client
from dptools.cli.console import days_from_to, fail, out, progress
from dptools.local.stack import KAFKA, LocalStack
from dptools.samples.clickstream import ProduceError, produce_events
from dptools.samples.rds_export import generate_tpch, s3_writer, write_rds_export
from dptools.samples.rds_source import SAMPLE_INSTANCE, run_export_task, take_daily_snapshots

app = typer.Typer(help="Sample data on the local stack, shaped as the real sources deliver it.")


@app.command("rds-export")
def rds_export(
    sf: Annotated[float, typer.Option("--sf", help="TPC-H scale factor.")] = 0.01,
    day: Annotated[str, typer.Option("--date", help="Snapshot date, YYYY-MM-DD.")] = "2026-11-01",
    task: Annotated[
        str | None,
        typer.Option("--task", help="Play RDS for this started export task: its files, then its event."),
    ] = None,
) -> None:
    """Write a TPC-H database to the local raw bucket as an RDS snapshot export (export_info last)."""
    stack = LocalStack()
    settings = stack.settings()
    bucket, s3 = settings.require("raw_bucket"), client("s3", settings)
    progress(f"generating TPC-H SF {sf:g} with tpchgen-cli")
    tpch = generate_tpch(sf, stack.paths.root / "samples" / "tpch")
    if task:
        progress(f"writing the files of export task {task} where it says, then its completion event")
        export = run_export_task(settings, task, tpch)
    else:
        progress(f"writing the RDS export of {day} to s3://{bucket}/")
        export = write_rds_export(s3_writer(s3, bucket), tpch, date.fromisoformat(day), bucket)
    out.print(
        f"[green]export {export.export_id}[/]: {export.files} files, rows {export.rows}; s3://{bucket}/{export.info_key}"
    )


@app.command("rds-snapshots")
def rds_snapshots(
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    last: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (inclusive).")],
    instance: Annotated[str, typer.Option(help="The DB instance (one of ExportSources).")] = SAMPLE_INSTANCE,
) -> None:
    """The daily automated snapshots of a DB instance on the local RDS, as RDS's backup window takes them."""
    days = days_from_to(first, last)
    snapshots = take_daily_snapshots(client("rds", LocalStack().settings()), instance, days)
    for snapshot in snapshots:
        out.print(f"[green]{snapshot.identifier}[/] (export id {snapshot.export_id})", highlight=False)


@app.command("events")
def events(
    topic: Annotated[str, typer.Argument(help="The Kafka topic, created if missing.")],
    rate: Annotated[
        float, typer.Option("--rate", min=0, help="Events per second; 0 for as fast as possible.")
    ] = 0,
    count: Annotated[int, typer.Option("--count", min=0, help="How many events to produce.")] = 10_000,
    malformed_share: Annotated[
        float, typer.Option("--malformed-share", min=0, max=1, help="Share of malformed messages.")
    ] = 0.0,
    partitions: Annotated[int, typer.Option("--partitions", min=1, help="Partitions of a new topic.")] = 3,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for the same events again; random if not given.")
    ] = None,
) -> None:
    """Produce a JSON clickstream (page views, add-to-cart, purchases) to the local Kafka broker."""
    stack = LocalStack()
    bootstrap = stack.kafka_bootstrap()
    if bootstrap is None or not stack.parts[KAFKA].is_running():
        fail("the local stack's Kafka broker is not running: run `dp stack up`")
    seed = secrets.randbits(32) if seed is None else seed
    progress(f"producing {count} events to {topic} at {bootstrap} ({f'{rate:g}/s' if rate else 'unpaced'})")
    try:
        report = produce_events(bootstrap, topic, count, rate or None, malformed_share, seed, partitions)
    except (ProduceError, KafkaException) as exc:
        fail(f"producing to {topic} failed: {exc}")
    kinds = ", ".join(f"{kind} {n}" for kind, n in report.malformed_by_kind.items() if n) or "none"
    out.print(
        f"[green]{report.produced} events[/] to {report.topic} in {report.seconds:.2f}s "
        f"({report.events_per_second:,.0f}/s): {report.valid} valid, {report.malformed} malformed ({kinds}); "
        f"occurred {report.first_event_at} to {report.last_event_at}; seed {report.seed}",
        highlight=False,
    )
