"""AWS Batch on the local stack: `batch:submitJob.sync` runs the job's container as a process here.

moto's own Batch starts each job in a Docker container, which this machine does not have (such a job ends
FAILED at once), so the local AWS binds that Step Functions integration to `LocalBatchJobs` instead
(`dptools.local.stepfunctions`). Provisioning registers each of the template's job definitions on the
local AWS with its environment resolved onto the stack (as a function's is) and its image named
`local:<its Dockerfile>` (the resource's `Metadata.Dockerfile`). A submitted job then runs as Batch runs
it: the image's entry point (`dptools.local.images`) followed by the command, `Ref::name` placeholders
filled from the definition's and the submission's Parameters, ContainerOverrides' command and environment
winning, `MANAGED_BY_AWS=STARTED_BY_STEP_FUNCTIONS` set as Step Functions sets it, and the definition's
retry strategy applied (attempts; EvaluateOnExit by exit code). The job queue and compute environment
have no local counterpart: a job starts at once. Each job's output goes to `<log dir>/<job id>.log`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataplatform.aws import client
from dataplatform.settings import Settings
from dptools.local.deployment import LocalDeployment
from dptools.local.images import local_entrypoint, local_image
from dptools.local.runtime import local_env
from dptools.local.stepfunctions import TaskCall, TaskFailed
from dptools.local.task_process import run_task_process
from dptools.sam.template import TemplateError

if TYPE_CHECKING:
    from mypy_boto3_batch.type_defs import (
        ContainerPropertiesTypeDef,
        JobDefinitionTypeDef,
        RegisterJobDefinitionRequestTypeDef,
        RetryStrategyTypeDef,
    )

SUBMIT_JOB_SYNC = "arn:aws:states:::batch:submitJob.sync"
JOB_DEFINITION = "AWS::Batch::JobDefinition"
# Step Functions adds it to the container's environment of every job it runs with `.sync`.
MANAGED_BY_AWS = {"MANAGED_BY_AWS": "STARTED_BY_STEP_FUNCTIONS"}
STATUS_REASON = "Essential container in task exited"
_RUN_PROPERTIES = {
    "Type",
    "PlatformCapabilities",
    "Parameters",
    "RetryStrategy",
    "Command",
    "Environment",
    "ResourceRequirements",
}
# What a container sees of this machine's environment: enough to run, nothing of the caller's.
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "TMPDIR")


def _camel(value: Any) -> Any:
    """CloudFormation's property names (`EvaluateOnExit`) as the Batch API spells them (`evaluateOnExit`)."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def register_job_definition(deployment: LocalDeployment, logical_id: str, settings: Settings) -> str:
    """Register the template's job definition on the local AWS, unless its latest revision already says
    the same; returns its name."""
    resource = deployment.resources[logical_id]
    dockerfile = resource.get("Metadata", {}).get("Dockerfile")
    if not dockerfile:
        raise TemplateError(f"{logical_id}: Metadata.Dockerfile must name the image's Dockerfile")
    # Only what runs the job locally; the image, roles and network have no local counterpart.
    props = {k: deployment.resolve(v) for k, v in resource["Properties"].items() if k in _RUN_PROPERTIES}
    container = deployment.resolve(
        {k: v for k, v in resource["Properties"]["ContainerProperties"].items() if k in _RUN_PROPERTIES}
    )
    template_env = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
    properties: ContainerPropertiesTypeDef = {
        "image": local_image(Path(dockerfile)),
        "command": list(container.get("Command", [])),
        "resourceRequirements": _camel(container.get("ResourceRequirements", [])),
        "environment": [
            {"name": k, "value": v} for k, v in sorted(local_env(template_env, deployment, settings).items())
        ],
    }
    retry: RetryStrategyTypeDef = _camel(props.get("RetryStrategy", {}))
    name = deployment.physical_name(logical_id)
    request: RegisterJobDefinitionRequestTypeDef = {
        "jobDefinitionName": name,
        "type": props.get("Type", "container"),
        "platformCapabilities": props.get("PlatformCapabilities", []),
        "parameters": dict(props.get("Parameters", {})),
        "retryStrategy": retry,
        "containerProperties": properties,
    }
    batch = client("batch", settings)
    latest = _latest(
        batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
    )
    if latest is None or _registered(latest) != _registered(request):
        batch.register_job_definition(**request)
    return name


