"""statemachines/transform.asl.json, run by moto's interpreter in this process with a fake EMR Serverless
executor; and the template's TransformStateMachine agrees with the job it runs.

GIVEN the definition with its substitutions, the ingest state table, the platform bus and the topic,
WHEN it is executed,
THEN the jobs run in order with the job's own arguments, the lock admits one run at a time and is
released at the end and on failure, a failed gate is caught without a retry and reported (TransformFailed,
the topic), and the states an input marks done are skipped.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from dataplatform.aws import client
from dataplatform.iceberg.summary import ROWS_CHANGED, TRANSFORM_RUN
from dataplatform.settings import Settings
from dataplatform.spark.session import emr_spark_submit_parameters
from dataplatform.transforms.figures import run_figures
from dataplatform.transforms.steps import STEPS
from dptools.cli.transforms import redrive_input
from dptools.executions import history
from dptools.local import stepfunctions
from dptools.local.emr_serverless_jobs import START_JOB_RUN_SYNC
from dptools.local.lambda_tasks import LAMBDA_INVOKE
from dptools.local.state_machines import substitute
from dptools.local.stepfunctions import TaskCall, TaskFailed
from dptools.sam.template import load_template
from jobs.transforms import build_parser, write_figures
from tests.conftest import ROOT, bus_listener, create_state_table

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

ASL_FILE = ROOT / "statemachines/transform.asl.json"
RESOURCES: dict[str, Any] = load_template(ROOT / "template.yaml")["Resources"]
JOB_TASKS = {
    "Staging": ("staging", None),
    "DimCustomer": ("model", "dim_customer"),
    "DimSupplierPartDate": ("model", "dim_supplier,dim_part,dim_date"),
    "FactSales": ("model", "fact_sales"),
    "FactWebEvents": ("model", "fact_web_events"),
    "FactReviews": ("model", "fact_reviews"),
    "Aggregates": ("aggregates", None),
    "Publish": ("publish", None),
}
LOCK = {"pk": {"S": "transforms/lock"}, "sk": {"S": "run"}}
FIGURES_FORMAT = "States.Format('s3://${ArtifactsBucket}/transforms/runs/{}.json', $.run_id)"


def job_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Task state running a job, by name, wherever it is (Parallel branches included)."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        if state.get("Resource") == START_JOB_RUN_SYNC:
            found[name] = state
        for branch in state.get("Branches", []):
            found.update(job_states(branch))
    return found


def test_every_job_state_passes_arguments_the_job_accepts_and_the_submit_parameters_of_the_code() -> None:
    definition = json.loads(ASL_FILE.read_text())
    states = job_states(definition)
    assert set(states) == set(JOB_TASKS)
    settings = Settings(curated_bucket="${CuratedBucket}", region="${Region}")
    for name, state in states.items():
        submit = state["Parameters"]["JobDriver"]["SparkSubmit"]
        assert submit["EntryPoint"] == "s3://${ArtifactsBucket}/spark/jobs/transforms.py"
        assert submit["SparkSubmitParameters"] == emr_spark_submit_parameters(
            settings, "s3://${ArtifactsBucket}/spark", []
        )
        call = submit["EntryPointArguments.$"]
        assert call.startswith("States.Array(") and "$.run_id" in call
        literal = (
            call.removeprefix("States.Array(")
            .removesuffix(")")
            .replace(FIGURES_FORMAT, "'s3://${ArtifactsBucket}/transforms/runs/RUN.json'")
            .replace("$.run_id", "'RUN'")
        )
        args = [a.strip().strip("'") for a in literal.split(", ")]
        parsed = build_parser().parse_args(args)  # exits on an argument the job does not take
        step, tables = JOB_TASKS[name]
        assert (parsed.step, parsed.run_id, parsed.tables or None) == (step, "RUN", tables)
        assert parsed.step in STEPS
        figures_uri = "s3://${ArtifactsBucket}/transforms/runs/RUN.json" if step == "publish" else ""
        assert parsed.figures_uri == figures_uri, "the figures where GetFigures reads them"
    assert (ROOT / "jobs/transforms.py").is_file()


def test_the_template_substitutes_every_placeholder_of_the_definition() -> None:
    machine = RESOURCES["TransformStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachines/transform.asl.json"
    text = ASL_FILE.read_text()
    placeholders = {p.split("}")[0] for p in text.split("${")[1:]}
    assert placeholders == set(machine["DefinitionSubstitutions"])
    assert machine["DefinitionSubstitutions"]["SparkApplication"] == {"Ref": "SparkApplication"}


# ------------------------------------------------------------------ executions in moto
@pytest.fixture
def aws(mocked_aws: Settings) -> dict[str, Any]:
    """The table, bus (with a queue that sees its events) and topic the definition names."""
    stepfunctions.enable_execution()
    create_state_table(mocked_aws, "state")
    client("events", mocked_aws).create_event_bus(Name="platform")
    seen = bus_listener(
        mocked_aws.with_overrides(event_bus="platform"), "seen", {"source": ["dataplatform.transforms"]}
    )
    topic = client("sns", mocked_aws).create_topic(Name="failures")["TopicArn"]
    batch_queue = client("sqs", mocked_aws).create_queue(QueueName="transform-batch")["QueueUrl"]
    client("s3", mocked_aws).create_bucket(Bucket="artifacts")
    definition = substitute(
        ASL_FILE.read_text(),
        {
            "SparkApplication": "app-1",
            "SparkJobRoleArn": "arn:aws:iam::123456789012:role/spark",
            "ArtifactsBucket": "artifacts",
            "CuratedBucket": "curated",
            "Region": "us-east-1",
            "StateTable": "state",
            "PlatformBus": "platform",
            "FailureTopic": topic,
            "WarehouseLoadFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:warehouse-load",
            "TransformBatchQueueUrl": batch_queue,
        },
    )
    sfn = client("stepfunctions", mocked_aws)
    arn = sfn.create_state_machine(
        name=f"transform-{uuid.uuid4().hex[:6]}",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/test",
    )["stateMachineArn"]
    return {
        "sfn": sfn,
        "arn": arn,
        "dynamodb": client("dynamodb", mocked_aws),
        "events": seen,
        "sqs": client("sqs", mocked_aws),
        "batch_queue": batch_queue,
    }


@pytest.fixture
def jobs() -> Iterator[Callable[[Callable[[TaskCall], Any]], list[TaskCall]]]:
    def bind(executor: Callable[[TaskCall], Any]) -> list[TaskCall]:
        calls: list[TaskCall] = []

        def recording(call: TaskCall) -> Any:
            calls.append(call)
            return executor(call)

        stepfunctions.register(START_JOB_RUN_SYNC, recording)
        return calls

    # The warehouse load after Publish: the loader's own tests are tests/integration/test_warehouse_*.
    stepfunctions.register(LAMBDA_INVOKE, lambda call: {"StatusCode": 200, "Payload": {}})
    yield bind
    stepfunctions.unregister(START_JOB_RUN_SYNC)
    stepfunctions.unregister(LAMBDA_INVOKE)


def fake_figures(run_id: str) -> dict[str, Any]:
    """What a publish of this run would find in its commits' summaries."""
    commit = {ROWS_CHANGED: "7", "added-files-size": "1024", TRANSFORM_RUN: run_id}
    return run_figures(run_id, {"staging.orders": [commit, commit], "analytics.fact_sales": [commit]})


