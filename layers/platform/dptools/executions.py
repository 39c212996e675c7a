"""Run one of the template's state machines and wait for its execution to end: on the local stack (moto
interprets it; tasks it cannot run go to local executors, see dptools.local.stepfunctions) or in a
deployed stack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataplatform.aws import client
from dataplatform.settings import Profile, load_settings
from dptools.local.paths import project_root
from dptools.local.stack import LocalStack
from dptools.sam.deployed import physical_id

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

POLL_S = 1.0


@dataclass(frozen=True)
class ExecutionOutcome:
    arn: str
    status: str  # SUCCEEDED, FAILED, TIMED_OUT or ABORTED
    output: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


RunExecution = Callable[[str, dict[str, Any]], ExecutionOutcome]
OnEvents = Callable[[Sequence["HistoryEventTypeDef"]], None]


def state_machine(logical_id: str, profile: Profile, stack_name: str) -> tuple[SFNClient, str]:
    """A Step Functions client of the profile and the ARN of the template's state machine `logical_id`."""
    if profile is Profile.LOCAL:
        stack = LocalStack(template=project_root() / "template.yaml")
        settings = stack.settings()  # StackError when the stack is not up
        arn = stack.deployment().get_att(logical_id, "Arn")
    else:
        settings = load_settings(profile="aws")
        arn = physical_id(stack_name, logical_id, settings)  # a state machine's is its ARN
    return client("stepfunctions", settings), arn


def execution_runner(
    logical_id: str, profile: Profile, stack_name: str, on_events: OnEvents | None = None
) -> RunExecution:
    """A function that starts an execution (its name, its input) of the template's state machine
    `logical_id` and returns how it ended; `on_events` gets its new history events at every poll."""
    sfn, arn = state_machine(logical_id, profile, stack_name)

    def run(name: str, payload: dict[str, Any]) -> ExecutionOutcome:
        execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
        seen = 0
        while True:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if on_events is not None:
                events = history(sfn, execution["executionArn"])
                on_events(events[seen:])
                seen = len(events)
            if described["status"] not in ("RUNNING", "PENDING_REDRIVE"):
                break
            time.sleep(POLL_S)
        return ExecutionOutcome(
            arn=execution["executionArn"],
            status=described["status"],
            output=json.loads(described["output"]) if described.get("output") else None,
            error=described.get("error"),
            cause=described.get("cause"),
        )

    return run


def history(sfn: SFNClient, execution_arn: str) -> list[HistoryEventTypeDef]:
    """The execution's history events, oldest first."""
    events: list[HistoryEventTypeDef] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events
