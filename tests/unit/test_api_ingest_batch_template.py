"""template.yaml's Batch path for api_ingest: the state machine submits the job definition to its queue,
the job runs the image's entry point with the function's event and environment, on Fargate, with the
function's reach and no more."""

from __future__ import annotations

import json
import re
from typing import Any

from dataplatform.api_ingest import batch
from dptools.local.state_machines import substitute
from dptools.sam.template import load_template
from tests.conftest import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
MACHINE: dict[str, Any] = RESOURCES["ApiIngestBatchStateMachine"]["Properties"]
JOB: dict[str, Any] = RESOURCES["ApiIngestJobDefinition"]["Properties"]
CONTAINER: dict[str, Any] = JOB["ContainerProperties"]
FUNCTION: dict[str, Any] = RESOURCES["ApiIngestFunction"]["Properties"]
SHARED_POLICY = {"Ref": "ApiIngestSourceAccess"}


def _definition_text() -> str:
    return (ROOT / MACHINE["DefinitionUri"]).read_text()


def _task() -> dict[str, Any]:
    states = json.loads(_definition_text())["States"]
    tasks = [s for s in states.values() if s["Type"] == "Task"]
    assert len(tasks) == 1
    return dict(tasks[0])


def _statements(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for policy in policies for s in policy["PolicyDocument"]["Statement"]]


def test_the_state_machine_submits_the_job_definition_to_the_queue_and_waits() -> None:
    assert MACHINE["Type"] == "STANDARD"
    assert set(re.findall(r"\$\{(\w+)\}", _definition_text())) == set(MACHINE["DefinitionSubstitutions"])
    assert MACHINE["DefinitionSubstitutions"] == {
        "JobQueue": {"Ref": "ApiIngestJobQueue"},
        "JobDefinition": {"Ref": "ApiIngestJobDefinition"},
    }
    task = _task()
    assert task["Resource"] == "arn:aws:states:::batch:submitJob.sync"
    assert task["Parameters"]["JobQueue"] == "${JobQueue}"
    assert task["Parameters"]["JobDefinition"] == "${JobDefinition}"
    json.loads(substitute(_definition_text(), {"JobQueue": "q", "JobDefinition": "d"}))


def test_the_job_gets_the_state_machine_input_as_its_event() -> None:
    """The task passes the input as the job parameter `event`; the command hands it to the entry point,
    whose parser takes it (the Dockerfile's entry point is checked in test_api_ingest_image.py)."""
    passed = _task()["Parameters"]["Parameters"]
    assert passed == {"event.$": "States.JsonToString($)"}
    assert CONTAINER["Command"] == ["--event", "Ref::event"]
    assert set(JOB["Parameters"]) == {"event"}
    event = '{"source": "reviews", "endpoint": "reviews", "scheduled_time": "2026-01-01T00:00:00Z"}'
    command = [event if arg == "Ref::event" else arg for arg in CONTAINER["Command"]]
    assert batch._parser().parse_args(command).event == event


def test_the_job_sees_the_functions_environment() -> None:
    """Globals and the function's own variables, so the code reads the same settings; and the region,
    which Lambda sets itself."""
    function_env = {
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        **FUNCTION["Environment"]["Variables"],
    }
    job_env = {pair["Name"]: pair["Value"] for pair in CONTAINER["Environment"]}
    assert job_env == {**function_env, "AWS_DEFAULT_REGION": {"Ref": "AWS::Region"}}


def test_jobs_run_on_fargate_and_are_retried_except_on_bad_input() -> None:
    assert JOB["PlatformCapabilities"] == ["FARGATE"]
    environment = RESOURCES["ApiIngestComputeEnvironment"]["Properties"]
    assert environment["ComputeResources"]["Type"] == "FARGATE"
    queue = RESOURCES["ApiIngestJobQueue"]["Properties"]
    assert [c["ComputeEnvironment"] for c in queue["ComputeEnvironmentOrder"]] == [
        {"Ref": "ApiIngestComputeEnvironment"}
    ]
    retry = JOB["RetryStrategy"]
    assert retry["Attempts"] > 1, "a retried job resumes from its last committed chunk"
    assert retry["EvaluateOnExit"][0] == {"OnExitCode": str(batch.BAD_INPUT), "Action": "EXIT"}
    assert CONTAINER["NetworkConfiguration"] == {"AssignPublicIp": "DISABLED"}
    assert RESOURCES["ApiIngestJobDefinition"]["Metadata"]["Dockerfile"] == "batch/api_ingest/Dockerfile"


def test_the_job_reaches_what_the_function_reaches_and_no_more() -> None:
    assert SHARED_POLICY in FUNCTION["Policies"]
    role = RESOURCES["ApiIngestJobRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [SHARED_POLICY] and "Policies" not in role
    assert CONTAINER["JobRoleArn"] == {"Fn::GetAtt": ["ApiIngestJobRole", "Arn"]}
    for name in ("ApiIngestJobRole", "ApiIngestJobExecutionRole"):
        (trust,) = RESOURCES[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}

    execution = _statements(RESOURCES["ApiIngestJobExecutionRole"]["Properties"]["Policies"])
    by_sid = {s["Sid"]: s for s in execution}
    assert by_sid["PullImage"]["Resource"] == {"Fn::GetAtt": ["ApiIngestRepository", "Arn"]}
    assert by_sid["ShipLogs"]["Resource"] == {"Fn::Sub": "${ApiIngestJobLogGroup.Arn}:*"}
    assert [s["Sid"] for s in execution if s["Resource"] == "*"] == ["EcrLogin"]


def test_the_state_machine_submits_only_to_its_own_queue_and_job_definition() -> None:
    statements = {s["Sid"]: s for s in MACHINE["Policies"][0]["Statement"]}
    submit = statements["SubmitIngestJobs"]
    assert submit["Action"] == "batch:SubmitJob"
    assert submit["Resource"][0] == {"Ref": "ApiIngestJobQueue"}
    assert submit["Resource"][1]["Fn::Sub"].endswith(":job-definition/${AWS::StackName}-api-ingest:*")
    assert JOB["JobDefinitionName"] == {"Fn::Sub": "${AWS::StackName}-api-ingest"}
    assert {a for s in statements.values() for a in _actions(s)} & {"batch:*", "*"} == set()


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_failed_jobs_alarm_and_missed_schedules_go_to_the_dead_letter_queue() -> None:
    alarm = RESOURCES["ApiIngestBatchFailedAlarm"]["Properties"]
    assert alarm["MetricName"] == "ExecutionsFailed" and alarm["Namespace"] == "AWS/States"
    assert alarm["Dimensions"] == [
        {"Name": "StateMachineArn", "Value": {"Ref": "ApiIngestBatchStateMachine"}}
    ]
    for event in MACHINE["Events"].values():
        assert event["Properties"]["DeadLetterConfig"] == {
            "Arn": {"Fn::GetAtt": ["ApiIngestDeadLetterQueue", "Arn"]}
        }
