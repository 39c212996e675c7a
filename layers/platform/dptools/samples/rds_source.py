"""RDS's own part of the export lifecycle, played on the local AWS: the sample database's daily
automated snapshots, and the files and completion event of an export task.

In AWS, RDS takes an automated snapshot every day (whose event starts snapshot_export) and, once
snapshot_export has started an export task, writes its files and sends the task's completion event. The
local AWS does neither by itself: `take_daily_snapshots` makes the snapshots (through moto_fidelity's
stand-in for the backup window), and `run_export_task` writes the files of a started task with
`write_rds_export`, where the task says, then sends RDS's event to the default bus, as RDS would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.snapshot_export.snapshots import Snapshot
from dataplatform.snapshot_export.tasks import ExportTask
from dataplatform.snapshot_export.triggers import RDS_SNAPSHOT_DETAIL_TYPES
from dptools.local.moto_fidelity import LOCAL_BACKUP_TAG
from dptools.samples.rds_export import DATABASE, SampleExport, s3_writer, write_rds_export

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
    from mypy_boto3_rds import RDSClient

SAMPLE_INSTANCE = DATABASE  # the DB instance whose automated snapshots the template exports by default
BACKUP_TIME = time(6, 0)
EXPORT_COMPLETED = "RDS-EVENT-0161"
SNAPSHOT_CREATED = "RDS-EVENT-0091"


def ensure_instance(rds: RDSClient, instance: str) -> None:
    try:
        rds.describe_db_instances(DBInstanceIdentifier=instance)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("DBInstanceNotFound", "DBInstanceNotFoundFault"):
            raise
        rds.create_db_instance(
            DBInstanceIdentifier=instance,
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="sample",
            MasterUserPassword="sample-password",
            BackupRetentionPeriod=7,
        )


def take_daily_snapshots(rds: RDSClient, instance: str, days: Iterable[date]) -> list[Snapshot]:
    """The automated snapshot of `instance` on each day, at BACKUP_TIME UTC (kept if it exists)."""
    ensure_instance(rds, instance)
    snapshots = []
    for day in days:
        taken = datetime.combine(day, BACKUP_TIME, tzinfo=UTC)
        made = rds.create_db_snapshot(
            DBInstanceIdentifier=instance,
            DBSnapshotIdentifier=f"{instance}-backup-{day.isoformat()}",
            Tags=[{"Key": LOCAL_BACKUP_TAG, "Value": taken.isoformat()}],
        )["DBSnapshot"]
        snapshots.append(Snapshot.from_arn(made["DBSnapshotArn"]))
    return snapshots


def rds_event(
    snapshot: Snapshot, event_id: str, message: str, when: datetime
) -> PutEventsRequestEntryTypeDef:
    """An event as RDS puts it on the default bus about `snapshot`."""
    detail_type = RDS_SNAPSHOT_DETAIL_TYPES[0 if snapshot.kind == "instance" else 1]
    detail: dict[str, Any] = {
        "EventCategories": ["notification" if event_id == EXPORT_COMPLETED else "creation"],
        "SourceType": "SNAPSHOT" if snapshot.kind == "instance" else "CLUSTER_SNAPSHOT",
        "SourceArn": snapshot.arn,
        "Date": when.isoformat().replace("+00:00", "Z"),
        "Message": message,
        "SourceIdentifier": snapshot.identifier,
        "EventID": event_id,
    }
    return {
        "Source": "aws.rds",
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "Resources": [snapshot.arn],
        "Time": when,
    }


def announce_snapshot(settings: Settings, snapshot: Snapshot) -> None:
    """RDS's `Automated snapshot created` event for `snapshot`, on the default bus."""
    entry = rds_event(snapshot, SNAPSHOT_CREATED, "Automated snapshot created", snapshot.taken_at)
    client("events", settings).put_events(Entries=[entry])


def run_export_task(settings: Settings, export_id: str, tpch_dir: Path, **kwargs: Any) -> SampleExport:
    """Write the files of the started export task `export_id` where it says, export_info last, then
    send its completion event. `kwargs` go to `write_rds_export` (e.g. `database`, `rows_per_part`)."""
    rds, s3 = client("rds", settings), client("s3", settings)
    task = ExportTask.from_api(rds.describe_export_tasks(ExportTaskIdentifier=export_id)["ExportTasks"][0])
    snapshot = Snapshot.from_arn(task.source_arn, task.started_at)
    export = write_rds_export(
        s3_writer(s3, task.bucket),
        tpch_dir,
        snapshot.taken_at.date(),
        task.bucket,
        prefix=task.prefix,
        export_id=export_id,
        source_arn=task.source_arn,
        **kwargs,
    )
    entry = rds_event(snapshot, EXPORT_COMPLETED, "Snapshot export task completed.", datetime.now(UTC))
    client("events", settings).put_events(Entries=[entry])
    return export
