"""The api_ingest container's entry point, which AWS Batch runs on Fargate (batch/api_ingest/Dockerfile):
`python -m dataplatform.api_ingest.batch --event '<ApiIngestFunction's event, as JSON>'`.

The same run as the function's, without its 15 minutes: `resumable.run_resumable`, so a job that Batch
retries (after a failure, or a lost container) resumes from its last committed chunk. Metrics go out per
chunk as EMF on stdout, which the awslogs driver ships and CloudWatch extracts as it does a Lambda's.
Exit codes: 0 done; 1 a run failed (the job definition retries it); 2 bad input, which no retry mends.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aws_lambda_powertools import Logger, Metrics

from dataplatform.api_ingest.metrics import add_run_metrics
from dataplatform.api_ingest.request import IngestEvent, iso
from dataplatform.api_ingest.resumable import ChunkOutcome, check_event, run_resumable
from dataplatform.api_ingest.run import IngestDeps
from dataplatform.settings import load_settings

RUN_FAILED = 1
BAD_INPUT = 2

logger = Logger()
metrics = Metrics()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dataplatform.api_ingest.batch", description=__doc__)
    parser.add_argument("--event", required=True, help="the event, as ApiIngestFunction takes it (JSON)")
    return parser


def _report(event: IngestEvent, outcome: ChunkOutcome) -> None:
    if outcome.result is not None:
        add_run_metrics(metrics, event.source, event.endpoint, outcome.result)
        metrics.flush_metrics()
    window = f"[{iso(outcome.window.start)}, {iso(outcome.window.end)})" if outcome.window else "scheduled"
    logger.info(
        "chunk %d/%d %s: %s, %d records",
        outcome.number,
        outcome.total,
        window,
        outcome.status,
        outcome.record_count,
        extra={"result": outcome.result.to_json() if outcome.result else None},
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        event = IngestEvent.model_validate_json(args.event)
        deps = IngestDeps.from_settings(settings, Path(settings.require("api_sources")))
        check_event(event, deps)
    except ValueError as exc:  # pydantic's ValidationError, DefinitionError and SettingsError among them
        logger.error("bad input, not retried: %s", exc)
        return BAD_INPUT
    logger.append_keys(source=event.source, endpoint=event.endpoint)
    try:
        run_resumable(event, deps, lambda outcome: _report(event, outcome))
    except Exception:
        add_run_metrics(metrics, event.source, event.endpoint, None)
        metrics.flush_metrics()
        logger.exception("the run failed; a retry resumes from the last committed chunk")
        return RUN_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
