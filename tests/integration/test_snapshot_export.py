"""snapshot_export on the local stack, through the template's own rules, the dispatcher and `dp export`.

GIVEN the sample `tpch` instance on the local RDS with its daily automated snapshots,
WHEN RDS's `Automated snapshot created` event arrives on the default bus,
THEN SnapshotExportFunction starts the export; RDS's stand-in writes the files where the task says and
sends the completion event; snapshot_catalog registers the tables and announces SnapshotCataloged, and
snapshot_export reports the export's end once. `dp export backfill` over 7 days starts 5 exports at once
and the other 2 as slots free, and a rerun starts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.settings import Settings
from dataplatform.snapshot_export.finished import quarantine_key
from dataplatform.snapshot_export.ledger import ExportLedger
from dataplatform.snapshot_export.snapshots import EXPORT_PREFIX, Snapshot
from dataplatform.snapshot_export.tasks import ExportTask, list_export_tasks
from dptools.cli.main import app
from dptools.local.paths import DP_LOCAL_DIR
from dptools.local.stack import LocalStack
from dptools.samples.rds_export import TABLES, generate_tpch
from dptools.samples.rds_source import (
    SAMPLE_INSTANCE,
    announce_snapshot,
    rds_event,
    run_export_task,
    take_daily_snapshots,
)
from tests.conftest import bus_listener, wait_for

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

CHAIN_DAY = date(2026, 11, 20)
CHAIN_DATABASE = "chain"  # the exported database's tables are raw.chain__public__*, apart from other tests'
WEEK = [date(2026, 11, 10) + timedelta(days=n) for n in range(7)]


@pytest.fixture(scope="module")
def rds(stack_settings: Settings) -> RDSClient:
    return client("rds", stack_settings)


@pytest.fixture(scope="module")
def tpch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_tpch(0.01, tmp_path_factory.mktemp("tpch"))


def tasks(rds: RDSClient) -> dict[str, ExportTask]:
    return {task.export_id: task for task in list_export_tasks(rds)}


def cancel_running(rds: RDSClient) -> None:
    for task in tasks(rds).values():
        if task.active:
            rds.cancel_export_task(ExportTaskIdentifier=task.export_id)


@pytest.fixture(autouse=True)
def free_export_slots(rds: RDSClient) -> Iterator[None]:
    """Each test starts with RDS running no export, and leaves none running for the tests after it."""
    cancel_running(rds)
    yield
    cancel_running(rds)


@pytest.fixture
def in_the_stack(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dp` commands in this process find the test's stack."""
    monkeypatch.setenv(DP_LOCAL_DIR, str(local_stack.paths.root))


def test_a_snapshot_event_starts_the_export_whose_files_are_cataloged_and_announced(
    rds: RDSClient, stack_settings: Settings, tpch: Path
) -> None:
    cataloged: Callable[[], list[dict[str, Any]]] = bus_listener(
        stack_settings,
        "test-export-chain",
        {"source": ["dataplatform.snapshot_catalog"], "detail-type": ["SnapshotCataloged"]},
    )
    [snapshot] = take_daily_snapshots(rds, SAMPLE_INSTANCE, [CHAIN_DAY])
    export_id = snapshot.export_id
    announce_snapshot(stack_settings, snapshot)

    wait_for(lambda: export_id in tasks(rds), 60, f"SnapshotExportFunction to start {export_id}")
    task = tasks(rds)[export_id]
    assert (task.source_arn, task.bucket, task.prefix) == (
        snapshot.arn,
        stack_settings.raw_bucket,
        EXPORT_PREFIX,
    )
    assert task.status == "IN_PROGRESS"

    run_export_task(stack_settings, export_id, tpch, database=CHAIN_DATABASE, rows_per_part=4_000)

    def announced() -> list[dict[str, Any]]:
        return [e for e in cataloged() if e["detail"]["export_id"] == export_id]

    wait_for(lambda: bool(announced()), 120, f"SnapshotCataloged of {export_id}")
    [event] = announced()
    assert {t["table"] for t in event["detail"]["tables"]} == {
        f"raw.{CHAIN_DATABASE}__public__{n}" for n in TABLES
    }
    assert event["detail"]["source_arn"] == snapshot.arn
    region = glue_catalog(stack_settings).load_table(f"raw.{CHAIN_DATABASE}__public__region")
    assert region.scan().to_arrow().num_rows == 5

    ledger = ExportLedger(client("dynamodb", stack_settings), stack_settings.require("ingest_state_table"))
    wait_for(lambda: export_id in ledger.reported(), 30, f"snapshot_export to report the end of {export_id}")
    assert tasks(rds)[export_id].status == "COMPLETE"


