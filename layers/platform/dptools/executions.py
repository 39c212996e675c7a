"""Run one of the template's state machines and wait for its execution to end: on the local stack (moto
interprets it; tasks it cannot run go to local executors, see dptools.local.stepfunctions) or in a
deployed stack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dataplatform.aws import client
from dataplatform.settings import Profile, load_settings
from dptools.local.paths import project_root
from dptools.local.stack import LocalStack
from dptools.sam.deployed import physical_id

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


def execution_runner(logical_id: str, profile: Profile, stack_name: str) -> RunExecution:
    """A function that starts an execution (its name, its input) of the template's state machine
    `logical_id` and returns how it ended."""
    if profile is Profile.LOCAL:
        stack = LocalStack(template=project_root() / "template.yaml")
        settings = stack.settings()  # StackError when the stack is not up
        arn = stack.deployment().get_att(logical_id, "Arn")
    else:
        settings = load_settings(profile="aws")
        arn = physical_id(stack_name, logical_id, settings)  # a state machine's is its ARN
    sfn = client("stepfunctions", settings)

    def run(name: str, payload: dict[str, Any]) -> ExecutionOutcome:
        execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
        while (described := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] in (
            "RUNNING",
            "PENDING_REDRIVE",
        ):
            time.sleep(POLL_S)
        return ExecutionOutcome(
            arn=execution["executionArn"],
            status=described["status"],
            output=json.loads(described["output"]) if described.get("output") else None,
            error=described.get("error"),
            cause=described.get("cause"),
        )

    return run
