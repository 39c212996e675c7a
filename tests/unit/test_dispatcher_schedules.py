"""With schedules on, the dispatcher sends each schedule's event to its function's queue when it is due."""

import json
import threading
from datetime import UTC, datetime, timedelta

from dataplatform.aws import client
from dataplatform.settings import Settings
from dptools.local.deployment import LocalDeployment
from dptools.local.dispatcher import Dispatcher, scheduled_event
from dptools.local.provision import FunctionWiring, Schedule
from tests.conftest import FIXTURES, wait_for


def test_a_due_schedule_puts_its_event_on_the_functions_queue(mocked_aws: Settings) -> None:
    sqs = client("sqs", mocked_aws)
    queue = sqs.create_queue(QueueName="recorder")["QueueUrl"]
    soon = datetime.now(UTC) + timedelta(seconds=2)
    schedule = Schedule(
        "Soon",
        f"at({soon:%Y-%m-%dT%H:%M:%S})",
        {"source": "fixtures.schedule", "detail-type": "Scheduled Event", "detail": {"name": "clock"}},
    )
    never = Schedule("Off", "rate(1 minute)", {"detail": {"name": "off"}}, enabled=False)
    wiring = FunctionWiring("RecorderFunction", queue, queue, schedules=[schedule, never])
    dispatcher = Dispatcher(
        LocalDeployment(FIXTURES / "template.yaml", "http://127.0.0.1:1"), [wiring], schedules=True
    )
    thread = threading.Thread(target=dispatcher.run_schedules, daemon=True)
    thread.start()
    received: list[dict[str, object]] = []

    def fired() -> bool:
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
            received.append(json.loads(message["Body"]))
        return bool(received)

    try:
        wait_for(fired, 10, "the schedule to fire")
    finally:
        dispatcher.stopping.set()
        thread.join(5)
    assert [(e["detail"], e["time"]) for e in received] == [({"name": "clock"}, f"{soon:%Y-%m-%dT%H:%M:%SZ}")]


def test_a_scheduler_input_gets_the_firings_context_attributes() -> None:
    template = {"source": "reviews", "scheduled_time": "<aws.scheduler.scheduled-time>"}
    when = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert scheduled_event(template, when) == {"source": "reviews", "scheduled_time": "2026-11-24T08:00:00Z"}
    assert "time" not in scheduled_event(template, when)
