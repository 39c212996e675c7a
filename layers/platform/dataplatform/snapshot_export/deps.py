"""What the snapshot_export function works with: its clients, its ledger and its configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.snapshot_export.ledger import ExportLedger
from dataplatform.snapshot_export.snapshots import EXPORT_PREFIX
from dataplatform.snapshot_export.tasks import RDS_CONCURRENT_EXPORTS, ExportParameters

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ExportDeps:
    rds: RDSClient
    s3: S3Client
    ledger: ExportLedger
    parameters: ExportParameters
    sources: tuple[str, ...]  # the DB instances and clusters whose automated snapshots are exported
    stuck_after: timedelta
    concurrency: int = RDS_CONCURRENT_EXPORTS

    @classmethod
    def from_settings(cls, settings: Settings) -> ExportDeps:
        return cls(
            rds=client("rds", settings),
            s3=client("s3", settings),
            ledger=ExportLedger(client("dynamodb", settings), settings.require("ingest_state_table")),
            parameters=ExportParameters(
                bucket=settings.require("raw_bucket"),
                prefix=EXPORT_PREFIX,
                role_arn=settings.require("export_role_arn"),
                kms_key=settings.require("export_kms_key"),
                export_only=settings.export_only,
            ),
            sources=settings.export_sources,
            stuck_after=timedelta(hours=settings.export_stuck_hours),
        )
