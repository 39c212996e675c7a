"""The local executor of `emr-serverless:startJobRun.sync` (dptools.local.emr_serverless_jobs): the
EntryPoint's file of the checkout runs as a process with its arguments and the stack's environment; a
failed gate and other failures are told apart."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dataplatform.settings import Profile, Settings
from dataplatform.transforms.job_exit import GATE_FAILED_EXIT, GATE_FAILED_MARKER
from dptools.local.emr_serverless_jobs import START_JOB_RUN_SYNC, LocalSparkJobs, job_env_file, write_job_env
from dptools.local.stepfunctions import TaskCall, TaskFailed

JOB = """
import json, os, sys
args = sys.argv[1:]
if args[0] == "gate":
    print("some Spark logging", file=sys.stderr)
    print("{marker}analytics.fact_sales failed its gate:\\n  customer_known: 1 rows", file=sys.stderr)
    sys.exit({gate})
if args[0] == "crash":
    print("Traceback: boom", file=sys.stderr)
    sys.exit(1)
print(json.dumps({{"args": args, "profile": os.environ.get("DP_PROFILE"), "bucket": os.environ.get("DP_CURATED_BUCKET")}}))
"""


@pytest.fixture
def executor(tmp_path: Path) -> LocalSparkJobs:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs/fake.py").write_text(JOB.format(marker=GATE_FAILED_MARKER, gate=GATE_FAILED_EXIT))
    state = tmp_path / "aws" / "moto-state.pickle"
    settings = Settings(profile=Profile.LOCAL, endpoint_url="http://127.0.0.1:1", curated_bucket="curated")
    write_job_env(state, settings)
    return LocalSparkJobs(job_env_file(state), tmp_path / "logs", tmp_path, poll_s=0.05)


def call(*args: str, entry_point: str = "s3://artifacts/spark/jobs/fake.py") -> TaskCall:
    parameters: dict[str, Any] = {
        "ApplicationId": "app",
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/spark",
        "Name": "transforms-r-Staging",
        "JobDriver": {"SparkSubmit": {"EntryPoint": entry_point, "EntryPointArguments": list(args)}},
    }
    return TaskCall(
        "arn:aws:states:::emr-serverless:startJobRun.sync", parameters, "us-east-1", "1", lambda: False
    )


def test_the_entry_point_runs_with_its_arguments_and_the_stacks_settings(executor: LocalSparkJobs) -> None:
    run = executor(call("--step", "staging"))
    assert run["State"] == "SUCCESS" and run["Name"] == "transforms-r-Staging"
    output = (executor.log_dir / f"{run['JobRunId']}.log").read_text()
    assert json.loads(output) == {"args": ["--step", "staging"], "profile": "local", "bucket": "curated"}


def test_a_failed_gate_has_its_own_error_and_the_gates_message(executor: LocalSparkJobs) -> None:
    with pytest.raises(TaskFailed) as failed:
        executor(call("gate"))
    assert failed.value.error == "Transforms.GateFailed"
    assert failed.value.cause == "analytics.fact_sales failed its gate:\n  customer_known: 1 rows"


def test_any_other_failure_is_a_failed_job_run_with_its_output(executor: LocalSparkJobs) -> None:
    with pytest.raises(TaskFailed) as failed:
        executor(call("crash"))
    assert failed.value.error == "EMRServerless.JobRunFailed" and "Traceback: boom" in failed.value.cause


@pytest.mark.parametrize(
    "entry_point",
    ["s3://artifacts/spark/jobs/missing.py", "s3://artifacts/other/jobs/fake.py", "jobs/fake.py"],
)
def test_an_entry_point_outside_the_checkouts_spark_files_is_refused(
    executor: LocalSparkJobs, entry_point: str
) -> None:
    with pytest.raises(TaskFailed) as failed:
        executor(call(entry_point=entry_point))
    assert failed.value.error == "EMRServerless.ValidationException"


PID_JOB = "import os\nprint(os.getpid())\n"


def test_runs_reuse_a_warm_driver_until_the_platforms_code_changes(executor: LocalSparkJobs) -> None:
    (executor.root / "jobs/pid.py").write_text(PID_JOB)
    (executor.root / "jobs/helper.py").write_text("")

    def pid() -> int:
        run = executor(call(entry_point="s3://artifacts/spark/jobs/pid.py"))
        return int((executor.log_dir / f"{run['JobRunId']}.log").read_text())

    first = pid()
    assert pid() == first  # the same process: the JVM would have started once
    later = time.time() + 5
    os.utime(executor.root / "jobs/helper.py", (later, later))
    assert pid() != first  # it imported the old code: a new driver runs the job
    executor.drivers.stop()


def test_a_cancelled_run_stops_its_driver(executor: LocalSparkJobs) -> None:
    (executor.root / "jobs/slow.py").write_text("import time\ntime.sleep(60)\n")
    cancelled = {"now": False}
    parameters = call(entry_point="s3://artifacts/spark/jobs/slow.py").parameters
    task = TaskCall(START_JOB_RUN_SYNC, parameters, "us-east-1", "1", lambda: cancelled["now"])
    threading.Timer(1.0, lambda: cancelled.update(now=True)).start()
    started = time.monotonic()
    with pytest.raises(TaskFailed):  # the execution gave up on it: nobody reads the outcome
        executor(task)
    assert time.monotonic() - started < 30
    assert not executor.drivers._idle  # its driver was stopped, not kept for the next run