def job_run(call: TaskCall) -> dict[str, Any]:
    """A job run that succeeds; publish writes its figures where the job would (the job's own writer)."""
    args = arguments(call)
    if "--figures-uri" in args:
        run_id = args[args.index("--run-id") + 1]
        write_figures(args[args.index("--figures-uri") + 1], fake_figures(run_id), Settings())
    return {"JobRunId": "run-1", "State": "SUCCESS", "ApplicationId": call.parameters["ApplicationId"]}


def execute(aws: dict[str, Any], name: str, payload: dict[str, Any]) -> dict[str, Any]:
    sfn: SFNClient = aws["sfn"]
    arn = sfn.start_execution(stateMachineArn=aws["arn"], name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)
    return dict(described)


def arguments(call: TaskCall) -> list[str]:
    return list(call.parameters["JobDriver"]["SparkSubmit"]["EntryPointArguments"])


def test_a_run_runs_every_job_in_order_under_its_run_id_and_releases_the_lock(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    calls = jobs(job_run)
    described = execute(aws, "run-42", {})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"run_id": "run-42"}
    steps = [arguments(c)[1] for c in calls]
    assert steps[0] == "staging" and steps[-2:] == ["aggregates", "publish"]
    assert sorted(steps[1:-2]) == ["model"] * 5
    assert all(arguments(c)[2:4] == ["--run-id", "run-42"] for c in calls)
    assert {c.parameters["Name"] for c in calls} >= {"transforms-run-42-Staging", "transforms-run-42-Publish"}
    assert "Item" not in aws["dynamodb"].get_item(TableName="state", Key=LOCK)
    (event,) = aws["events"]()
    assert event["detail-type"] == "TransformSucceeded" and event["detail"]["run_id"] == "run-42"
    assert event["detail"]["figures"] == fake_figures("run-42"), "what Publish wrote"
    assert event["detail"]["figures"]["totals"] == {
        "tables": 2,
        "rows_changed": 21,
        "bytes_written": 3072,
        "commits": 3,
    }


