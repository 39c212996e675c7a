"""State machines on the local AWS: moto's interpreter runs the ASL, local executors run the tasks it can't.

moto (`moto.stepfunctions.parser`) interprets ASL for real once execution is enabled: Choice, Map,
Parallel, Retry, Catch, intrinsic functions, `aws-sdk` tasks. Some service integrations it cannot run
here: `.sync` Batch jobs start containers (Docker), EMR Serverless and others are unsupported. For those
a local executor can be registered per integration resource, e.g.

    register("arn:aws:states:::batch:submitJob.sync", run_job)

The seam: while moto parses a definition (at each execution's start), its preprocessor asks
`state_task_for(resource)` for each Task state's implementation (module
`moto.stepfunctions.parser.asl.parse.preprocessor`, which calls `state_task_service_for` in
`.../state_task/service/state_task_service_factory.py` for service integrations). `bind()` wraps that
name: a Task whose resource is registered becomes a `LocalTask`, and every other Task stays moto's own.
A `LocalTask` is a moto `StateTaskService`, so what moto does around a task still applies: Parameters
(paths and intrinsic functions) are evaluated before the executor sees them; ResultSelector, ResultPath,
OutputPath, Retry, Catch and TimeoutSeconds work on what it returns or raises; the execution history
records TaskScheduled, TaskStarted and TaskSucceeded or TaskFailed.

An executor runs in moto's task thread, in the process that serves the local AWS. It gets a `TaskCall`
and returns the task's result (JSON-like), or raises `TaskFailed(error, cause)`, whose error name is
what Retry and Catch match. A long executor polls `TaskCall.is_cancelled`: it turns true when the
state's TimeoutSeconds pass or the execution is stopped, and the executor should then stop its work.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

# What a registered resource is keyed by: the ARN past `arn:<partition>:states:<region>:<account>:`,
# so `arn:aws:states:::batch:submitJob.sync` and its regional spelling are one resource.
_ARN_PREFIX_FIELDS = 5
_executors: dict[str, LocalExecutor] = {}
_lock = threading.Lock()
_bound = False


@dataclass(frozen=True)
class TaskCall:
    """A Task state's call of a local executor."""

    resource: str  # as the definition writes it
    parameters: dict[str, Any]  # the state's Parameters, evaluated
    region: str
    account: str
    is_cancelled: Callable[[], bool]


LocalExecutor = Callable[[TaskCall], Any]


class TaskFailed(Exception):
    """Raised by an executor: the task fails with `error` (what Retry and Catch match) and `cause`."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


def integration_key(resource_arn: str) -> str:
    """`batch:submitJob.sync` for `arn:aws:states:::batch:submitJob.sync` (any region or account)."""
    parts = resource_arn.split(":", _ARN_PREFIX_FIELDS)
    if len(parts) <= _ARN_PREFIX_FIELDS or parts[2] != "states":
        raise ValueError(f"{resource_arn!r} is not a Step Functions service integration resource")
    return parts[_ARN_PREFIX_FIELDS]


def enable_execution(moto_port: int | None = None) -> None:
    """Make moto run state machines for real. In the moto server, give its port: the interpreter's own
    AWS clients (for `aws-sdk` tasks) call `localhost:$MOTO_PORT`."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    if moto_port is not None:
        os.environ["MOTO_PORT"] = str(moto_port)


def register(resource_arn: str, executor: LocalExecutor) -> None:
    """Run Tasks with this integration resource through `executor` (from the next execution on)."""
    bind()
    with _lock:
        _executors[integration_key(resource_arn)] = executor


def unregister(resource_arn: str) -> None:
    with _lock:
        _executors.pop(integration_key(resource_arn), None)


def registered() -> list[str]:
    with _lock:
        return sorted(_executors)


def bind() -> None:
    """Wrap moto's Task factory once per process, so registered resources reach their executors."""
    global _bound
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ServiceResource,
    )
    from moto.stepfunctions.parser.asl.parse import preprocessor

    with _lock:
        if _bound:
            return
        moto_task_for = preprocessor.state_task_for

        def state_task_for(resource: Any) -> Any:
            if isinstance(resource, ServiceResource):
                with _lock:
                    executor = _executors.get(integration_key(resource.resource_arn))
                if executor is not None:
                    return _local_task_class()(executor)
            return moto_task_for(resource)

        preprocessor.state_task_for = state_task_for
        _bound = True


@cache
def _local_task_class() -> type:
    """`LocalTask`, defined on first use: moto's parser is heavy, and only the local AWS needs it."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    class LocalTask(StateTaskService):
        """A Task whose integration runs in a local executor rather than in moto."""

        def __init__(self, executor: LocalExecutor) -> None:
            super().__init__()
            self._executor = executor

        def _validate_service_integration_is_supported(self) -> None:
            """Any Parameters: the executor validates what it is given, as the service would."""

        def _get_sfn_resource(self) -> str:
            condition = self.resource.condition
            action: str = super()._get_sfn_resource()
            return f"{action}.{condition}" if condition else action

        def _eval_service_task(
            self,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict[str, Any],
            state_credentials: Any,
        ) -> None:
            call = TaskCall(
                resource=self.resource.resource_arn,
                parameters=normalised_parameters,
                region=resource_runtime_part.region,
                account=resource_runtime_part.account,
                is_cancelled=lambda: not env.is_running(),
            )
            try:
                output = self._executor(call)
            except TaskFailed as failed:
                error_name = (
                    StatesErrorName.from_name(failed.error)
                    if failed.error.startswith("States.")
                    else CustomErrorName(failed.error)
                )
                details = TaskFailedEventDetails(
                    error=failed.error,
                    cause=failed.cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=error_name,
                        event_type=HistoryEventType.TaskFailed,
                        event_details=cast(EventDetails, {"taskFailedEventDetails": details}),
                    )
                ) from failed
            env.stack.append(output)

    return LocalTask
