"""api_ingest beyond one Lambda, on the local stack: `dp ingest run` as a plain process that resumes
after a kill, and the Batch path (ApiIngestBatchStateMachine, `batch:submitJob.sync`, the job's
container run as a local process by dptools.local.batch_jobs).

GIVEN the local stack with its sample reviews API (and per-test APIs on loopback),
WHEN a window is pulled by a process SIGKILLed twice and restarted, by the Lambda and by the process,
or for a source marked `runner: batch` through the state machine,
THEN every record lands exactly once, both runners write the same table, and batch sources reach Batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from typer.testing import CliRunner

from dataplatform.api_ingest.request import iso
from dataplatform.api_ingest.run import IngestDeps
from dataplatform.aws import client
from dataplatform.settings import Profile, Settings
from dptools.cli.api_ingest import BATCH_STATE_MACHINE
from dptools.cli.main import app
from dptools.executions import execution_runner
from dptools.local.paths import DP_LOCAL_DIR, api_sources_dir
from dptools.local.stack import LocalStack
from dptools.sam.template import load_template
from dptools.samples.reviews_api import EPOCH, ReviewsApi
from tests.conftest import ROOT
from tests.integration.test_api_ingest import (
    REVIEWS,
    assert_each_review_once,
    entry_time,
    make_source,
    rows,
    serve,
)

__all__ = ["serve"]  # the fixture, shared with test_api_ingest.py

DP = Path(sys.executable).parent / "dp"
HISTORY = "review_history"  # functions/api_ingest/sources/review_history.yaml: `runner: batch`
HISTORY_TABLE = f"raw.{HISTORY}__reviews"


@pytest.fixture
def on_stack(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """`dp` in this process and in child processes finds the test session's stack."""
    monkeypatch.setenv(DP_LOCAL_DIR, str(local_stack.paths.root))
    return local_stack


def in_window(table: pa.Table, start: str, end: str, cursor: str = "updated_at") -> pa.Table:
    column = table.column(cursor)
    return table.filter(pc.and_(pc.greater_equal(column, start), pc.less(column, end)))


def review_ids(start: str, end: str) -> set[int]:
    """The stack API's reviews changed in [start, end): entry j is minute j after EPOCH, review j + 1."""

    def entry(at: str) -> int:
        return int((datetime.fromisoformat(at) - EPOCH) / timedelta(minutes=1))

    return set(range(entry(start) + 1, entry(end) + 1))


def write_definitions(directory: Path, *definitions: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for definition in definitions:
        (directory / f"{definition['name']}.yaml").write_text(yaml.safe_dump(definition))
    return directory


# ------------------------------------------------------------------ dp ingest run, killed and resumed
class DpRun:
    """`dp ingest run` as a child process whose progress lines are read as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(DP), "ingest", "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )

    def committed(self) -> list[str]:
        return [line for line in self.lines if line.startswith("chunk ") and ": committed," in line]

    def read_until(self, condition: Callable[[DpRun], bool]) -> bool:
        """Read lines until `condition` holds (True) or the process ends (False)."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if condition(self):
                return True
        self.process.wait(60)
        return False

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()


@pytest.fixture
def dp_runs() -> Iterator[list[DpRun]]:
    started: list[DpRun] = []
    yield started
    for run in started:
        run.stop()


def test_dp_ingest_run_killed_twice_and_restarted_lands_each_record_once(
    serve: Callable[..., ReviewsApi],
    on_stack: LocalStack,
    stack_settings: Settings,
    dp_runs: list[DpRun],
    tmp_path: Path,
) -> None:
    # 1,440 reviews in 24 one-hour chunks of 60; three pages a chunk at 20 requests a second client-side.
    api = serve(total=1_440)
    source = make_source(
        stack_settings,
        "killed_run",
        api,
        {**REVIEWS, "params": {**REVIEWS["params"], "limit": 25}},
        rate_limit={"requests_per_second": 20},
    )
    sources = write_definitions(tmp_path / "sources", source.model_dump(mode="json"))
    window = ["--start", entry_time(0).isoformat(), "--end", entry_time(1_440).isoformat()]
    args = ["killed_run", "reviews", *window, "--chunk", "PT1H", "--sources", str(sources)]
    env = {**os.environ, DP_LOCAL_DIR: str(on_stack.paths.root), "PYTHONUNBUFFERED": "1"}

    first = DpRun(args, env)
    dp_runs.append(first)
    assert first.read_until(lambda run: len(run.committed()) >= 4), "\n".join(first.lines)
    first.kill()

    second = DpRun(args, env)
    dp_runs.append(second)
    assert second.read_until(lambda run: len(run.committed()) >= 4), "\n".join(second.lines)
    second.kill()

    third = DpRun(args, env)
    dp_runs.append(third)
    assert not third.read_until(lambda run: False)
    assert third.process.returncode == 0, "\n".join(third.lines)
    skipped = [line for line in third.lines if "committed before, skipped" in line]
    assert len(skipped) >= 8, "the restart resumed after the committed chunks"
    assert third.lines[-1].startswith("run done: 24 chunk(s)")

    table = rows(stack_settings, "raw.killed_run__reviews")
    assert_each_review_once(table, set(range(1, 1_441)))
    deps = IngestDeps.from_settings(stack_settings, sources)
    assert deps.state.watermark("killed_run", "reviews") is None, "a window never moves the live watermark"
    start, end = iso(entry_time(0)), iso(entry_time(1_440))
    assert deps.state.backfill_cursor("killed_run", "reviews", start, end) == end


# ------------------------------------------------------------------ the Lambda and the process agree
def test_the_lambda_and_the_process_write_identical_tables_for_one_window(
    on_stack: LocalStack, stack_settings: Settings, tmp_path: Path
) -> None:
    start, end = "2026-01-02T00:00:00Z", "2026-01-05T00:00:00Z"  # 3 chunks of a day
    runner = CliRunner()
    by_lambda = runner.invoke(
        app, ["ingest", "backfill", HISTORY, "--runner", "lambda", "--start", start, "--end", end]
    )
    assert by_lambda.exit_code == 0, by_lambda.output
    assert "chunk 3/3" in by_lambda.output

    # The same definition under another name, so the process writes a table of its own.
    twin = yaml.safe_load((api_sources_dir() / f"{HISTORY}.yaml").read_text())
    sources = write_definitions(tmp_path / "sources", {**twin, "name": "review_twin"})
    by_process = runner.invoke(
        app,
        [
            "ingest",
            "run",
            "review_twin",
            "reviews",
            "--start",
            start,
            "--end",
            end,
            "--sources",
            str(sources),
        ],
    )
    assert by_process.exit_code == 0, by_process.output

    def comparable(table: str, source: str) -> pa.Table:
        data = in_window(rows(stack_settings, table), start, end).drop_columns(["_ingested_at"])
        run_ids = pc.replace_substring(data.column("_run_id"), f"{source}.", "<source>.")
        data = data.set_column(data.schema.get_field_index("_run_id"), "_run_id", run_ids)
        return data.sort_by([("review_id", "ascending"), ("updated_at", "ascending")])

    lambda_rows = comparable(HISTORY_TABLE, HISTORY)
    process_rows = comparable("raw.review_twin__reviews", "review_twin")
    assert lambda_rows.num_rows == len(review_ids(start, end)) > 0
    assert process_rows.schema == lambda_rows.schema
    assert process_rows.equals(lambda_rows)


# ------------------------------------------------------------------ runner: batch goes to Batch
def test_a_backfill_of_a_batch_source_runs_as_a_batch_job(
    on_stack: LocalStack, stack_settings: Settings
) -> None:
    start, end = "2026-01-06T00:00:00Z", "2026-01-08T00:00:00Z"
    result = CliRunner().invoke(app, ["ingest", "backfill", HISTORY, "--start", start, "--end", end])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith(f"batch job: reviews [{start}, {end}) SUCCEEDED, job ") for line in lines)
    assert not [line for line in lines if line.startswith("chunk ")], "no Lambda chunk was sent"

    assert_each_review_once(
        in_window(rows(stack_settings, HISTORY_TABLE), start, end), review_ids(start, end)
    )
    state = IngestDeps.from_settings(stack_settings, api_sources_dir()).state
    assert state.backfill_cursor(HISTORY, "reviews", start, end) == end, "the job checkpointed its chunks"


