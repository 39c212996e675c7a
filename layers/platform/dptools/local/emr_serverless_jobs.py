"""EMR Serverless on the local stack: `emr-serverless:startJobRun.sync` runs the job file as a process here.

moto's Step Functions lists EMR Serverless as unsupported (and moto's own job runs run nothing), so the
local AWS binds that integration to `LocalSparkJobs` (`dptools.local.stepfunctions`). A job run's
EntryPoint `s3://<artifacts bucket>/spark/<path>` is the checkout's `<path>` (what `make deploy` uploads
there), run as `python <path> <EntryPointArguments>` on local Spark. The job builds its session from its
environment (`dataplatform.spark.session.build_session`), so it gets the stack's settings as
environment variables: `dp stack up` writes them to `job_env_file(...)`, beside the local AWS's state,
and every run reads them, as an EMR job reads its application's configuration. Runs go to warm drivers
(`dptools.local.warm_spark`), as an application's pre-initialized capacity would: each run builds its own
session, but the JVM has started already. SparkSubmitParameters are
EMR's: locally the session factory makes the same catalog. Each run's output goes to
`<log dir>/<job run id>.log`.

A job that exits with `GATE_FAILED_EXIT` failed a quality gate: its error is `Transforms.GateFailed`,
which the state machine does not retry; any other non-zero exit is `EMRServerless.JobRunFailed`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataplatform.settings import Settings, settings_env
from dataplatform.transforms.job_exit import GATE_FAILED_EXIT, GATE_FAILED_MARKER
from dptools.local.stepfunctions import TaskCall, TaskFailed
from dptools.local.warm_spark import WarmDrivers

START_JOB_RUN_SYNC = "arn:aws:states:::emr-serverless:startJobRun.sync"
SPARK_PREFIX = "/spark/"
OUTPUT_LINES = 20  # of a failed run's output, in the task's cause


def job_env_file(aws_state: Path) -> Path:
    return aws_state.parent / "spark-job-env.json"


def write_job_env(aws_state: Path, settings: Settings) -> None:
    """What local job runs get as their environment: these settings (the stack's, at `dp stack up`)."""
    path = job_env_file(aws_state)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings_env(settings), indent=2, sort_keys=True))


def local_entry_point(entry_point: str, root: Path) -> Path:
    """`s3://<bucket>/spark/jobs/x.py` -> `<root>/jobs/x.py`, which must exist in the checkout."""
    if not entry_point.startswith("s3://") or SPARK_PREFIX not in entry_point:
        raise ValueError(f"EntryPoint {entry_point!r} is not s3://<artifacts bucket>{SPARK_PREFIX}<path>")
    path = root / entry_point.split(SPARK_PREFIX, 1)[1]
    if not path.resolve().is_relative_to(root.resolve()) or not path.is_file():
        raise ValueError(f"EntryPoint {entry_point!r} names no file of the checkout ({path})")
    return path


def gate_message(output: str) -> str:
    """What the job reported after GATE_FAILED_MARKER (its last such report), to the end of its output."""
    _, marker, message = output.rpartition(GATE_FAILED_MARKER)
    return message.strip() if marker else output.strip()[-2000:]


def _tail(log: Path, lines: int = OUTPUT_LINES) -> str:
    with open(log, errors="replace") as text:
        return "".join(deque(text, maxlen=lines)).strip()


@dataclass(frozen=True)
class LocalSparkJobs:
    """The executor of `emr-serverless:startJobRun.sync` on the local AWS."""

    env_file: Path
    log_dir: Path
    root: Path  # the checkout: an EntryPoint's path is relative to it
    poll_s: float = 0.5
    drivers: WarmDrivers = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "drivers", WarmDrivers(self.log_dir))

    def __call__(self, call: TaskCall) -> dict[str, Any]:
        params = call.parameters
        for required in ("ApplicationId", "ExecutionRoleArn", "JobDriver"):
            if not params.get(required):
                raise TaskFailed("EMRServerless.ValidationException", f"{required} is required")
        submit = params["JobDriver"].get("SparkSubmit") or {}
        try:
            job = local_entry_point(str(submit.get("EntryPoint", "")), self.root)
            env = json.loads(self.env_file.read_text())
        except ValueError as exc:
            raise TaskFailed("EMRServerless.ValidationException", str(exc)) from exc
        except OSError as exc:
            raise TaskFailed("EMRServerless.InternalServerException", f"no job environment: {exc}") from exc
        args = [str(a) for a in submit.get("EntryPointArguments", [])]

        run_id = uuid.uuid4().hex[:16]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{run_id}.log"
        started = time.time()
        exit_code = self.drivers.run(
            job, args, {**os.environ, **env}, log, self.root, call.is_cancelled, self.poll_s
        )
        state = {0: "SUCCESS", None: "CANCELLED"}.get(exit_code, "FAILED")
        run = {
            "ApplicationId": params["ApplicationId"],
            "JobRunId": run_id,
            "Arn": f"arn:aws:emr-serverless:{call.region}:{call.account}:/applications/"
            f"{params['ApplicationId']}/jobruns/{run_id}",
            "Name": params.get("Name", ""),
            "ExecutionRole": params["ExecutionRoleArn"],
            "JobDriver": params["JobDriver"],
            "State": state,
            "StateDetails": "" if exit_code == 0 else f"exit code {exit_code}; output in {log}",
            "CreatedAt": int(started * 1000),
            "UpdatedAt": int(time.time() * 1000),
        }
        if exit_code == GATE_FAILED_EXIT:
            raise TaskFailed("Transforms.GateFailed", gate_message(log.read_text(errors="replace")))
        if exit_code != 0:
            raise TaskFailed("EMRServerless.JobRunFailed", f"{run['StateDetails']}\n{_tail(log)}")
        return run
