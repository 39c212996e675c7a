"""The streaming job on EMR Serverless (STREAMING mode), and the supervisor that keeps it running.

EMR Serverless restarts a failed streaming run by itself, a few times an hour (its retry policy). The
supervisor, on a schedule, covers the rest: no run at all (never started, cancelled, out of retries)
starts one, with exponential backoff after failed starts; repeated failures raise its alarm. Its state
(consecutive failures, next attempt) is one DynamoDB item, `pk = streaming/<name>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from dataplatform.settings import Settings
from dataplatform.spark.session import SPARK_PREFIX, emr_spark_submit_parameters

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_emr_serverless import EMRServerlessClient
    from mypy_boto3_emr_serverless.literals import JobRunStateType
    from mypy_boto3_s3 import S3Client

ACTIVE_STATES: tuple[JobRunStateType, ...] = ("SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED")
FAILED_STATES: tuple[JobRunStateType, ...] = ("FAILED",)
MAX_BACKOFF = timedelta(hours=1)
ALARM_AFTER_FAILURES = 3


@dataclass(frozen=True)
class StreamingJob:
    name: str
    application_id: str
    role_arn: str
    entry_point: str  # s3://<artifacts>/streaming/kafka_to_raw.py
    arguments: Sequence[str]
    spark_submit_parameters: str
    max_failed_attempts_per_hour: int = 5


def streaming_job(
    settings: Settings,
    name: str,
    topics: Sequence[str],
    artifacts_bucket: str,
    jar_names: Sequence[str],
    kafka_options: Mapping[str, str],
) -> StreamingJob:
    """The job run `make deploy`'s artifacts make: entry point, schemas and jars in the artifacts bucket,
    checkpoint under the raw bucket's `_checkpoints/<name>/`."""
    spark = f"s3://{artifacts_bucket}/{SPARK_PREFIX}"
    arguments = [
        "--name", name,
        "--topics", ",".join(topics),
        "--checkpoint", f"s3://{settings.require('raw_bucket')}/_checkpoints/{name}",
        "--bootstrap", settings.require("kafka_bootstrap"),
        "--schemas", f"{spark}/streaming/schemas",
    ]  # fmt: skip
    for key, value in kafka_options.items():
        arguments += ["--kafka-option", f"{key}={value}"]
    return StreamingJob(
        name=name,
        application_id=settings.require("spark_application_id"),
        role_arn=settings.require("spark_job_role_arn"),
        entry_point=f"{spark}/streaming/kafka_to_raw.py",
        arguments=arguments,
        spark_submit_parameters=emr_spark_submit_parameters(settings, spark, jar_names),
    )


def deployed_jars(s3: S3Client, artifacts_bucket: str) -> list[str]:
    listing = s3.list_objects_v2(Bucket=artifacts_bucket, Prefix=f"{SPARK_PREFIX}/jars/")
    return [item["Key"].rsplit("/", 1)[1] for item in listing.get("Contents", [])]


class EmrStreaming:
    def __init__(self, emr: EMRServerlessClient, job: StreamingJob) -> None:
        self.emr, self.job = emr, job

    def runs(self, states: Sequence[JobRunStateType] = ACTIVE_STATES) -> list[dict[str, Any]]:
        pages = self.emr.get_paginator("list_job_runs").paginate(
            applicationId=self.job.application_id, states=list(states)
        )
        return [run for page in pages for run in page["jobRuns"] if run.get("name") == self.job.name]

    def start(self) -> str:
        # botocore fills the idempotency token clientToken when it is not given; the stub has it required.
        response = self.emr.start_job_run(  # type: ignore[call-arg]
            applicationId=self.job.application_id,
            executionRoleArn=self.job.role_arn,
            name=self.job.name,
            mode="STREAMING",
            retryPolicy={"maxFailedAttemptsPerHour": self.job.max_failed_attempts_per_hour},
            jobDriver={
                "sparkSubmit": {
                    "entryPoint": self.job.entry_point,
                    "entryPointArguments": list(self.job.arguments),
                    "sparkSubmitParameters": self.job.spark_submit_parameters,
                }
            },
        )
        return str(response["jobRunId"])

    def stop(self) -> list[str]:
        """Cancel every active run; the checkpoint stays, so the next start resumes from it."""
        cancelled = []
        for run in self.runs():
            self.emr.cancel_job_run(applicationId=self.job.application_id, jobRunId=run["id"])
            cancelled.append(str(run["id"]))
        return cancelled

    def status(self) -> dict[str, Any]:
        active = self.runs()
        return {"name": self.job.name, "active": [{"id": r["id"], "state": r["state"]} for r in active]}


