"""Where moto departs from AWS in ways the platform depends on, patched to behave as AWS does.

Applied by the local AWS (moto server) and by the in-process mock of the unit tests, so both agree
with AWS on what the code relies on. Each patch says what AWS does and moto did not.
"""

from __future__ import annotations

import threading
from typing import Any

_applied = False
# The tag that makes a CreateDBSnapshot on the local AWS the automated snapshot of the time it gives.
LOCAL_BACKUP_TAG = "dp-local:automated-backup"
_ACTIVE_EXPORT = ("STARTING", "IN_PROGRESS")


def apply() -> None:
    """Patch moto once per process."""
    global _applied
    if _applied:
        return
    _glue_table_versions()
    _emr_serverless_runs()
    _rds_export_tasks()
    _rds_daily_snapshots()
    _events_keep_the_account()
    _aws_sdk_task_bodies()
    _applied = True


def _glue_table_versions() -> None:
    """Make UpdateTable honour `VersionId` as Glue does, so concurrent Iceberg commits conflict.

    moto ignores it, which would let two writers of one table both "succeed" and the later one silently
    drop the other's snapshot. pyiceberg passes the version it read and expects
    ConcurrentModificationException when the table moved on; that is what Glue answers, and here too.
    """
    from moto.glue.exceptions import GlueClientError
    from moto.glue.responses import GlueResponse

    lock = threading.Lock()
    unchecked = GlueResponse.update_table

    def update_table(self: GlueResponse) -> Any:
        expected = self.parameters.get("VersionId")
        with lock:
            if expected is not None:
                name = self.parameters["TableInput"]["Name"]
                table = self.glue_backend.get_table(self.parameters["DatabaseName"], name)
                current = str(table._current_version)
                if str(expected) != current:
                    raise GlueClientError(
                        "ConcurrentModificationException",
                        f"table {name} is at version {current}, not {expected}",
                    )
            return unchecked(self)

    GlueResponse.update_table = update_table  # type: ignore[method-assign]


def _emr_serverless_runs() -> None:
    """A started job run is RUNNING until it is cancelled (moto marks it SUCCESS at once), and listing
    the runs of an application that has none is an empty list (moto answered that it does not exist)."""
    from moto.emrserverless.models import EMRServerlessBackend

    start, listing = EMRServerlessBackend.start_job_run, EMRServerlessBackend.list_job_runs

    def start_job_run(self: EMRServerlessBackend, *args: Any, **kwargs: Any) -> Any:
        run = start(self, *args, **kwargs)
        run.state = "RUNNING"
        return run

    def list_job_runs(self: EMRServerlessBackend, application_id: str, *args: Any, **kwargs: Any) -> Any:
        if application_id not in self.job_runs:
            self.get_application(application_id)  # still an error for an unknown application
            return []
        return listing(self, application_id, *args, **kwargs)

    EMRServerlessBackend.start_job_run = start_job_run  # type: ignore[method-assign]
    EMRServerlessBackend.list_job_runs = list_job_runs  # type: ignore[method-assign]


def _events_keep_the_account() -> None:
    """A rule's target with no input transformer gets the whole event, `account` included, as in AWS.

    moto rebuilt put events from a template without `account`, so a handler's EventBridgeModel (which
    requires it) refused every event a rule delivered from PutEvents, e.g. RDS's snapshot events.
    """
    from moto.events.utils import EventTemplateParser

    template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"account"' not in template:
        EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = template.replace(
            '"source": "<source>", ', '"source": "<source>", "account": "<account>", '
        )


def _aws_sdk_task_bodies() -> None:
    """An `aws-sdk` Task's streamed response members (`s3:getObject`'s Body) are text, as in AWS.

    moto's interpreter passed botocore's StreamingBody on as the state's result, so a path or an
    intrinsic function on `$.Body` (e.g. `States.StringToJson($.Body)`) failed with States.Runtime.
    """
    from botocore.response import StreamingBody
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    def _normalise_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(response, dict):
            for key, value in response.items():
                if isinstance(value, StreamingBody):
                    response[key] = value.read().decode("utf-8", errors="replace")

    StateTaskServiceAwsSdk._normalise_response = _normalise_response  # type: ignore[method-assign]


