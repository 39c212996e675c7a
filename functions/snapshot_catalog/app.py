"""An RDS snapshot export's `export_info_<id>.json` landed: register the export as raw Iceberg tables."""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from dataplatform.settings import load_settings
from dataplatform.snapshot_catalog.catalog_export import CatalogDeps, catalog_export

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> CatalogDeps:
    return CatalogDeps.from_settings(load_settings())


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_parser(model=S3EventNotificationEventBridgeModel)
def lambda_handler(event: S3EventNotificationEventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    result = catalog_export(event.detail.bucket.name, event.detail.object.key, deps())
    for name, value in result.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info(
        "export %s: %s %s",
        result.export_id,
        result.status,
        result.message,
        extra={"export": result.to_json()},
    )
    return result.to_json()
