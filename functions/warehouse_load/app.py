"""The warehouse loader: the analytics zone's changes since the last load into Redshift, one
transaction per table; called by the transform state machine after the aggregates."""

from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from dataplatform.settings import Settings, load_settings
from dataplatform.warehouse.request import LoadRequest
from dataplatform.warehouse.service import load_analytics

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> Settings:
    return load_settings()


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_parser(model=LoadRequest)
def lambda_handler(event: LoadRequest, context: LambdaContext) -> dict[str, Any]:
    results = load_analytics(settings(), event.tables, lambda r: logger.info(r.describe(), extra=asdict(r)))
    metrics.add_metric(name="RowsLoaded", unit=MetricUnit.Count, value=sum(r.rows_staged for r in results))
    metrics.add_metric(name="TablesLoaded", unit=MetricUnit.Count, value=sum(not r.skipped for r in results))
    return {"run_id": event.run_id, "tables": [asdict(r) for r in results]}
