"""A run's metrics, the same from the Lambda and from the Batch job: the no-data alarms in template.yaml
read RecordsIngested by service, source and endpoint, whichever runner pulled."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from dataplatform.api_ingest.run import IngestResult


def add_run_metrics(metrics: Metrics, source: str, endpoint: str, result: IngestResult | None) -> None:
    """The run's counts by source and endpoint; a `result` of None counts a failed run."""
    metrics.add_dimension(name="source", value=source)
    metrics.add_dimension(name="endpoint", value=endpoint)
    counts = result.metrics() if result is not None else {"RunsFailed": 1}
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
