"""A schedule (or a backfill chunk) names a source endpoint: pull it into its raw Iceberg table."""

from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from dataplatform.api_ingest.metrics import add_run_metrics
from dataplatform.api_ingest.request import IngestEvent
from dataplatform.api_ingest.run import IngestDeps, ingest
from dataplatform.settings import load_settings

SOURCES = Path(__file__).parent / "sources"

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def deps() -> IngestDeps:
    return IngestDeps.from_settings(load_settings(), SOURCES)


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_parser(model=IngestEvent)
def lambda_handler(event: IngestEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(run_id=event.run_id)
    try:
        result = ingest(event, deps())
    except Exception:
        add_run_metrics(metrics, event.source, event.endpoint, None)
        raise
    add_run_metrics(metrics, event.source, event.endpoint, result)
    logger.info(
        "%s: %s, %d records", result.table, result.status, result.record_count, extra=result.to_json()
    )
    return result.to_json()
