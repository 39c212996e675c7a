"""snapshot_export's lifecycle on moto in this process, with the local AWS's RDS fidelity patches.

GIVEN automated snapshots of the configured `tpch` instance (and one unconfigured instance),
WHEN their events, RDS's export events, sweeps and requests by hand arrive (replays included),
THEN each snapshot gets one export with the configured parameters, RDS's limit of 5 running exports
queues the rest until one ends, and every FAILED, CANCELED, incomplete or stuck export is reported
once, with its metric and a quarantine record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.snapshot_export.deps import ExportDeps
from dataplatform.snapshot_export.finished import quarantine_key
from dataplatform.snapshot_export.ledger import ExportLedger
from dataplatform.snapshot_export.lifecycle import handle
from dataplatform.snapshot_export.result import ExportResult
from dataplatform.snapshot_export.snapshots import Snapshot
from dataplatform.snapshot_export.tasks import ExportParameters, ExportTask, list_export_tasks
from dataplatform.snapshot_export.triggers import SnapshotExportEvent
from dptools.samples.rds_source import take_daily_snapshots
from tests.conftest import load_event

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

BUCKET, STATE_TABLE = "raw-bucket", "ingest-state"
ROLE = "arn:aws:iam::123456789012:role/export"
KEY = "arn:aws:kms:us-east-1:123456789012:key/exports"
FIRST = date(2026, 11, 1)
WEEK = [FIRST + timedelta(days=n) for n in range(7)]


@dataclass
class World:
    deps: ExportDeps
    snapshots: list[Snapshot]

    @property
    def rds(self) -> RDSClient:
        return self.deps.rds

    def send(self, event: dict[str, Any]) -> ExportResult:
        return handle(SnapshotExportEvent.model_validate(event).root, self.deps)

    def tasks(self) -> dict[str, ExportTask]:
        return {task.export_id: task for task in list_export_tasks(self.rds)}

    def land_export_info(self, export_id: str, tables: list[tuple[str, str]] | None = None) -> None:
        """RDS's last two files of a finished export: tables-info, then export_info."""
        root = f"exports/{export_id}"
        statuses = [
            {
                "target": target,
                "status": status,
                "warningMessage": None if status == "COMPLETE" else "skipped",
            }
            for target, status in tables or [("tpch.public.orders", "COMPLETE")]
        ]
        name = f"export_tables_info_{export_id}_from_1_to_{len(statuses)}.json"
        self.deps.s3.put_object(
            Bucket=BUCKET, Key=f"{root}/{name}", Body=json.dumps({"perTableStatus": statuses}).encode()
        )
        info = {"exportTaskIdentifier": export_id, "status": "COMPLETE", "percentProgress": 100}
        self.deps.s3.put_object(
            Bucket=BUCKET, Key=f"{root}/export_info_{export_id}.json", Body=json.dumps(info).encode()
        )

    def quarantined(self, export_id: str) -> dict[str, Any] | None:
        try:
            body = self.deps.s3.get_object(Bucket=BUCKET, Key=quarantine_key(export_id))["Body"].read()
        except ClientError:
            return None
        return dict(json.loads(body))


def rds_event(snapshot: Snapshot, event_id: str = "RDS-EVENT-0091") -> dict[str, Any]:
    """The sample RDS event, about `snapshot`."""
    event = load_event("snapshot_export/automated_snapshot.json")
    event["resources"] = [snapshot.arn]
    event["detail"].update(SourceArn=snapshot.arn, SourceIdentifier=snapshot.identifier, EventID=event_id)
    return event


def sweep(at: datetime) -> dict[str, Any]:
    return {"sweep_at": at.isoformat()}


