"""The local AWS converges onto the template: resources and event wiring, idempotently (moto in-process)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from dataplatform.aws import client
from dataplatform.settings import Settings
from dptools.local.deployment import LocalDeployment
from dptools.local.provision import (
    MAX_RECEIVE_COUNT,
    provision_resources,
    remove_stale_rules,
    wire_functions,
)
from tests.conftest import FIXTURES, ROOT, load_event

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef


def test_the_platform_template_provisions_its_buckets_bus_and_databases(mocked_aws: Settings) -> None:
    deployment = LocalDeployment(ROOT / "template.yaml", "http://127.0.0.1:1")
    first = provision_resources(deployment, mocked_aws)
    second = provision_resources(deployment, mocked_aws)  # idempotent
    assert first == second

    s3, glue = client("s3", mocked_aws), client("glue", mocked_aws)
    raw = deployment.ref("RawBucket")
    assert set(first["AWS::S3::Bucket"]) == {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert s3.get_bucket_versioning(Bucket=raw)["Status"] == "Enabled"
    databases = {d["Name"]: d.get("LocationUri") for d in glue.get_databases()["DatabaseList"]}
    assert databases == {
        "raw": f"s3://{raw}/iceberg/raw",
        "staging": f"s3://{deployment.ref('CuratedBucket')}/iceberg/staging",
        "analytics": f"s3://{deployment.ref('CuratedBucket')}/iceberg/analytics",
    }
    buses = [b["Name"] for b in client("events", mocked_aws).list_event_buses()["EventBuses"]]
    assert deployment.ref("PlatformBus") in buses
    [app] = client("emr-serverless", mocked_aws).list_applications()["applications"]
    assert (app["name"], app["releaseLabel"]) == ("dataplatform-local-spark", "emr-7.9.0")
    assert app["type"].upper() == "SPARK"  # the service answers "Spark" to a request for SPARK
    assert deployment.emr_application_id(app["name"], mocked_aws) == app["id"]


def test_an_event_matching_a_functions_rule_reaches_its_queue(mocked_aws: Settings) -> None:
    deployment = LocalDeployment(FIXTURES / "template.yaml", "http://127.0.0.1:1")
    provision_resources(deployment, mocked_aws)
    wirings = {w.function: w for w in wire_functions(deployment, mocked_aws)}
    assert set(wirings) == {"GreeterFunction", "RecorderFunction", "FailingFunction"}

    bus = deployment.ref("FixtureBus")
    event = load_event("greeted.json")
    entry: PutEventsRequestEntryTypeDef = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
    }
    client("events", mocked_aws).put_events(Entries=[{**entry, "EventBusName": bus}])

    sqs = client("sqs", mocked_aws)
    recorder = wirings["RecorderFunction"]
    delivered = sqs.receive_message(QueueUrl=recorder.queue_url, WaitTimeSeconds=1)["Messages"]
    assert [json.loads(m["Body"])["detail"] for m in delivered] == [{"name": "Ada"}]
    failing = sqs.receive_message(QueueUrl=wirings["FailingFunction"].queue_url)
    assert "Messages" not in failing

    redrive = sqs.get_queue_attributes(QueueUrl=recorder.queue_url, AttributeNames=["RedrivePolicy"])
    assert json.loads(redrive["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == MAX_RECEIVE_COUNT


def test_schedules_are_captured_with_their_input(mocked_aws: Settings) -> None:
    deployment = LocalDeployment(FIXTURES / "template.yaml", "http://127.0.0.1:1")
    provision_resources(deployment, mocked_aws)
    recorder = next(w for w in wire_functions(deployment, mocked_aws) if w.function == "RecorderFunction")
    [schedule] = recorder.schedules
    assert schedule.expression == "rate(1 hour)"
    assert schedule.event["detail"] == {"name": "clock"}


def test_rules_of_an_older_template_are_removed(mocked_aws: Settings) -> None:
    deployment = LocalDeployment(FIXTURES / "template.yaml", "http://127.0.0.1:1")
    provision_resources(deployment, mocked_aws)
    wirings = wire_functions(deployment, mocked_aws)
    bus = deployment.ref("FixtureBus")
    events = client("events", mocked_aws)
    events.put_rule(Name="dp-local-Gone-Old", EventBusName=bus, EventPattern='{"source": ["x"]}')
    removed = remove_stale_rules(wirings, mocked_aws, [bus])
    assert removed == [f"{bus}/dp-local-Gone-Old"]
    remaining = {r["Name"] for r in events.list_rules(EventBusName=bus, NamePrefix="dp-local-")["Rules"]}
    assert remaining == {"dp-local-RecorderFunction-Greeted", "dp-local-FailingFunction-Doomed"}
