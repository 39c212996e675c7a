"""Shared fixtures: moto in-process for unit tests, one local stack and one Spark session per run.

Every process a fixture starts (moto server, Kafka broker, sample API, dispatcher, Spark's JVM) is
stopped in its finalizer, also when the tests fail.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dataplatform.settings import Profile, Settings
from dptools.local.paths import LocalPaths, project_root
from dptools.local.stack import LocalStack

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ROOT = project_root()
FIXTURES = Path(__file__).parent / "fixtures"


def load_event(path: str) -> dict[str, Any]:
    """An event file: `events/<function>/<name>.json`, or one under tests/fixtures/events."""
    candidate = ROOT / "events" / path
    if not candidate.is_file():
        candidate = FIXTURES / "events" / path
    event: dict[str, Any] = json.loads(candidate.read_text())
    return event


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` when `timeout_s` runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def bus_listener(
    settings: Settings, name: str, pattern: dict[str, Any]
) -> Callable[[], list[dict[str, Any]]]:
    """A queue subscribed to the platform bus with `pattern`, as a downstream consumer would be; the
    returned function drains it and gives every event received so far."""
    from dataplatform.aws import client

    sqs, events = client("sqs", settings), client("events", settings)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = settings.require("event_bus")
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    received: list[dict[str, Any]] = []

    def drain() -> list[dict[str, Any]]:
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return received

    return drain


def create_state_table(settings: Settings, name: str) -> None:
    """A table keyed as the template's IngestStateTable (pk, sk)."""
    from dataplatform.aws import client

    client("dynamodb", settings).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under tests/integration are `integration`, all others `unit`."""
    for item in items:
        marker = "integration" if "integration" in Path(str(item.fspath)).parts else "unit"
        item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def mocked_aws(aws_credentials: None) -> Iterator[Settings]:
    """moto in this process; the settings reach it as if it were AWS."""
    from moto import mock_aws

    from dataplatform import aws
    from dptools.local import moto_fidelity

    moto_fidelity.apply()
    with mock_aws():
        aws.forget_session()  # a session made before the mock started would reach past it
        yield Settings(profile=Profile.AWS)
    aws.forget_session()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The real local stack (moto server, Kafka broker, sample API, dispatcher) on free loopback ports."""
    stack = LocalStack(paths=LocalPaths(tmp_path_factory.mktemp("local-stack")))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def stack_settings(local_stack: LocalStack) -> Settings:
    return local_stack.settings()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One plain local Spark session for the whole run, with no stack: pure DataFrame tests use it as it
    is, and tests/integration's `spark` gives the same session the local stack's catalog."""
    from dataplatform.spark.session import local_session

    session = local_session("dp-tests", LocalPaths.default().jars / "spark", master="local[2]")
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
