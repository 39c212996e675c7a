"""RDS's export tasks and snapshots, through one RDS client: what this capability reads and starts.

Statuses are AWS's upper-case ones. RDS runs at most RDS_CONCURRENT_EXPORTS exports at once per
account and region; a start past that, or of a snapshot that is not yet available, must wait, which is
different from a start RDS refuses for good (no such snapshot, a role or key it cannot use).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from dataplatform.snapshot_export.snapshots import Snapshot

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

RDS_CONCURRENT_EXPORTS = 5
ACTIVE = frozenset({"STARTING", "IN_PROGRESS", "CANCELING"})
FINISHED = frozenset({"COMPLETE", "FAILED", "CANCELED"})
# AWS documents no error code for the concurrency limit; these are the refusals that mean "later".
_WAIT_CODES = frozenset({"InvalidExportSourceState", "InvalidExportSourceStateFault", "ThrottlingException"})
_WAIT_WORDS = ("limit", "quota", "concurrent")

StartOutcome = Literal["started", "already-started", "wait", "refused"]


@dataclass(frozen=True)
class ExportTask:
    export_id: str
    source_arn: str
    status: str
    bucket: str
    prefix: str
    started_at: datetime | None
    failure_cause: str = ""

    @classmethod
    def from_api(cls, task: Any) -> ExportTask:
        started = task.get("TaskStartTime")
        return cls(
            export_id=task["ExportTaskIdentifier"],
            source_arn=task.get("SourceArn", ""),
            status=str(task.get("Status", "")).upper(),
            bucket=task.get("S3Bucket", ""),
            prefix=task.get("S3Prefix", "").strip("/"),
            started_at=started.astimezone(UTC) if started else None,
            failure_cause=task.get("FailureCause", "") or task.get("WarningMessage", ""),
        )

    @property
    def root(self) -> str:
        """The folder RDS writes this export's files to."""
        return f"{self.prefix}/{self.export_id}" if self.prefix else self.export_id

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def running_longer_than(self, limit: timedelta, now: datetime) -> bool:
        return self.active and self.started_at is not None and now - self.started_at > limit


@dataclass(frozen=True)
class StartAttempt:
    outcome: StartOutcome
    message: str = ""


@dataclass(frozen=True)
class ExportParameters:
    """What every export this platform starts shares (from the function's configuration)."""

    bucket: str
    prefix: str
    role_arn: str
    kms_key: str
    export_only: tuple[str, ...] = ()


def list_export_tasks(rds: RDSClient) -> list[ExportTask]:
    """Every export task RDS knows in this account and region."""
    return [
        ExportTask.from_api(task)
        for page in rds.get_paginator("describe_export_tasks").paginate()
        for task in page.get("ExportTasks", [])
    ]


def start_export(rds: RDSClient, snapshot: Snapshot, parameters: ExportParameters) -> StartAttempt:
    request: dict[str, Any] = {
        "ExportTaskIdentifier": snapshot.export_id,
        "SourceArn": snapshot.arn,
        "S3BucketName": parameters.bucket,
        "S3Prefix": parameters.prefix,
        "IamRoleArn": parameters.role_arn,
        "KmsKeyId": parameters.kms_key,
    }
    if parameters.export_only:
        request["ExportOnly"] = list(parameters.export_only)
    try:
        rds.start_export_task(**request)
    except ClientError as exc:
        code, message = exc.response["Error"]["Code"], exc.response["Error"].get("Message", "")
        if code in ("ExportTaskAlreadyExists", "ExportTaskAlreadyExistsFault"):
            return StartAttempt("already-started")
        if code in _WAIT_CODES or any(word in message.lower() for word in _WAIT_WORDS):
            return StartAttempt("wait", f"{code}: {message}")
        return StartAttempt("refused", f"{code}: {message}")
    return StartAttempt("started")


def describe_snapshot(rds: RDSClient, identifier: str) -> Snapshot | None:
    """A DB snapshot or DB cluster snapshot by identifier or ARN; None if neither exists."""
    try:
        for found in rds.describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"]:
            return _instance_snapshot(found)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("DBSnapshotNotFound", "DBSnapshotNotFoundFault"):
            raise
    try:
        for cluster in rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier)[
            "DBClusterSnapshots"
        ]:
            return _cluster_snapshot(cluster)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in (
            "DBClusterSnapshotNotFoundFault",
            "DBClusterSnapshotNotFound",
        ):
            raise
    return None


def automated_snapshots_of_day(rds: RDSClient, source: str, day: date) -> list[Snapshot]:
    """The automated snapshots RDS took of the DB instance or cluster `source` on `day` (UTC)."""
    found = [s for s in _automated(rds, source) if s.taken_at.date() == day]
    return sorted(found, key=lambda s: s.taken_at)


def _automated(rds: RDSClient, source: str) -> Iterator[Snapshot]:
    for page in rds.get_paginator("describe_db_snapshots").paginate(
        DBInstanceIdentifier=source, SnapshotType="automated"
    ):
        yield from (_instance_snapshot(s) for s in page["DBSnapshots"])
    for page in rds.get_paginator("describe_db_cluster_snapshots").paginate(
        DBClusterIdentifier=source, SnapshotType="automated"
    ):
        yield from (_cluster_snapshot(s) for s in page["DBClusterSnapshots"])


def _instance_snapshot(found: Any) -> Snapshot:
    return Snapshot.from_arn(
        found["DBSnapshotArn"], found.get("SnapshotCreateTime"), found.get("DBInstanceIdentifier")
    )


def _cluster_snapshot(found: Any) -> Snapshot:
    return Snapshot.from_arn(
        found["DBClusterSnapshotArn"], found.get("SnapshotCreateTime"), found.get("DBClusterIdentifier")
    )