@pytest.fixture
def world(mocked_aws: Settings) -> Iterator[World]:
    s3, dynamodb, rds = client("s3", mocked_aws), client("dynamodb", mocked_aws), client("rds", mocked_aws)
    s3.create_bucket(Bucket=BUCKET)
    dynamodb.create_table(
        TableName=STATE_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    snapshots = take_daily_snapshots(rds, "tpch", WEEK)
    deps = ExportDeps(
        rds=rds,
        s3=s3,
        ledger=ExportLedger(dynamodb, STATE_TABLE),
        parameters=ExportParameters(BUCKET, "exports", ROLE, KEY, ("tpch.public",)),
        sources=("tpch",),
        stuck_after=timedelta(hours=12),
    )
    yield World(deps, snapshots)


def test_an_automated_snapshot_starts_one_export_with_the_configured_parameters(world: World) -> None:
    result = world.send(load_event("snapshot_export/automated_snapshot.json"))
    assert [(e.export_id, e.outcome) for e in result.exports] == [("tpch-2026-11-01", "started")]
    assert result.metrics()["ExportsStarted"] == 1
    [task] = world.rds.describe_export_tasks(ExportTaskIdentifier="tpch-2026-11-01")["ExportTasks"]
    assert task["SourceArn"] == world.snapshots[0].arn
    assert (task["S3Bucket"], task["S3Prefix"]) == (BUCKET, "exports")
    assert (task["IamRoleArn"], task["KmsKeyId"], task["ExportOnly"]) == (ROLE, KEY, ["tpch.public"])
    assert task["Status"] == "IN_PROGRESS"  # until its files land


def test_a_replayed_snapshot_event_starts_no_second_export(world: World) -> None:
    event = load_event("snapshot_export/automated_snapshot.json")
    outcomes = [world.send(event).exports[0].outcome for _ in range(3)]
    assert outcomes == ["started", "already-started", "already-started"]
    assert list(world.tasks()) == ["tpch-2026-11-01"]


def test_a_snapshot_of_a_database_not_configured_is_left_alone(world: World) -> None:
    [other] = take_daily_snapshots(world.rds, "crm", [FIRST])
    result = world.send(rds_event(other))
    assert result.exports[0].outcome == "ignored" and "crm is not one of" in result.exports[0].message
    assert world.tasks() == {}


def test_past_five_running_exports_the_sixth_is_queued_and_started_when_one_ends(world: World) -> None:
    outcomes = [world.send(rds_event(s)).exports[0] for s in world.snapshots[:6]]
    assert [o.outcome for o in outcomes] == ["started"] * 5 + ["queued"]
    assert "tpch-2026-11-06" not in world.tasks()
    assert [s.export_id for s in world.deps.ledger.queued()] == ["tpch-2026-11-06"]
    assert world.send(rds_event(world.snapshots[5])).exports[0].outcome == "queued"  # a replay: still one

    world.land_export_info("tpch-2026-11-02")
    ended = world.send(rds_event(world.snapshots[1], "RDS-EVENT-0161"))
    assert [(e.export_id, e.outcome) for e in ended.exports] == [
        ("tpch-2026-11-02", "complete"),
        ("tpch-2026-11-06", "started"),
    ]
    assert world.tasks()["tpch-2026-11-06"].active and world.deps.ledger.queued() == []


def test_a_start_rds_refuses_for_its_limit_is_queued_not_failed(world: World) -> None:
    limited = cast(
        "RDSClient", _RefusingRds(world.rds, "ExportTaskLimitReached", "Maximum concurrent exports")
    )
    deps = ExportDeps(**{**world.deps.__dict__, "rds": limited})
    result = handle(SnapshotExportEvent.model_validate(rds_event(world.snapshots[0])).root, deps)
    assert result.exports[0].outcome == "queued" and result.metrics()["ExportsQueued"] == 1
    assert [s.export_id for s in world.deps.ledger.queued()] == ["tpch-2026-11-01"]
    started = world.send(sweep(datetime(2026, 11, 1, 7, tzinfo=UTC)))
    assert ("tpch-2026-11-01", "started") in [(e.export_id, e.outcome) for e in started.exports]


def test_a_start_rds_refuses_for_good_alarms_and_is_quarantined(world: World) -> None:
    refusing = cast("RDSClient", _RefusingRds(world.rds, "KMSKeyNotAccessibleFault", "The key is disabled"))
    deps = ExportDeps(**{**world.deps.__dict__, "rds": refusing})
    result = handle(SnapshotExportEvent.model_validate(rds_event(world.snapshots[0])).root, deps)
    assert result.exports[0].outcome == "refused" and result.metrics()["ExportStartsRefused"] == 1
    record = world.quarantined("tpch-2026-11-01")
    assert record is not None and "KMSKeyNotAccessibleFault" in record["message"]
    assert world.deps.ledger.queued() == []


def test_a_failed_export_raises_its_metric_once_with_its_cause_quarantined(world: World) -> None:
    world.send(rds_event(world.snapshots[0]))
    _moto_task("tpch-2026-11-01", status="FAILED", failure_cause="S3 bucket is not writable")
    first = world.send(rds_event(world.snapshots[0], "RDS-EVENT-0159"))
    assert first.exports[0].outcome == "failed" and first.metrics()["ExportsFailed"] == 1
    record = world.quarantined("tpch-2026-11-01")
    assert record is not None and record["message"] == "S3 bucket is not writable"
    replay = world.send(rds_event(world.snapshots[0], "RDS-EVENT-0159"))
    assert replay.exports[0].outcome == "already-reported" and replay.metrics()["ExportsFailed"] == 0
    assert world.send(sweep(datetime(2026, 11, 2, 7, tzinfo=UTC))).metrics()["ExportsFailed"] == 0


def test_a_canceled_export_raises_its_metric(world: World) -> None:
    world.send(rds_event(world.snapshots[0]))
    world.rds.cancel_export_task(ExportTaskIdentifier="tpch-2026-11-01")
    result = world.send(rds_event(world.snapshots[0], "RDS-EVENT-0160"))
    assert result.exports[0].outcome == "canceled" and result.metrics()["ExportsCanceled"] == 1
    assert world.quarantined("tpch-2026-11-01") is not None


def test_skipped_and_failed_tables_in_tables_info_make_the_export_incomplete(world: World) -> None:
    world.send(rds_event(world.snapshots[0]))
    tables = [
        ("tpch.public.orders", "COMPLETE"),
        ("tpch.public.audit", "SKIPPED"),
        ("tpch.public.x", "FAILED"),
    ]
    world.land_export_info("tpch-2026-11-01", tables)
    result = world.send(sweep(datetime(2026, 11, 1, 8, tzinfo=UTC)))  # no RDS event: the sweep finds it
    [ended] = [e for e in result.exports if e.export_id == "tpch-2026-11-01"]
    assert ended.outcome == "incomplete" and ended.message == "2 of 3 tables were not exported"
    assert result.metrics()["ExportsIncomplete"] == 1 and result.metrics()["TablesNotExported"] == 2
    record = world.quarantined("tpch-2026-11-01")
    assert record is not None and record["tables_not_exported"] == [
        "tpch.public.audit (SKIPPED: skipped)",
        "tpch.public.x (FAILED: skipped)",
    ]


def test_an_export_whose_tables_info_is_missing_is_incomplete(world: World) -> None:
    world.send(rds_event(world.snapshots[0]))
    info = {"exportTaskIdentifier": "tpch-2026-11-01", "status": "COMPLETE", "percentProgress": 100}
    key = "exports/tpch-2026-11-01/export_info_tpch-2026-11-01.json"
    world.deps.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(info).encode())
    result = world.send(rds_event(world.snapshots[0], "RDS-EVENT-0161"))
    assert result.exports[0].outcome == "incomplete" and "no export_tables_info" in result.exports[0].message


