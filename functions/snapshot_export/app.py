"""RDS snapshot exports: an automated snapshot starts its export, an export's end is reported once,
and the sweep catches what events missed; `dp export` asks by hand."""

from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from dataplatform.settings import load_settings
from dataplatform.snapshot_export.deps import ExportDeps
from dataplatform.snapshot_export.lifecycle import handle
from dataplatform.snapshot_export.triggers import SnapshotExportEvent

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> ExportDeps:
    return ExportDeps.from_settings(load_settings())


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_parser(model=SnapshotExportEvent)
def lambda_handler(event: SnapshotExportEvent, context: LambdaContext) -> dict[str, Any]:
    result = handle(event.root, deps())
    for name, value in result.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for export in result.exports:
        log = logger.warning if export.alarming else logger.info
        log(
            "export %s: %s %s",
            export.export_id,
            export.outcome,
            export.message,
            extra={"export": asdict(export)},
        )
    return result.to_json()