def _registered(definition: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a registration sets, to tell whether the latest revision already says it."""
    container = definition.get("containerProperties", {})
    return (
        container.get("image"),
        container.get("command"),
        sorted((e["name"], e["value"]) for e in container.get("environment", [])),
        definition.get("parameters", {}),
        definition.get("retryStrategy", {}),
    )


def _latest(definitions: list[JobDefinitionTypeDef]) -> JobDefinitionTypeDef | None:
    return max(definitions, key=lambda d: d["revision"], default=None)


def _fill(command: list[str], parameters: Mapping[str, str]) -> list[str]:
    """Batch's `Ref::name` placeholders, each a whole argument, replaced by the named parameter."""
    return [
        parameters.get(arg.removeprefix("Ref::"), arg) if arg.startswith("Ref::") else arg for arg in command
    ]


def _next_action(retry: Mapping[str, Any], exit_code: int) -> str:
    """RETRY or EXIT, by the first EvaluateOnExit rule that matches; RETRY when none does, as in Batch."""
    for rule in retry.get("evaluateOnExit", []):
        if (
            fnmatchcase(str(exit_code), rule.get("onExitCode", "*"))
            and fnmatchcase(STATUS_REASON, rule.get("onStatusReason", "*"))
            and fnmatchcase("", rule.get("onReason", "*"))
        ):
            return str(rule["action"]).upper()
    return "RETRY"


@dataclass(frozen=True)
class LocalBatchJobs:
    """The executor of `batch:submitJob.sync` on the local AWS, whose settings reach that same AWS."""

    settings: Settings
    log_dir: Path
    poll_s: float = 0.5

    def __call__(self, call: TaskCall) -> dict[str, Any]:
        params = call.parameters
        for required in ("JobName", "JobQueue", "JobDefinition"):
            if not params.get(required):
                raise TaskFailed("Batch.ClientException", f"{required} is required")
        definition = self._definition(str(params["JobDefinition"]))
        container = definition.get("containerProperties", {})
        overrides = params.get("ContainerOverrides") or {}
        parameters = {**definition.get("parameters", {}), **params.get("Parameters", {})}
        command = _fill(overrides.get("Command") or container.get("command", []), parameters)
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        for pair in [*container.get("environment", []), *overrides.get("Environment", [])]:
            env[pair.get("name") or pair["Name"]] = pair.get("value") or pair.get("Value", "")
        env.update(MANAGED_BY_AWS)
        try:
            argv = [*local_entrypoint(container.get("image", "")), *command]
        except ValueError as exc:
            raise TaskFailed("Batch.ClientException", str(exc)) from exc

        job_id = str(uuid.uuid4())
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{job_id}.log"
        retry = definition.get("retryStrategy", {})
        attempts: list[dict[str, Any]] = []
        for _ in range(max(1, int(retry.get("attempts", 1)))):
            started = time.time()
            exit_code = self._attempt(argv, env, log, call.is_cancelled)
            attempts.append(
                {
                    "Container": {"ExitCode": exit_code, "LogStreamName": str(log)},
                    "StartedAt": int(started * 1000),
                    "StoppedAt": int(time.time() * 1000),
                    "StatusReason": STATUS_REASON,
                }
            )
            if exit_code == 0 or exit_code is None or _next_action(retry, exit_code) == "EXIT":
                break
        job = {
            "JobArn": f"arn:aws:batch:{call.region}:{call.account}:job/{job_id}",
            "JobId": job_id,
            "JobName": params["JobName"],
            "JobQueue": params["JobQueue"],
            "JobDefinition": definition["jobDefinitionArn"],
            "Parameters": parameters,
            "Status": "SUCCEEDED" if attempts[-1]["Container"]["ExitCode"] == 0 else "FAILED",
            "StatusReason": STATUS_REASON,
            "Attempts": attempts,
            "Container": {
                "Image": container.get("image"),
                "Command": command,
                "ExitCode": attempts[-1]["Container"]["ExitCode"],
                "LogStreamName": str(log),
            },
        }
        if job["Status"] != "SUCCEEDED":
            raise TaskFailed("States.TaskFailed", json.dumps(job))
        return job

    def _definition(self, identifier: str) -> JobDefinitionTypeDef:
        """By ARN, `name:revision` or name (its latest active revision), as SubmitJob takes it."""
        name, _, revision = identifier.rsplit("/", 1)[-1].partition(":")
        found = client("batch", self.settings).describe_job_definitions(jobDefinitionName=name)[
            "jobDefinitions"
        ]
        if revision:
            found = [d for d in found if str(d["revision"]) == revision]
        else:
            found = [d for d in found if d.get("status") == "ACTIVE"]
        latest = _latest(found)
        if latest is None:
            raise TaskFailed("Batch.ClientException", f"Job definition {identifier} does not exist")
        return latest

    def _attempt(
        self, argv: list[str], env: Mapping[str, str], log: Path, is_cancelled: Callable[[], bool]
    ) -> int | None:
        return run_task_process(argv, env, log, self.log_dir, is_cancelled, self.poll_s)
