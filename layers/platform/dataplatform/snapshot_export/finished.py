"""An export task that ended: what its end means, and a quarantine record when it needs a person.

RDS's own status says FAILED or CANCELED; a COMPLETE export can still have left tables out, which only
its tables-info files say (`status` other than COMPLETE, with a warning). Records go to
`_quarantine/snapshot_export/<export id>.json` in the export's bucket, their content fixed by the task,
so writing one again changes nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from dataplatform.snapshot_catalog.files import read_tables_info
from dataplatform.snapshot_catalog.manifest import ExportRejected, not_exported, table_statuses
from dataplatform.snapshot_export.result import BAD, ExportOutcome
from dataplatform.snapshot_export.tasks import ExportTask

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

QUARANTINE_PREFIX = "_quarantine/snapshot_export"


def judge_finished(task: ExportTask, s3: S3Client) -> ExportOutcome:
    """The outcome of a task whose status is final."""
    if task.status == "FAILED":
        return ExportOutcome(
            task.export_id, "failed", task.source_arn, task.failure_cause or "no cause given"
        )
    if task.status == "CANCELED":
        return ExportOutcome(task.export_id, "canceled", task.source_arn, "the export task was canceled")
    try:
        tables = table_statuses(read_tables_info(s3, task.bucket, task.root), task.export_id)
    except ExportRejected as rejected:
        return ExportOutcome(task.export_id, "incomplete", task.source_arn, str(rejected))
    missing = not_exported(tables)
    if missing:
        message = f"{len(missing)} of {len(tables)} tables were not exported"
        return ExportOutcome(task.export_id, "incomplete", task.source_arn, message, missing)
    return ExportOutcome(task.export_id, "complete", task.source_arn, f"{len(tables)} tables exported")


def quarantine_key(export_id: str) -> str:
    return f"{QUARANTINE_PREFIX}/{export_id}.json"


def quarantine(s3: S3Client, bucket: str, outcome: ExportOutcome) -> None:
    """Keep the record of a bad outcome where on-call looks (nothing for a good one)."""
    if outcome.outcome not in BAD:
        return
    body = {
        "export_id": outcome.export_id,
        "outcome": outcome.outcome,
        "snapshot": outcome.snapshot,
        "message": outcome.message,
        "tables_not_exported": outcome.tables_not_exported,
    }
    s3.put_object(
        Bucket=bucket, Key=quarantine_key(outcome.export_id), Body=json.dumps(body, indent=2).encode()
    )