def test_a_second_run_while_one_is_active_does_nothing(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    calls = jobs(job_run)
    held = {**LOCK, "run_id": {"S": "the-active-one"}}
    aws["dynamodb"].put_item(TableName="state", Item=held)
    described = execute(aws, "second", {})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["skipped"] == "another transform run is active"
    assert calls == []
    assert aws["dynamodb"].get_item(TableName="state", Key=LOCK)["Item"] == held, (
        "not the second's to release"
    )


def test_a_failed_gate_is_not_retried_and_is_reported(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    def gate_fails_on_fact_sales(call: TaskCall) -> dict[str, Any]:
        if "fact_sales" in arguments(call):
            raise TaskFailed("Transforms.GateFailed", "analytics.fact_sales failed its gate: customer_known")
        return job_run(call)

    calls = jobs(gate_fails_on_fact_sales)
    described = execute(aws, "gated", {})
    assert (described["status"], described["error"]) == ("FAILED", "Transforms.GateFailed")
    assert "customer_known" in described["cause"]
    assert sum("fact_sales" in arguments(c) for c in calls) == 1, "no retry"
    assert not any(arguments(c)[1] in ("aggregates", "publish") for c in calls)
    assert "Item" not in aws["dynamodb"].get_item(TableName="state", Key=LOCK)
    (event,) = aws["events"]()
    assert event["detail-type"] == "TransformFailed"
    assert event["detail"]["run_id"] == "gated" and event["detail"]["error"] == "Transforms.GateFailed"
    history = aws["sfn"].get_execution_history(executionArn=described["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert "NotifyFailure" in entered


def test_states_marked_done_are_skipped_and_the_run_id_is_the_inputs(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    calls = jobs(job_run)
    done = {"Staging": True, "DimCustomer": True, "DimSupplierPartDate": True, "FactWebEvents": True}
    described = execute(aws, "redrive-1", {"run_id": "gated", "done": done})
    assert described["status"] == "SUCCEEDED", described
    ran = sorted(a[a.index("--tables") + 1] if "--tables" in a else a[1] for a in map(arguments, calls))
    assert ran == ["aggregates", "fact_reviews", "fact_sales", "publish"]
    assert all(arguments(c)[3] == "gated" for c in calls)


def test_a_redrive_finishes_the_failed_run_without_the_states_that_succeeded(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    fixed: list[bool] = []

    def gate_fails_until_fixed(call: TaskCall) -> dict[str, Any]:
        if "fact_sales" in arguments(call) and not fixed:
            raise TaskFailed("Transforms.GateFailed", "customer_known")
        return job_run(call)

    calls = jobs(gate_fails_until_fixed)
    failed = execute(aws, "to-redrive", {})
    assert failed["status"] == "FAILED"
    events = history(aws["sfn"], failed["executionArn"])
    payload = redrive_input("to-redrive", json.loads(failed["input"]), events)
    assert payload["run_id"] == "to-redrive"
    assert {"Staging", "DimCustomer", "DimSupplierPartDate"} <= set(payload["done"])
    assert not {"FactSales", "Aggregates", "Publish"} & set(payload["done"])

    fixed.append(True)
    before = len(calls)
    described = execute(aws, "to-redrive-redrive-1", payload)
    assert described["status"] == "SUCCEEDED", described
    redriven = [arguments(c) for c in calls[before:]]
    assert all(args[3] == "to-redrive" for args in redriven), "the same run, so the same branches"
    assert [a[1] for a in redriven if a[1] != "model"] == ["aggregates", "publish"]
    assert "staging" not in [a[1] for a in redriven] and ["--tables", "dim_customer"] not in [
        a[4:] for a in redriven
    ]


# ------------------------------------------------------------------ RawDataLanded, batched
BATCH = {"batch": "raw_data_landed"}


def queued(aws: dict[str, Any]) -> int:
    attributes = aws["sqs"].get_queue_attributes(
        QueueUrl=aws["batch_queue"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_a_batch_run_with_nothing_landed_ends_at_once(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    calls = jobs(job_run)
    described = execute(aws, "batch-empty", BATCH)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {
        "run_id": "batch-empty",
        "skipped": "nothing landed since the last run",
    }
    assert calls == []
    assert "Item" not in aws["dynamodb"].get_item(TableName="state", Key=LOCK), "no lock taken"
    assert aws["events"]() == []


def test_a_batch_run_after_raw_data_landed_runs_and_empties_the_queue(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    calls = jobs(job_run)
    for table in ("raw.reviews__reviews", "raw.reviews__products"):
        landed = {"detail-type": "RawDataLanded", "source": "dataplatform.ingest", "detail": {"table": table}}
        aws["sqs"].send_message(QueueUrl=aws["batch_queue"], MessageBody=json.dumps(landed))
    described = execute(aws, "batch-landed", BATCH)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"run_id": "batch-landed"}
    assert [arguments(c)[1] for c in calls][-2:] == ["aggregates", "publish"] and len(calls) == len(JOB_TASKS)
    assert queued(aws) == 0, "what landed is this run's"
    (event,) = aws["events"]()
    assert event["detail-type"] == "TransformSucceeded"
    assert execute(aws, "batch-after", BATCH)["status"] == "SUCCEEDED"
    assert len(calls) == len(JOB_TASKS), "the next batch run has nothing to do"


def test_a_batch_run_while_another_run_is_active_leaves_the_queue_to_the_next(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    calls = jobs(job_run)
    aws["dynamodb"].put_item(TableName="state", Item={**LOCK, "run_id": {"S": "the-active-one"}})
    aws["sqs"].send_message(QueueUrl=aws["batch_queue"], MessageBody="{}")
    described = execute(aws, "batch-blocked", BATCH)
    assert json.loads(described["output"])["skipped"] == "another transform run is active"
    assert calls == [] and queued(aws) == 1


def test_a_run_without_batch_does_not_look_at_the_queue(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    calls = jobs(job_run)
    aws["sqs"].send_message(QueueUrl=aws["batch_queue"], MessageBody="{}")
    assert execute(aws, "daily", {})["status"] == "SUCCEEDED"
    assert len(calls) == len(JOB_TASKS) and queued(aws) == 1, "the batch schedule's to take"


def test_raw_data_landed_reaches_the_state_machine_only_through_the_batch_queue_and_schedule() -> None:
    machine = RESOURCES["TransformStateMachine"]["Properties"]
    events = machine["Events"]
    assert not any(
        "RawDataLanded" in json.dumps(e["Properties"].get("Pattern", {})) for e in events.values()
    ), "no rule starts a run per event"
    schedule = events["RawDataLandedBatch"]
    assert schedule["Type"] == "ScheduleV2"
    assert json.loads(schedule["Properties"]["Input"]) == BATCH
    assert schedule["Properties"]["ScheduleExpression"] == {
        "Fn::Sub": "rate(${TransformBatchMinutes} minutes)"
    }
    assert RESOURCES["TransformBatchQueue"]["Type"] == "AWS::SQS::Queue"
    assert RESOURCES["TransformBatchQueue"]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert machine["DefinitionSubstitutions"]["TransformBatchQueueUrl"] == {"Ref": "TransformBatchQueue"}

    rule = RESOURCES["TransformRawDataLandedRule"]
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Properties"]["EventBusName"] == {"Ref": "PlatformBus"}
    assert rule["Properties"]["EventPattern"] == {
        "source": ["dataplatform.ingest"],
        "detail-type": ["RawDataLanded"],
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["TransformBatchQueue", "Arn"]}

    queue_policy = RESOURCES["TransformBatchQueuePolicy"]["Properties"]
    assert queue_policy["Queues"] == [{"Ref": "TransformBatchQueue"}]
    rule_arn = {"Fn::GetAtt": ["TransformRawDataLandedRule", "Arn"]}
    allow, deny = queue_policy["PolicyDocument"]["Statement"]
    assert (allow["Effect"], allow["Principal"], allow["Action"]) == (
        "Allow",
        {"Service": "events.amazonaws.com"},
        "sqs:SendMessage",
    )
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    assert (deny["Effect"], deny["Principal"], deny["Condition"]) == (
        "Deny",
        "*",
        {"ArnNotEquals": {"aws:SourceArn": rule_arn}},
    )

    statements = [
        s for p in machine["Policies"] if isinstance(p, dict) and "Statement" in p for s in p["Statement"]
    ]
    on_queue = [s for s in statements if any(str(a).startswith("sqs:") for a in _actions(s))]
    assert len(on_queue) == 1
    assert sorted(_actions(on_queue[0])) == ["sqs:PurgeQueue", "sqs:ReceiveMessage"]
    assert on_queue[0]["Resource"] == {"Fn::GetAtt": ["TransformBatchQueue", "Arn"]}


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


# ------------------------------------------------------------------ the run's figures
def test_a_run_whose_figures_cannot_be_read_still_succeeds_with_empty_figures(
    aws: dict[str, Any], jobs: Callable[[Callable[[TaskCall], Any]], list[TaskCall]]
) -> None:
    def publish_writes_nothing(call: TaskCall) -> dict[str, Any]:
        return {"JobRunId": "run-1", "State": "SUCCESS", "ApplicationId": call.parameters["ApplicationId"]}

    jobs(publish_writes_nothing)
    described = execute(aws, "no-figures", {})
    assert described["status"] == "SUCCEEDED", described
    (event,) = aws["events"]()
    assert event["detail-type"] == "TransformSucceeded" and event["detail"]["figures"] == {}
    history = aws["sfn"].get_execution_history(executionArn=described["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert "FiguresUnavailable" in entered


def test_the_figures_prefix_is_all_the_job_writes_and_the_state_machine_reads_of_the_artifacts() -> None:
    figures = {"Fn::Sub": "${ArtifactsBucket.Arn}/transforms/runs/*"}
    machine = RESOURCES["TransformStateMachine"]["Properties"]
    statements = [
        s for p in machine["Policies"] if isinstance(p, dict) and "Statement" in p for s in p["Statement"]
    ]
    on_s3 = [s for s in statements if any(a.startswith("s3:") for a in _actions(s))]
    assert [(_actions(s), s["Resource"]) for s in on_s3] == [(["s3:GetObject"], figures)]
    job_policies = RESOURCES["SparkJobRole"]["Properties"]["Policies"]
    job_statements = [s for p in job_policies for s in p["PolicyDocument"]["Statement"]]
    writes_artifacts = [
        s
        for s in job_statements
        if "s3:PutObject" in _actions(s) and "ArtifactsBucket" in json.dumps(s["Resource"])
    ]
    assert [s["Resource"] for s in writes_artifacts] == [figures]