def test_the_schedule_of_a_batch_source_starts_the_state_machine_and_its_job(
    on_stack: LocalStack, stack_settings: Settings
) -> None:
    """The schedule's input, read from template.yaml, as EventBridge Scheduler would deliver it."""
    machine = load_template(ROOT / "template.yaml")["Resources"][BATCH_STATE_MACHINE]["Properties"]
    schedule = machine["Events"]["ReviewHistoryReviews"]["Properties"]
    payload = json.loads(schedule["Input"].replace("<aws.scheduler.scheduled-time>", "2026-01-21T00:00:00Z"))
    state = IngestDeps.from_settings(stack_settings, api_sources_dir()).state
    state.advance_watermark(HISTORY, "reviews", "2026-01-20T00:00:00Z", "test-live-pull-so-far")

    outcome = execution_runner(BATCH_STATE_MACHINE, Profile.LOCAL, "unused")("scheduled-2026-01-21", payload)
    assert outcome.succeeded, (outcome.error, outcome.cause)
    assert set(outcome.output) == {"JobId", "JobName", "Status", "LogStreamName"}
    assert outcome.output["JobName"] == f"api-ingest-{HISTORY}-reviews"
    assert outcome.output["Status"] == "SUCCEEDED" and Path(outcome.output["LogStreamName"]).is_file()

    assert state.watermark(HISTORY, "reviews") == "2026-01-20T23:59:00Z", "moved as a scheduled Lambda run"
    table = rows(stack_settings, HISTORY_TABLE)
    assert_each_review_once(
        in_window(table, "2026-01-20T00:00:00Z", "2026-01-21T00:00:00Z"),
        review_ids("2026-01-20T00:00:00Z", "2026-01-21T00:00:00Z"),
    )
    history = client("stepfunctions", stack_settings).get_execution_history(executionArn=outcome.arn)[
        "events"
    ]
    submitted = [e for e in history if e["type"] == "TaskSucceeded"]
    assert submitted and submitted[0]["taskSucceededEventDetails"]["resource"] == "submitJob.sync"
    assert submitted[0]["taskSucceededEventDetails"]["resourceType"] == "batch"


def test_a_failing_job_fails_the_execution_with_the_job_as_its_cause(
    on_stack: LocalStack, stack_settings: Settings
) -> None:
    """Bad input exits 2, which the job definition's retry strategy does not retry."""
    payload = {
        "source": "nope",
        "endpoint": "reviews",
        "window": {"start": "2026-01-01", "end": "2026-01-02"},
    }
    outcome = execution_runner(BATCH_STATE_MACHINE, Profile.LOCAL, "unused")("bad-input", payload)
    assert outcome.status == "FAILED" and outcome.error == "States.TaskFailed"
    job = json.loads(outcome.cause or "{}")
    assert job["Status"] == "FAILED" and len(job["Attempts"]) == 1 and job["Container"]["ExitCode"] == 2
    assert "no source definition 'nope'" in Path(job["Container"]["LogStreamName"]).read_text()