@dataclass(frozen=True)
class SupervisorState:
    failures: int = 0
    next_attempt_at: datetime | None = None
    last_run_id: str | None = None
    paused: bool = False  # stopped by hand (`dp streaming stop`): the supervisor leaves it stopped

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> SupervisorState:
        if not item:
            return cls()
        at = item.get("next_attempt_at", {}).get("S")
        return cls(
            failures=int(item.get("failures", {}).get("N", "0")),
            next_attempt_at=datetime.fromisoformat(at) if at else None,
            last_run_id=item.get("last_run_id", {}).get("S"),
            paused=item.get("paused", {}).get("BOOL", False),
        )


SupervisionAction = Literal["running", "started", "backing-off", "start-failed", "paused"]


@dataclass(frozen=True)
class Supervision:
    action: SupervisionAction
    run_id: str | None
    failures: int

    @property
    def alarming(self) -> bool:
        return self.failures >= ALARM_AFTER_FAILURES


class Supervisor:
    def __init__(self, streaming: EmrStreaming, dynamodb: DynamoDBClient, table: str) -> None:
        self.streaming, self.db, self.table = streaming, dynamodb, table
        self.key = {"pk": {"S": f"streaming/{streaming.job.name}"}, "sk": {"S": "supervisor"}}

    def _load(self) -> SupervisorState:
        item = self.db.get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item")
        return SupervisorState.from_item(item)

    def _save(self, state: SupervisorState) -> None:
        item: dict[str, Any] = {**self.key, "failures": {"N": str(state.failures)}}
        if state.next_attempt_at:
            item["next_attempt_at"] = {"S": state.next_attempt_at.isoformat()}
        if state.last_run_id:
            item["last_run_id"] = {"S": state.last_run_id}
        item["paused"] = {"BOOL": state.paused}
        self.db.put_item(TableName=self.table, Item=item)

    def supervise(self, now: datetime | None = None) -> Supervision:
        now = now or datetime.now(UTC)
        state = self._load()
        if state.paused:
            return Supervision("paused", None, state.failures)
        active = self.streaming.runs()
        if active:
            run_id = str(active[0]["id"])
            if state != SupervisorState(last_run_id=run_id):
                self._save(SupervisorState(last_run_id=run_id))
            return Supervision("running", run_id, 0)
        # The run it knew ended; a failure counts once (the run id is forgotten once counted).
        failures = state.failures + (1 if state.last_run_id and self._failed(state.last_run_id) else 0)
        if state.next_attempt_at and now < state.next_attempt_at:
            self._save(SupervisorState(failures, state.next_attempt_at))
            return Supervision("backing-off", None, failures)
        retry_at = now + min(MAX_BACKOFF, timedelta(minutes=2 ** min(failures, 6)))
        try:
            run_id = self.streaming.start()
        except Exception:
            self._save(SupervisorState(failures + 1, retry_at))
            return Supervision("start-failed", None, failures + 1)
        self._save(SupervisorState(failures, retry_at, run_id))
        return Supervision("started", run_id, failures)

    def pause(self) -> list[str]:
        """Stop the job by hand and keep it stopped: cancel its runs and tell the supervisor."""
        self._save(SupervisorState(paused=True))
        return self.streaming.stop()

    def resume(self) -> Supervision:
        """Start it by hand (a redeploy too: the checkpoint is where it was)."""
        self._save(SupervisorState())
        return self.supervise()

    def _failed(self, run_id: str) -> bool:
        try:
            run = self.streaming.emr.get_job_run(
                applicationId=self.streaming.job.application_id, jobRunId=run_id
            )
        except Exception:
            return False
        return str(run["jobRun"]["state"]) in FAILED_STATES


def supervisor_from_settings(
    settings: Settings, s3: S3Client, emr: EMRServerlessClient, dynamodb: DynamoDBClient
) -> Supervisor:
    """The supervisor of the stack's stream, from the function's environment."""
    artifacts = settings.require("artifacts_bucket")
    job = streaming_job(
        settings,
        settings.require("stream_name"),
        settings.stream_topics,
        artifacts,
        deployed_jars(s3, artifacts),
        settings.kafka_options,
    )
    return Supervisor(EmrStreaming(emr, job), dynamodb, settings.require("ingest_state_table"))