def test_a_complete_export_is_reported_once_and_not_quarantined(world: World) -> None:
    world.send(rds_event(world.snapshots[0]))
    world.land_export_info("tpch-2026-11-01")
    outcomes = [world.send(rds_event(world.snapshots[0], "RDS-EVENT-0161")).exports[0] for _ in range(2)]
    assert [o.outcome for o in outcomes] == ["complete", "already-reported"]
    assert outcomes[0].message == "1 tables exported" and world.quarantined("tpch-2026-11-01") is None


def test_an_export_running_past_the_threshold_is_stuck_at_every_sweep_until_it_ends(world: World) -> None:
    world.send(rds_event(world.snapshots[0]))
    started = world.tasks()["tpch-2026-11-01"].started_at
    assert started is not None
    early = world.send(sweep(started + timedelta(hours=11)))
    assert early.metrics()["ExportsStuck"] == 0
    for hours in (13, 14):
        late = world.send(sweep(started + timedelta(hours=hours)))
        stuck = {e.export_id: e.message for e in late.exports if e.outcome == "stuck"}
        assert f"for {hours}.0 h, longer than 12 h" in stuck["tpch-2026-11-01"]
        assert late.metrics()["ExportsStuck"] == len(stuck)


def test_the_sweep_starts_the_export_whose_snapshot_event_never_came(world: World) -> None:
    result = world.send(sweep(datetime(2026, 11, 3, 7, tzinfo=UTC)))
    assert {(e.export_id, e.outcome) for e in result.exports} == {
        ("tpch-2026-11-02", "started"),
        ("tpch-2026-11-03", "started"),
    }
    assert world.send(sweep(datetime(2026, 11, 3, 7, 30, tzinfo=UTC))).exports == []