def test_a_backfill_of_seven_days_starts_seven_exports_and_a_rerun_starts_none(
    rds: RDSClient, stack_settings: Settings, in_the_stack: None
) -> None:
    snapshots = take_daily_snapshots(rds, SAMPLE_INSTANCE, WEEK)
    ids = [s.export_id for s in snapshots]

    run = CliRunner().invoke(app, ["export", "backfill", "--from", str(WEEK[0]), "--to", str(WEEK[-1])])
    assert run.exit_code == 0, run.output + repr(run.exception)
    assert "day 7/7 2026-11-16: tpch-2026-11-16 queued" in run.output
    assert "backfill done: 7 day(s): 2 queued, 5 started" in run.output
    assert sorted(i for i in ids if i in tasks(rds)) == ids[:5]

    # Two exports are canceled; RDS's events for them reach the function, which starts the queued two.
    events = client("events", stack_settings)
    for snapshot in snapshots[:2]:
        rds.cancel_export_task(ExportTaskIdentifier=snapshot.export_id)
        events.put_events(
            Entries=[
                rds_event(snapshot, "RDS-EVENT-0160", "Snapshot export task canceled.", snapshot.taken_at)
            ]
        )
    wait_for(lambda: all(i in tasks(rds) for i in ids), 60, "the queued exports to start")

    rerun = CliRunner().invoke(app, ["export", "backfill", "--from", str(WEEK[0]), "--to", str(WEEK[-1])])
    assert rerun.exit_code == 0, rerun.output
    assert "backfill done: 7 day(s): 7 already-started" in rerun.output
    assert sum(i in tasks(rds) for i in ids) == 7

    s3, bucket = client("s3", stack_settings), stack_settings.require("raw_bucket")

    def quarantined(export_id: str) -> bool:
        return bool(s3.list_objects_v2(Bucket=bucket, Prefix=quarantine_key(export_id)).get("KeyCount"))

    wait_for(lambda: all(quarantined(i) for i in ids[:2]), 30, "quarantine records of the canceled exports")


def test_dp_export_start_names_a_missing_snapshot_and_exits_nonzero(in_the_stack: None) -> None:
    run = CliRunner().invoke(app, ["export", "start", "--snapshot", "no-such-snapshot"])
    assert run.exit_code == 1
    assert (
        "no-snapshot" in run.output
        and "no DB snapshot or DB cluster snapshot 'no-such-snapshot'" in run.output
    )


def test_dp_export_start_exports_a_snapshot_once(rds: RDSClient, in_the_stack: None) -> None:
    [snapshot] = take_daily_snapshots(rds, SAMPLE_INSTANCE, [date(2026, 11, 25)])
    outputs = [
        CliRunner().invoke(app, ["export", "start", "--snapshot", snapshot.identifier]) for _ in range(2)
    ]
    assert [o.exit_code for o in outputs] == [0, 0]
    assert "tpch-2026-11-25 started" in outputs[0].output
    assert "tpch-2026-11-25 already-started" in outputs[1].output
    assert Snapshot.from_arn(tasks(rds)["tpch-2026-11-25"].source_arn) == snapshot
