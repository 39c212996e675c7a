"""A stack of its own, on the fixture template: event delivery, dead letters, crashes, down and up.

GIVEN the fixture template (a recorder function, a failing one) deployed on a fresh local stack,
WHEN events arrive, a part crashes, and the stack goes down and up again,
THEN events reach the functions, failures end in the dead-letter queue, the crash is reported, no process
outlives `down`, and the lake and catalog survive.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dataplatform.aws import client
from dptools.local.paths import LocalPaths
from dptools.local.processes import _group_members
from dptools.local.stack import KAFKA, LocalStack
from tests.conftest import FIXTURES, wait_for

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef


@pytest.fixture(scope="module")
def fixture_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(
        paths=LocalPaths(tmp_path_factory.mktemp("fixture-stack")), template=FIXTURES / "template.yaml"
    )
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


def put_event(stack: LocalStack, source: str, detail: dict[str, str]) -> None:
    bus = stack.deployment().ref("FixtureBus")
    entry: PutEventsRequestEntryTypeDef = {
        "EventBusName": bus,
        "Source": source,
        "DetailType": "Greeted",
        "Detail": json.dumps(detail),
    }
    response = client("events", stack.settings()).put_events(Entries=[entry])
    assert response["FailedEntryCount"] == 0


def test_a_matching_event_runs_the_function_through_the_dispatcher(fixture_stack: LocalStack) -> None:
    settings = fixture_stack.settings()
    bucket = fixture_stack.deployment().ref("FixtureBucket")
    put_event(fixture_stack, "fixtures.greeter", {"name": "grace"})
    s3 = client("s3", settings)

    def recorded() -> bool:
        return s3.list_objects_v2(Bucket=bucket, Prefix="records/grace.json").get("KeyCount", 0) == 1

    wait_for(recorded, 30, "the recorder's object")
    body = json.loads(s3.get_object(Bucket=bucket, Key="records/grace.json")["Body"].read())
    assert body["detail"] == {"name": "grace"} and body["source"] == "fixtures.greeter"


def test_an_event_that_keeps_failing_lands_in_the_dead_letter_queue(fixture_stack: LocalStack) -> None:
    assert fixture_stack.dead_letters()["FailingFunction"] == 0
    put_event(fixture_stack, "fixtures.doomed", {"name": "doomed"})
    wait_for(lambda: fixture_stack.dead_letters()["FailingFunction"] == 1, 60, "the dead letter")
    log = (fixture_stack.paths.run / "dispatcher.log").read_text()
    assert log.count("FailingFunction failed (attempt") == 3


def test_a_crashed_part_is_reported_and_up_restarts_it(fixture_stack: LocalStack) -> None:
    kafka_pid = fixture_stack.parts[KAFKA].pid()
    assert kafka_pid is not None
    os.killpg(kafka_pid, signal.SIGKILL)
    wait_for(lambda: not fixture_stack.parts[KAFKA].is_running(), 10, "Kafka to die")
    states = {p.name: p.state for p in fixture_stack.status()}
    assert states == {
        "aws": "running",
        "kafka": "crashed",
        "api": "running",
        "dispatcher": "running",
        "warehouse": "stopped",  # the fixture template declares no warehouse
    }
    fixture_stack.up()
    assert {p.name for p in fixture_stack.status() if p.state != "running"} == {"warehouse"}


def test_down_leaves_no_process_and_up_keeps_the_lake_and_catalog(fixture_stack: LocalStack) -> None:
    settings = fixture_stack.settings()
    bucket = fixture_stack.deployment().ref("FixtureBucket")
    client("s3", settings).put_object(Bucket=bucket, Key="kept/object.txt", Body=b"still here")
    client("glue", settings).create_database(
        DatabaseInput={"Name": "kept_db", "LocationUri": f"s3://{bucket}/db"}
    )
    running = [p for p in fixture_stack.status() if p.state == "running"]
    assert {p.name for p in running} == {"aws", "kafka", "api", "dispatcher"}  # no warehouse; Trino: opt-in
    pids = [p.pid for p in running]
    assert all(pids)

    fixture_stack.down()
    assert all(not _group_members(pid) for pid in pids if pid)
    assert {p.state for p in fixture_stack.status()} == {"stopped"}

    fixture_stack.up()
    settings = fixture_stack.settings()
    body = client("s3", settings).get_object(Bucket=bucket, Key="kept/object.txt")["Body"].read()
    assert body == b"still here"
    assert (
        client("glue", settings).get_database(Name="kept_db")["Database"]["LocationUri"]
        == f"s3://{bucket}/db"
    )


def test_stack_state_lives_under_its_own_folder(fixture_stack: LocalStack) -> None:
    run: Path = fixture_stack.paths.run
    assert {"stack.json", "wiring.json", "aws.log", "kafka.log", "dispatcher.log"} <= {
        p.name for p in run.iterdir()
    }
