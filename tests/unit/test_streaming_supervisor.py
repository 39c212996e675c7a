"""The supervisor keeps one streaming run alive on EMR Serverless, backs off, and stays out when paused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.streaming.emr import EmrStreaming, StreamingJob, Supervisor, streaming_job

if TYPE_CHECKING:
    from mypy_boto3_emr_serverless import EMRServerlessClient

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def parts(mocked_aws: Settings) -> tuple[Supervisor, EMRServerlessClient]:
    emr, db = client("emr-serverless", mocked_aws), client("dynamodb", mocked_aws)
    # botocore fills the idempotency token clientToken when it is not given; the stub has it required.
    app = emr.create_application(  # type: ignore[call-arg]
        name="spark", releaseLabel="emr-7.9.0", type="SPARK"
    )["applicationId"]
    db.create_table(
        TableName="state",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        BillingMode="PAY_PER_REQUEST",
    )
    job = StreamingJob(
        "clickstream", app, "arn:aws:iam::123456789012:role/job", "s3://a/k.py", ["--x"], "--conf a=b"
    )
    return Supervisor(EmrStreaming(emr, job), db, "state"), emr


def _cancel_all(supervisor: Supervisor) -> None:
    supervisor.streaming.stop()


def test_it_starts_the_job_when_none_runs_and_leaves_a_running_one_alone(
    parts: tuple[Supervisor, EMRServerlessClient],
) -> None:
    supervisor, _ = parts
    started = supervisor.supervise(NOW)
    assert started.action == "started" and started.run_id
    again = supervisor.supervise(NOW + timedelta(minutes=5))
    assert (again.action, again.run_id) == ("running", started.run_id)
    assert len(supervisor.streaming.runs()) == 1


def test_failed_runs_back_off_and_raise_the_alarm_after_three(
    parts: tuple[Supervisor, EMRServerlessClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisor, _ = parts
    monkeypatch.setattr(supervisor, "_failed", lambda run_id: True)  # every run it started has failed
    at = NOW
    results = []
    for _ in range(4):
        result = supervisor.supervise(at)
        results.append(result.action)
        _cancel_all(supervisor)  # the run ends (as failed, per the patch)
        if result.action == "backing-off":
            at += timedelta(minutes=1)
        at += timedelta(hours=2)  # past any backoff
    assert results == ["started"] * 4
    last = supervisor.supervise(at)
    assert last.failures == 4 and last.alarming


def test_a_retry_waits_for_its_backoff(
    parts: tuple[Supervisor, EMRServerlessClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisor, _ = parts
    monkeypatch.setattr(supervisor, "_failed", lambda run_id: True)
    assert supervisor.supervise(NOW).action == "started"
    _cancel_all(supervisor)
    assert supervisor.supervise(NOW + timedelta(seconds=30)).action == "backing-off"
    assert supervisor.supervise(NOW + timedelta(minutes=3)).action == "started"


def test_a_paused_stream_stays_stopped_until_resumed(parts: tuple[Supervisor, EMRServerlessClient]) -> None:
    supervisor, _ = parts
    supervisor.supervise(NOW)
    assert supervisor.pause()
    assert supervisor.streaming.runs() == []
    assert supervisor.supervise(NOW + timedelta(hours=1)).action == "paused"
    assert supervisor.resume().action == "started"


def test_the_job_run_points_at_the_deployed_artifacts() -> None:
    settings = Settings(
        raw_bucket="raw",
        curated_bucket="curated",
        kafka_bootstrap="b-1.msk:9094",
        spark_application_id="app",
        spark_job_role_arn="arn:role",
    )
    job = streaming_job(
        settings,
        "clickstream",
        ["clickstream"],
        "art",
        ["spark-sql-kafka-0-10_2.12-3.5.7.jar"],
        {"security.protocol": "SSL"},
    )
    assert job.entry_point == "s3://art/spark/streaming/kafka_to_raw.py"
    assert job.arguments[job.arguments.index("--checkpoint") + 1] == "s3://raw/_checkpoints/clickstream"
    assert job.arguments[-2:] == ["--kafka-option", "security.protocol=SSL"]
    assert "s3://art/spark/jars/spark-sql-kafka-0-10_2.12-3.5.7.jar" in job.spark_submit_parameters