def _rds_export_tasks() -> None:
    """An export task runs until its files land, as in AWS, with AWS's upper-case statuses.

    moto marks a task `complete` the moment it starts, writes no files, and has no TaskStartTime or
    SnapshotTime; snapshot_export counts running tasks against RDS's limit of 5, finds stuck ones by
    their start time, and reads the export's files once it is COMPLETE. Here a task is STARTING, then
    IN_PROGRESS until `export_info_<id>.json` (which RDS writes last, and which dptools.samples writes
    in its stead locally) exists under the task's prefix; then it takes that file's status. A cancel is
    CANCELED.
    """
    import json

    from moto.core.utils import utcnow
    from moto.rds.models import ExportTask, RDSBackend
    from moto.s3.models import s3_backends

    init, describe, cancel = (
        ExportTask.__init__,
        RDSBackend.describe_export_tasks,
        RDSBackend.cancel_export_task,
    )

    def create(self: Any, backend: RDSBackend, snapshot: Any, kwargs: dict[str, Any]) -> None:
        init(self, backend, snapshot, kwargs)
        self.status = "STARTING"
        self.task_start_time = self.created_at
        self.snapshot_time = snapshot.created
        self.percent_progress = 0
        self.total_extracted_data_in_gb = 0

    def landed_info(task: Any) -> dict[str, Any] | None:
        root = "/".join(p for p in (task.s3_prefix.strip("/"), task.export_task_identifier) if p)
        try:
            s3 = s3_backends[task.backend.account_id][task.backend.partition]
            key = s3.get_object(task.s3_bucket, f"{root}/export_info_{task.export_task_identifier}.json")
        except Exception:  # no such bucket
            return None
        return dict(json.loads(key.value)) if key is not None else None

    def describe_export_tasks(self: RDSBackend, export_task_identifier: str) -> Any:
        tasks: Any = describe(self, export_task_identifier)
        for task in tasks:
            if task.status not in _ACTIVE_EXPORT:
                continue
            info = landed_info(task)
            if info is None:
                task.status = "IN_PROGRESS"
                continue
            task.status = str(info.get("status", "COMPLETE")).upper()
            task.percent_progress = int(info.get("percentProgress", 100))
            task.total_extracted_data_in_gb = info.get("totalExtractedDataInGB", 0)
            task.failure_cause = info.get("failureCause")
            task.task_end_time = utcnow()
        return tasks

    def cancel_export_task(self: RDSBackend, export_task_identifier: str) -> Any:
        task = cancel(self, export_task_identifier)
        task.status = "CANCELED"
        return task

    ExportTask.__init__ = create  # type: ignore[method-assign]
    RDSBackend.describe_export_tasks = describe_export_tasks  # type: ignore[method-assign]
    RDSBackend.cancel_export_task = cancel_export_task  # type: ignore[method-assign]


def _rds_daily_snapshots() -> None:
    """RDS takes an automated snapshot of each instance every day (`rds:<instance>-<yyyy-mm-dd-hh-mm>`);
    moto takes one only when the instance is created, and no API makes one. On the local AWS a
    CreateDBSnapshot tagged LOCAL_BACKUP_TAG=<ISO time> stands in for the backup window: it makes the
    automated snapshot of that time, under RDS's own name, created at that time."""
    from datetime import UTC, datetime

    from moto.rds.models import RDSBackend

    create = RDSBackend.create_db_snapshot

    def create_db_snapshot(
        self: RDSBackend,
        db_instance_identifier: str,
        db_snapshot_identifier: str,
        snapshot_type: str = "manual",
        tags: list[dict[str, str]] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        backup = next((t["Value"] for t in tags or [] if t["Key"] == LOCAL_BACKUP_TAG), None)
        if backup is None:
            return create(
                self, db_instance_identifier, db_snapshot_identifier, snapshot_type, tags, *args, **kwargs
            )
        taken = datetime.fromisoformat(backup).astimezone(UTC)
        name = f"rds:{db_instance_identifier}-{taken:%Y-%m-%d-%H-%M}"
        snapshot = self.database_snapshots.get(name) or create(
            self, db_instance_identifier, name, "automated"
        )
        snapshot.created = snapshot.original_snapshot_create_time = taken
        return snapshot

    RDSBackend.create_db_snapshot = create_db_snapshot  # type: ignore[method-assign]
