"""The local Step Functions seam (dptools.local.stepfunctions), with moto's interpreter in this process.

GIVEN statemachines/api_ingest_batch.asl.json with its substitutions, and `batch:submitJob.sync` bound
to a fake local executor,
WHEN it is executed,
THEN every ASL feature the definition uses does what AWS does (Parameters with paths and intrinsic
functions, ResultSelector, Retry on Batch throttling and none on a failed job), and the seam keeps its
contract: executor errors are what Retry and Catch match, TimeoutSeconds cancels the executor, and an
unbound resource stays moto's own integration.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from dataplatform.aws import client
from dataplatform.settings import Settings
from dptools.local import stepfunctions
from dptools.local.batch_jobs import SUBMIT_JOB_SYNC
from dptools.local.state_machines import substitute
from dptools.local.stepfunctions import LocalExecutor, TaskCall, TaskFailed
from tests.conftest import ROOT

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

ASL = substitute(
    (ROOT / "statemachines/api_ingest_batch.asl.json").read_text(),
    {"JobQueue": "the-queue", "JobDefinition": "the-definition"},
)
SCHEDULED = {"source": "reviews", "endpoint": "reviews", "scheduled_time": "2026-11-24T08:00:00Z"}
BACKFILL = {"source": "reviews", "endpoint": "parts", "window": {"start": "2026-01-01", "end": "2026-02-01"}}


@pytest.fixture
def sfn(mocked_aws: Settings) -> SFNClient:
    stepfunctions.enable_execution()  # inside the mock: its config is restored when the test ends
    return client("stepfunctions", mocked_aws)


@pytest.fixture
def bind() -> Iterator[Callable[[LocalExecutor], list[TaskCall]]]:
    """Bind `batch:submitJob.sync` to an executor for this test; returns the calls it gets."""

    def bind_executor(executor: LocalExecutor) -> list[TaskCall]:
        calls: list[TaskCall] = []

        def recording(call: TaskCall) -> Any:
            calls.append(call)
            return executor(call)

        stepfunctions.register(SUBMIT_JOB_SYNC, recording)
        return calls

    yield bind_executor
    stepfunctions.unregister(SUBMIT_JOB_SYNC)


def execute(sfn: SFNClient, definition: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Create a state machine, run it once to its end, and describe the execution."""
    arn = sfn.create_state_machine(
        name=f"test-{uuid.uuid4().hex[:8]}",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/test",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)
    return dict(described)


def succeeded_job(call: TaskCall) -> dict[str, Any]:
    """What Batch's `.sync` gives back: the job as DescribeJobs has it, in Step Functions' casing."""
    return {
        "JobId": "job-1",
        "JobName": call.parameters["JobName"],
        "JobQueue": call.parameters["JobQueue"],
        "Status": "SUCCEEDED",
        "Attempts": [{"Container": {"ExitCode": 0}}],
        "Container": {"ExitCode": 0, "LogStreamName": "api-ingest/default/job-1"},
    }


def with_retry_interval(seconds: int) -> str:
    """The definition with a shorter Retry interval, so the test waits seconds, not minutes."""
    definition = json.loads(ASL)
    for retrier in definition["States"]["RunIngestJob"]["Retry"]:
        retrier["IntervalSeconds"] = seconds
    return json.dumps(definition)


@pytest.mark.parametrize("payload", [SCHEDULED, BACKFILL], ids=["scheduled", "backfill"])
def test_the_job_is_submitted_with_its_name_queue_definition_and_the_input_as_its_event(
    payload: dict[str, Any], sfn: SFNClient, bind: Callable[[LocalExecutor], list[TaskCall]]
) -> None:
    calls = bind(succeeded_job)
    described = execute(sfn, ASL, payload)
    assert described["status"] == "SUCCEEDED"
    (call,) = calls
    assert call.resource == SUBMIT_JOB_SYNC
    parameters = dict(call.parameters)
    event = parameters["Parameters"].pop("event")
    assert parameters == {
        "JobName": f"api-ingest-{payload['source']}-{payload['endpoint']}",  # States.Format
        "JobQueue": "the-queue",
        "JobDefinition": "the-definition",
        "Parameters": {},
    }
    assert isinstance(event, str) and json.loads(event) == payload  # States.JsonToString($)


def test_the_output_is_what_the_result_selector_keeps(
    sfn: SFNClient, bind: Callable[[LocalExecutor], list[TaskCall]]
) -> None:
    bind(succeeded_job)
    described = execute(sfn, ASL, SCHEDULED)
    assert json.loads(described["output"]) == {
        "JobId": "job-1",
        "JobName": "api-ingest-reviews-reviews",
        "Status": "SUCCEEDED",
        "LogStreamName": "api-ingest/default/job-1",
    }


def test_the_history_names_the_batch_integration(
    sfn: SFNClient, bind: Callable[[LocalExecutor], list[TaskCall]]
) -> None:
    bind(succeeded_job)
    described = execute(sfn, ASL, SCHEDULED)
    events = sfn.get_execution_history(executionArn=described["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert types.index("TaskScheduled") < types.index("TaskStarted") < types.index("TaskSucceeded")
    succeeded = next(e["taskSucceededEventDetails"] for e in events if e["type"] == "TaskSucceeded")
    assert (succeeded["resourceType"], succeeded["resource"]) == ("batch", "submitJob.sync")


def test_batch_throttling_is_retried(sfn: SFNClient, bind: Callable[[LocalExecutor], list[TaskCall]]) -> None:
    def throttled_twice(call: TaskCall) -> dict[str, Any]:
        if len(calls) <= 2:
            raise TaskFailed("Batch.AWSBatchException", "Too Many Requests")
        return succeeded_job(call)

    calls = bind(throttled_twice)
    described = execute(sfn, with_retry_interval(1), SCHEDULED)
    assert described["status"] == "SUCCEEDED" and len(calls) == 3


def test_a_failed_job_fails_the_execution_without_a_retry(
    sfn: SFNClient, bind: Callable[[LocalExecutor], list[TaskCall]]
) -> None:
    """Batch has retried the job by its own retry strategy already; a second layer would only repeat."""
    cause = json.dumps({"JobId": "job-1", "Status": "FAILED", "Container": {"ExitCode": 1}})

    def failed(call: TaskCall) -> dict[str, Any]:
        raise TaskFailed("States.TaskFailed", cause)

    calls = bind(failed)
    described = execute(sfn, with_retry_interval(1), SCHEDULED)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "States.TaskFailed",
        cause,
    )
    assert len(calls) == 1


# ------------------------------------------------------------------ the seam's contract, for any integration
def test_catch_matches_an_executors_error_name(
    sfn: SFNClient, bind: Callable[[LocalExecutor], list[TaskCall]]
) -> None:
    def refused(call: TaskCall) -> Any:
        raise TaskFailed("Batch.ClientException", "Job queue the-queue does not exist")

    bind(refused)
    definition = {
        "StartAt": "Submit",
        "States": {
            "Submit": {
                "Type": "Task",
                "Resource": SUBMIT_JOB_SYNC,
                "Parameters": {"JobName": "j", "JobQueue": "the-queue", "JobDefinition": "d"},
                "Catch": [
                    {"ErrorEquals": ["Batch.ClientException"], "ResultPath": "$.failure", "Next": "Caught"}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    described = execute(sfn, json.dumps(definition), {"given": 1})
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["given"] == 1 and output["failure"]["Error"] == "Batch.ClientException"


def test_timeout_seconds_cancel_the_executor(
    sfn: SFNClient, bind: Callable[[LocalExecutor], list[TaskCall]]
) -> None:
    cancelled: list[bool] = []

    def until_cancelled(call: TaskCall) -> Any:
        deadline = time.monotonic() + 20
        while not call.is_cancelled() and time.monotonic() < deadline:
            time.sleep(0.05)
        cancelled.append(call.is_cancelled())
        return {}

    bind(until_cancelled)
    definition = json.loads(ASL)
    definition["States"]["RunIngestJob"]["TimeoutSeconds"] = 1
    described = execute(sfn, json.dumps(definition), SCHEDULED)
    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
    deadline = time.monotonic() + 5
    while not cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cancelled == [True], "the executor was told to stop"


def test_other_tasks_stay_with_moto(sfn: SFNClient, bind: Callable[[LocalExecutor], list[TaskCall]]) -> None:
    calls = bind(succeeded_job)
    url = client("sqs", Settings()).create_queue(QueueName="seen-by-moto")["QueueUrl"]
    definition = {
        "StartAt": "List",
        "States": {
            "List": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:listQueues", "End": True}
        },
    }
    described = execute(sfn, json.dumps(definition), {})
    assert described["status"] == "SUCCEEDED" and calls == []
    assert json.loads(described["output"])["QueueUrls"] == [url]


def test_without_the_binding_moto_cannot_run_the_job(sfn: SFNClient) -> None:
    """Why the binding exists: moto's own Batch integration does not get this job to run here (it would
    need a queue, a compute environment and Docker), so the execution fails."""
    assert stepfunctions.integration_key(SUBMIT_JOB_SYNC) not in stepfunctions.registered()
    assert execute(sfn, ASL, SCHEDULED)["status"] == "FAILED"


def test_resources_are_keyed_by_integration_whatever_the_region() -> None:
    key = stepfunctions.integration_key
    assert key(SUBMIT_JOB_SYNC) == key("arn:aws:states:eu-west-1:123456789012:batch:submitJob.sync")
    assert key("arn:aws:states:::emr-serverless:startJobRun.sync") == "emr-serverless:startJobRun.sync"
    with pytest.raises(ValueError, match="not a Step Functions service integration"):
        key("arn:aws:lambda:us-east-1:123456789012:function:f")
