"""What the snapshot_export function receives, typed at the boundary.

- RDS's own events on the default bus: an automated snapshot was created, or an export task ended.
- The sweep, from its EventBridge Scheduler schedule: `{"sweep_at": "<aws.scheduler.scheduled-time>"}`.
- A request by hand (`dp export start|backfill`): `{"snapshot": "<id or ARN>"}` or `{"day": "YYYY-MM-DD"}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

AUTOMATED_SNAPSHOT_CREATED = frozenset({"RDS-EVENT-0091", "RDS-EVENT-0169"})  # DB instance, DB cluster
EXPORT_FAILED = frozenset({"RDS-EVENT-0159", "RDS-EVENT-0162"})
EXPORT_CANCELED = frozenset({"RDS-EVENT-0160", "RDS-EVENT-0163"})
EXPORT_COMPLETED = frozenset({"RDS-EVENT-0161", "RDS-EVENT-0164"})
EXPORT_ENDED = EXPORT_FAILED | EXPORT_CANCELED | EXPORT_COMPLETED
RDS_SNAPSHOT_DETAIL_TYPES = ("RDS DB Snapshot Event", "RDS DB Cluster Snapshot Event")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RdsEventDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    event_id: str = Field(alias="EventID")
    source_arn: str = Field(alias="SourceArn")
    source_identifier: str = Field(default="", alias="SourceIdentifier")
    source_type: str = Field(default="", alias="SourceType")
    message: str = Field(default="", alias="Message")
    date: datetime = Field(alias="Date")

    _in_utc = field_validator("date")(_utc)


class RdsSnapshotEvent(EventBridgeModel):
    """`RDS DB Snapshot Event` or `RDS DB Cluster Snapshot Event` from aws.rds."""

    detail: RdsEventDetail


class SweepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sweep_at: datetime

    _in_utc = field_validator("sweep_at")(_utc)


class ExportRequest(BaseModel):
    """By hand: one snapshot, or the automated snapshots of the configured databases on one day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    snapshot: str | None = None
    day: date | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ExportRequest:
        if (self.snapshot is None) == (self.day is None):
            raise ValueError("give exactly one of snapshot (an identifier or ARN) or day (YYYY-MM-DD)")
        return self


class SnapshotExportEvent(RootModel[RdsSnapshotEvent | SweepRequest | ExportRequest]):
    """Any event of the function."""
