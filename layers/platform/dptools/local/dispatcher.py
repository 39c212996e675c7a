"""Delivers the local AWS's events to functions, as Lambda's async invocation does in AWS.

One thread per function drains its queue (fed by the function's EventBridge rules) and runs the handler
in-process. A failed event becomes visible again after a backoff; after three receives SQS moves it to
the function's dead-letter queue, where `dp stack status` shows it. With `--schedules` the dispatcher
also fires the template's schedules.

Run as `python -m dptools.local.dispatcher --wiring FILE` (`dp stack up` does it).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dataplatform.aws import client
from dataplatform.settings import load_settings
from dptools.local.deployment import LocalDeployment
from dptools.local.provision import FunctionWiring
from dptools.local.runtime import invoke_locally
from dptools.local.schedules import next_fire
from dptools.sam.functions import function_specs

log = logging.getLogger("dptools.local.dispatcher")
RETRY_BACKOFF_S = (1, 4, 10)


def scheduled_event(template: dict[str, Any], when: datetime) -> dict[str, Any]:
    """A schedule's event at one firing: EventBridge Scheduler's context attributes filled in (in its
    target input), or the `time` of an EventBridge envelope."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if "detail-type" in template:
        return {**template, "time": stamp}
    text = json.dumps(template)
    for attribute, value in {
        "<aws.scheduler.scheduled-time>": stamp,
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
    }.items():
        text = text.replace(attribute, value)
    return dict(json.loads(text))


class Dispatcher:
    def __init__(self, deployment: LocalDeployment, wirings: list[FunctionWiring], schedules: bool) -> None:
        self.deployment = deployment
        self.wirings = wirings
        self.fire_schedules = schedules
        self.settings = load_settings()
        self.specs = function_specs(deployment.template, deployment.template_path.parent)
        self.stopping = threading.Event()

    def drain(self, wiring: FunctionWiring) -> None:
        sqs = client("sqs", self.settings)
        spec = self.specs[wiring.function]
        while not self.stopping.is_set():
            response = sqs.receive_message(
                QueueUrl=wiring.queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=1,
                AttributeNames=["ApproximateReceiveCount"],
            )
            for message in response.get("Messages", []):
                attempt = int(message["Attributes"].get("ApproximateReceiveCount", "1"))
                try:
                    event = json.loads(message["Body"])
                    result = invoke_locally(spec, event, self.deployment, self.settings)
                except Exception:
                    log.error("%s failed (attempt %d):\n%s", wiring.function, attempt, traceback.format_exc())
                    backoff = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S)) - 1]
                    sqs.change_message_visibility(
                        QueueUrl=wiring.queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=backoff,
                    )
                    continue
                log.info("%s succeeded: %s", wiring.function, json.dumps(result, default=str)[:500])
                sqs.delete_message(QueueUrl=wiring.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def run_schedules(self) -> None:
        sqs = client("sqs", self.settings)
        due: dict[tuple[str, str], datetime | None] = {}
        now = datetime.now(UTC)
        for wiring in self.wirings:
            for schedule in wiring.schedules:
                if schedule.enabled:
                    due[(wiring.queue_url, schedule.name)] = next_fire(schedule.expression, now)
        events = {(w.queue_url, s.name): s.event for w in self.wirings for s in w.schedules}
        expressions = {(w.queue_url, s.name): s.expression for w in self.wirings for s in w.schedules}
        while not self.stopping.wait(1.0):
            now = datetime.now(UTC)
            for key, when in list(due.items()):
                if when is not None and when <= now:
                    event = scheduled_event(events[key], when)
                    sqs.send_message(QueueUrl=key[0], MessageBody=json.dumps(event))
                    log.info("schedule %s fired", key[1])
                    due[key] = next_fire(expressions[key], when)

    def run(self) -> None:
        threads = [
            threading.Thread(target=self.drain, args=(w,), name=w.function, daemon=True) for w in self.wirings
        ]
        if self.fire_schedules:
            threads.append(threading.Thread(target=self.run_schedules, name="schedules", daemon=True))
        for thread in threads:
            thread.start()
        log.info(
            "dispatching %d function(s), schedules %s",
            len(self.wirings),
            "on" if self.fire_schedules else "off",
        )
        self.stopping.wait()
        for thread in threads:
            thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--template", type=Path, required=True)
    parser.add_argument("--wiring", type=Path, required=True)
    parser.add_argument("--schedules", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    settings = load_settings()
    deployment = LocalDeployment(args.template, settings.require("endpoint_url"), region=settings.region)
    wirings = [FunctionWiring.from_json(w) for w in json.loads(args.wiring.read_text())]
    dispatcher = Dispatcher(deployment, wirings, args.schedules)
    signal.signal(signal.SIGTERM, lambda *_: dispatcher.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: dispatcher.stopping.set())
    dispatcher.run()


if __name__ == "__main__":
    main()
