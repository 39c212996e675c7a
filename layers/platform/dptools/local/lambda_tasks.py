"""`lambda:invoke` Task states on the local stack: the function's handler runs as `dp invoke` in a
process of the checkout, with the stack's settings (moto's own Lambda would need Docker).

The function is found by the physical name in its ARN among the template's functions; its result is
the task's `Payload`, and a handler that raised fails the task with the exception's type as the error,
as Step Functions reports a function error.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from dptools.local.deployment import LocalDeployment
from dptools.local.stepfunctions import TaskCall, TaskFailed
from dptools.local.task_process import run_task_process

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


class LocalLambdaInvoke:
    def __init__(self, job_env_file: Path, log_dir: Path, root: Path) -> None:
        self.job_env_file, self.log_dir, self.root = job_env_file, log_dir, root

    def _logical_id(self, function: str, env: dict[str, str]) -> str:
        deployment = LocalDeployment(self.root / "template.yaml", env["AWS_ENDPOINT_URL"])
        name = function.split(":function:")[-1].split(":")[0]
        for logical_id in deployment.of_type("AWS::Serverless::Function"):
            if logical_id == name or deployment.physical_name(logical_id) == name:
                return logical_id
        raise TaskFailed("Lambda.ResourceNotFoundException", f"Function not found: {function}")

    def __call__(self, call: TaskCall) -> dict[str, Any]:
        env: dict[str, str] = json.loads(self.job_env_file.read_text())
        logical_id = self._logical_id(str(call.parameters["FunctionName"]), env)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        invocation = uuid.uuid4().hex[:12]
        event, log = self.log_dir / f"{invocation}.json", self.log_dir / f"{invocation}.log"
        event.write_text(json.dumps(call.parameters.get("Payload", {})))
        argv = [sys.executable, "-c", "from dptools.cli.main import main; main()"]
        argv += ["invoke", logical_id, "-e", str(event)]
        argv += ["--endpoint-url", env["AWS_ENDPOINT_URL"]]
        code = run_task_process(argv, env, log, self.root, call.is_cancelled)
        lines = log.read_text(errors="replace").strip().splitlines()
        if code != 0:
            error = next(
                (ln.split(":")[0].split(".")[-1] for ln in reversed(lines) if "Error" in ln), "Unhandled"
            )
            raise TaskFailed(error, "\n".join(lines[-5:]) + f"\n(log: {log})")
        if not lines:
            raise TaskFailed("Lambda.Unknown", f"{logical_id} returned nothing (log: {log})")
        return {"StatusCode": 200, "Payload": json.loads(lines[-1])}
