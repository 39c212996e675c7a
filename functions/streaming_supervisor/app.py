"""On its schedule: keep the Kafka -> raw streaming job running on EMR Serverless (start it if it is not)."""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from dataplatform.aws import client
from dataplatform.settings import load_settings
from dataplatform.streaming.emr import Supervisor, supervisor_from_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def supervisor() -> Supervisor:
    settings = load_settings()
    return supervisor_from_settings(
        settings, client("s3", settings), client("emr-serverless", settings), client("dynamodb", settings)
    )


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = supervisor().supervise()
    name = supervisor().streaming.job.name
    metrics.add_dimension(name="stream", value=name)
    metrics.add_metric(name="StreamStarts", unit=MetricUnit.Count, value=int(result.action == "started"))
    metrics.add_metric(name="StreamStartFailures", unit=MetricUnit.Count, value=result.failures)
    logger.info(
        "stream %s: %s", name, result.action, extra={"run_id": result.run_id, "failures": result.failures}
    )
    return {"action": result.action, "run_id": result.run_id, "failures": result.failures}
