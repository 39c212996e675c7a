"""`dp transform run [--redrive EXECUTION]`: a transform run through TransformStateMachine, one line per state.

A redrive is a new execution of the failed one's run: the same run id (so the same Iceberg branches,
where the states that succeeded left their work) and, in its input, those states marked done, which the
definition's Choice states skip. (moto's Step Functions has no RedriveExecution, and a new execution
works the same on AWS.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dataplatform.settings import SettingsError, parse_profile
from dptools.cli.console import BAD_INPUT, DEFAULT_STACK, ProfileOption, StackOption, fail, out, progress
from dptools.executions import execution_runner, history, state_machine
from dptools.local.processes import StackError
from dptools.sam.template import TemplateError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

TRANSFORM_STATE_MACHINE = "TransformStateMachine"
NAME_LIMIT = 80  # of an execution's name

app = typer.Typer(help="Transforms (jobs/transforms.py): raw -> staging -> analytics runs.")


def succeeded_tasks(events: Sequence[HistoryEventTypeDef]) -> set[str]:
    """The Task states that succeeded in an execution: each TaskSucceeded, back along its
    previousEventId chain to the TaskStateEntered that names it (Parallel branches interleave)."""
    by_id = {e["id"]: e for e in events}
    names: set[str] = set()
    for event in events:
        if event["type"] != "TaskSucceeded":
            continue
        step = by_id.get(event.get("previousEventId", 0))
        while step is not None and step["type"] != "TaskStateEntered":
            step = by_id.get(step.get("previousEventId", 0))
        if step is not None:
            names.add(step["stateEnteredEventDetails"]["name"])
    return names


def redrive_input(
    failed_name: str, failed_input: Mapping[str, Any], events: Sequence[HistoryEventTypeDef]
) -> dict[str, Any]:
    """The input of the execution that finishes a failed one's run."""
    done = {**failed_input.get("done", {}), **dict.fromkeys(sorted(succeeded_tasks(events)), True)}
    return {"run_id": failed_input.get("run_id") or failed_name, "done": done}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _show(events: Sequence[HistoryEventTypeDef]) -> None:
    """A line per Task state entered, succeeded or failed."""
    for event in events:
        kind = event["type"]
        if kind == "TaskStateEntered":
            progress(f"{event['stateEnteredEventDetails']['name']} started")
        elif kind == "TaskStateExited":
            out.print(f"  [green]ok[/] {event['stateExitedEventDetails']['name']}", highlight=False)
        elif kind == "TaskFailed":
            details = event["taskFailedEventDetails"]
            cause = (details.get("cause") or "").strip().splitlines()
            out.print(
                f"  [red]failed[/] {details.get('error', '')}: {cause[0] if cause else ''}", highlight=False
            )


@app.command("run")
def run(
    redrive: Annotated[
        str | None,
        typer.Option(
            help="A failed execution (name or ARN): finish its run, skipping the states that succeeded."
        ),
    ] = None,
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
) -> None:
    """Run the transforms: staging, dimensions, facts, aggregates, publish (TransformStateMachine)."""
    try:
        chosen = parse_profile(profile)
        sfn, arn = state_machine(TRANSFORM_STATE_MACHINE, chosen, stack_name)
        execute = execution_runner(TRANSFORM_STATE_MACHINE, chosen, stack_name, on_events=_show)
    except (SettingsError, StackError, TemplateError, ValueError) as exc:
        fail(str(exc), BAD_INPUT)
    payload: dict[str, Any] = {}
    name = f"dp-{_now()}"
    if redrive:
        failed_arn = (
            redrive
            if redrive.startswith("arn:")
            else f"{arn.replace(':stateMachine:', ':execution:')}:{redrive}"
        )
        try:
            failed = sfn.describe_execution(executionArn=failed_arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            fail(f"no execution {redrive} of {TRANSFORM_STATE_MACHINE}", BAD_INPUT)
        if failed["status"] not in ("FAILED", "TIMED_OUT", "ABORTED"):
            fail(f"execution {redrive} is {failed['status']}: only a failed run is redriven", BAD_INPUT)
        payload = redrive_input(
            failed["name"], json.loads(failed.get("input") or "{}"), history(sfn, failed_arn)
        )
        name = f"{failed['name'][: NAME_LIMIT - 25]}-redrive-{_now()}"
        skipped = ", ".join(payload["done"]) or "nothing"
        progress(f"redriving run {payload['run_id']}: skipping {skipped}")
    progress(f"execution {name} of {TRANSFORM_STATE_MACHINE}")
    outcome = execute(name, payload)
    if not outcome.succeeded:
        fail(
            f"{outcome.status}: {outcome.error or ''}: {(outcome.cause or '').strip()[:2000]}\n"
            f"execution {outcome.arn}; fix the cause, then `dp transform run --redrive {name}`"
        )
    result = outcome.output or {}
    if result.get("skipped"):
        fail(f"nothing ran: {result['skipped']}")
    out.print(f"[green]run {result.get('run_id', name)} published[/]", highlight=False)