def test_the_sweep_alarms_when_a_database_took_no_snapshot_yesterday(world: World) -> None:
    result = world.send(sweep(datetime(2026, 11, 20, 7, tzinfo=UTC)))
    [missing] = result.exports
    assert (missing.export_id, missing.outcome) == ("tpch-2026-11-19", "snapshot-missing")
    assert result.metrics()["SnapshotsMissing"] == 1


def test_a_backfill_of_seven_days_starts_seven_exports_and_is_idempotent(world: World) -> None:
    first = [world.send({"day": day.isoformat()}).exports[0].outcome for day in WEEK]
    assert first == ["started"] * 5 + ["queued"] * 2
    for export_id in ("tpch-2026-11-01", "tpch-2026-11-02"):
        world.land_export_info(export_id)
    swept = world.send(sweep(datetime(2026, 11, 8, 7, tzinfo=UTC)))
    assert {(e.export_id, e.outcome) for e in swept.exports if e.outcome == "started"} == {
        ("tpch-2026-11-06", "started"),
        ("tpch-2026-11-07", "started"),
    }
    assert swept.waiting == 0 and len(world.tasks()) == 7
    again = [world.send({"day": day.isoformat()}).exports[0].outcome for day in WEEK]
    assert again == ["already-started"] * 7 and len(world.tasks()) == 7


def test_by_hand_a_snapshot_that_does_not_exist_is_named(world: World) -> None:
    result = world.send({"snapshot": "no-such-snapshot"})
    assert result.exports[0].outcome == "no-snapshot" and "no-such-snapshot" in result.exports[0].message
    assert world.send({"day": "2026-10-01"}).exports[0].outcome == "no-snapshot"


def test_by_hand_a_snapshot_is_exported_by_identifier_or_arn(world: World) -> None:
    by_id = world.send({"snapshot": world.snapshots[0].identifier}).exports[0]
    by_arn = world.send({"snapshot": world.snapshots[0].arn}).exports[0]
    assert (by_id.outcome, by_arn.outcome) == ("started", "already-started")


class _RefusingRds:
    """The RDS client, except that StartExportTask answers with an error."""

    def __init__(self, rds: RDSClient, code: str, message: str) -> None:
        self._rds, self._code, self._message = rds, code, message

    def start_export_task(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": self._code, "Message": self._message}}, "StartExportTask")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rds, name)


def _moto_task(export_id: str, **attributes: Any) -> None:
    """RDS ends the task its own way (moto has no API for a failing export)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.rds.models import rds_backends

    task = rds_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].export_tasks[export_id]
    for name, value in attributes.items():
        setattr(task, name, value)
