"""`dp ingest backfill` and `dp ingest run`: REST source pulls through the Lambda, a Batch job, or this process."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, cast, get_args

import typer
from pydantic import TypeAdapter, ValidationError

from dataplatform.api_ingest.definition import DefinitionError, Endpoint, Runner, find_source, load_sources
from dataplatform.api_ingest.request import IngestEvent, Window, backfill_chunks, iso
from dataplatform.api_ingest.resumable import ChunkOutcome, run_resumable
from dataplatform.api_ingest.run import IngestDeps, RunFailed
from dataplatform.settings import SettingsError, parse_profile
from dptools.cli.console import BAD_INPUT, DEFAULT_STACK, ProfileOption, StackOption, fail, out, progress
from dptools.executions import RunExecution, execution_runner
from dptools.functions import function_sender, function_settings
from dptools.local.paths import api_sources_dir
from dptools.local.processes import StackError
from dptools.sam.template import TemplateError

API_INGEST_FUNCTION = "ApiIngestFunction"
BATCH_STATE_MACHINE = "ApiIngestBatchStateMachine"
# What a bad command line raises before any work: each becomes one line and exit code 2.
BAD_INPUT_ERRORS = (ValidationError, DefinitionError, ValueError, SettingsError, StackError, TemplateError)

app = typer.Typer(help="REST API ingestion (functions/api_ingest): backfills and long pulls.")

SourceArgument = Annotated[
    str, typer.Argument(help="Source name (functions/api_ingest/sources/<name>.yaml).")
]


def _one_line(exc: Exception) -> str:
    """The error as one line; a pydantic error as its fields and their problems."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where + ': ' if where else ''}{error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def _runner(value: str | None) -> Runner | None:
    if value is not None and value not in get_args(Runner):
        raise ValueError(f"--runner must be one of {', '.join(get_args(Runner))}, not {value!r}")
    return cast(Runner | None, value)


def _duration(value: str | None) -> timedelta | None:
    try:
        return TypeAdapter(timedelta).validate_python(value) if value else None
    except ValidationError:
        raise ValueError(f"--chunk {value!r} is not an ISO-8601 duration (PT6H, P1D)") from None


def _label(window: Window) -> str:
    return f"[{iso(window.start)}, {iso(window.end)})"


def _execution_name(source: str, endpoint: str, window: Window) -> str:
    """Unique per start (Step Functions refuses a name twice); the job itself resumes by its window."""
    stamp = f"{window.start:%Y%m%dT%H%M}-{window.end:%Y%m%dT%H%M}"
    return f"{source}-{endpoint}-{stamp}"[:71] + f"-{uuid.uuid4().hex[:8]}"


@app.command("backfill")
def backfill(
    source: SourceArgument,
    start: Annotated[str, typer.Option(help="Window start, ISO-8601 (inclusive).")],
    end: Annotated[str, typer.Option(help="Window end, ISO-8601 (exclusive).")],
    endpoint: Annotated[
        str | None, typer.Option(help="One endpoint; every incremental one by default.")
    ] = None,
    runner: Annotated[
        str | None,
        typer.Option(
            help="lambda or batch; by default batch for a source marked `runner: batch` or a "
            "window longer than the endpoint's `batch_above`, else lambda."
        ),
    ] = None,
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
) -> None:
    """Pull [start, end) again: in chunks of the endpoint's `backfill_chunk`, one Lambda invocation each,
    or as one Batch job (through ApiIngestBatchStateMachine) that commits chunk by chunk.

    Chunks already committed are skipped, so a failed backfill is resumed by running the same command
    again. The live watermark is never moved.
    """
    try:
        chosen = parse_profile(profile)
        window = Window.model_validate({"start": start, "end": end})
        forced = _runner(runner)
        definition = find_source(load_sources(api_sources_dir(), None), source)
        endpoints = (
            [definition.endpoint(endpoint)]
            if endpoint
            else [e for e in definition.endpoints if e.incremental]
        )
        runners = {e.name: forced or definition.runner_of(e, window.end - window.start) for e in endpoints}
        chunks = [
            (e.name, chunk)
            for e in endpoints
            if runners[e.name] == "lambda"
            for chunk in backfill_chunks(e, window)
        ]
        on_batch = [e for e in endpoints if runners[e.name] == "batch"]
        for e in on_batch:
            backfill_chunks(e, window)  # the same checks as the Lambda's chunks, before anything starts
        send = function_sender(API_INGEST_FUNCTION, chosen, stack_name) if chunks else None
        execute = execution_runner(BATCH_STATE_MACHINE, chosen, stack_name) if on_batch else None
    except BAD_INPUT_ERRORS as exc:
        fail(_one_line(exc), BAD_INPUT)
    for e in on_batch:
        assert execute is not None
        _backfill_on_batch(execute, source, e, window)
    total = 0
    for number, (name, chunk) in enumerate(chunks, 1):
        assert send is not None
        event = {
            "source": source,
            "endpoint": name,
            "window": {"start": iso(chunk.start), "end": iso(chunk.end)},
        }
        label = f"chunk {number}/{len(chunks)}: {name} {_label(chunk)}"
        try:
            result = send(event)
        except Exception as exc:
            fail(f"{label} failed: {exc}\nrerun the same command: committed chunks are skipped")
        total += int(result.get("record_count", 0))
        out.print(f"{label} {result['status']}, {result.get('record_count', 0)} records", highlight=False)
    jobs = f", {len(on_batch)} Batch job(s)" if on_batch else ""
    out.print(f"[green]backfill done[/]: {len(chunks)} Lambda chunk(s), {total} records{jobs}")


def _backfill_on_batch(execute: RunExecution, source: str, endpoint: Endpoint, window: Window) -> None:
    label = f"batch job: {endpoint.name} {_label(window)}"
    progress(f"{label}: starting {BATCH_STATE_MACHINE} (the job commits chunk by chunk)")
    event = {
        "source": source,
        "endpoint": endpoint.name,
        "window": {"start": iso(window.start), "end": iso(window.end)},
    }
    outcome = execute(_execution_name(source, endpoint.name, window), event)
    if not outcome.succeeded:
        cause = (outcome.cause or "").splitlines()[0] if outcome.cause else ""
        fail(
            f"{label} {outcome.status}: {outcome.error or ''} {cause[:500]}\n"
            f"execution {outcome.arn}; rerun the same command: the job resumes after its last committed chunk"
        )
    job = outcome.output or {}
    out.print(f"{label} {job.get('Status', outcome.status)}, job {job.get('JobId', '?')}", highlight=False)


@app.command("run")
def run(
    source: SourceArgument,
    endpoint: Annotated[str, typer.Argument(help="Endpoint name in the source's definition.")],
    start: Annotated[str | None, typer.Option(help="Window start, ISO-8601 (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO-8601 (exclusive).")] = None,
    chunk: Annotated[
        str | None,
        typer.Option(help="Chunk length, ISO-8601 (PT6H); the endpoint's backfill_chunk by default."),
    ] = None,
    sources: Annotated[
        Path | None,
        typer.Option(help="Folder of source definitions; functions/api_ingest/sources by default."),
    ] = None,
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
) -> None:
    """Pull an endpoint in this process, with the code the Batch job runs (no 15-minute limit).

    With --start/--end, the window is pulled chunk by chunk, each committed then checkpointed: killed at
    any point, the same command resumes after the last committed chunk, and the live watermark is not
    touched. Without them, one live pull up to now, exactly as a scheduled Lambda run.
    """
    try:
        chosen = parse_profile(profile)
        if (start is None) != (end is None):
            raise ValueError("give both --start and --end (a window), or neither (a live pull up to now)")
        when: dict[str, Any] = (
            {"window": {"start": start, "end": end}}
            if start is not None
            else {"scheduled_time": datetime.now(UTC).replace(microsecond=0)}
        )
        event = IngestEvent.model_validate({"source": source, "endpoint": endpoint, **when})
        step = _duration(chunk)
        directory = sources or api_sources_dir()
        chosen_endpoint = find_source(load_sources(directory, None), source).endpoint(endpoint)
        planned = backfill_chunks(chosen_endpoint, event.window, step) if event.window else []
        deps = IngestDeps.from_settings(function_settings(API_INGEST_FUNCTION, chosen, stack_name), directory)
    except BAD_INPUT_ERRORS as exc:
        fail(_one_line(exc), BAD_INPUT)
    what = f"{_label(event.window)} in {len(planned)} chunk(s)" if event.window else "a live pull up to now"
    progress(f"{source}/{endpoint}: {what}")
    try:
        outcomes = run_resumable(event, deps, _print_chunk, step)
    except RunFailed as exc:
        fail(f"{exc}\nrerun the same command: it resumes after the last committed chunk")
    records = sum(o.record_count for o in outcomes)
    out.print(f"[green]run done[/]: {len(outcomes)} chunk(s), {records} records")


def _print_chunk(outcome: ChunkOutcome) -> None:
    where = _label(outcome.window) if outcome.window else "live"
    detail = (
        f"{outcome.status}, {outcome.record_count} records" if outcome.result else "committed before, skipped"
    )
    out.print(f"chunk {outcome.number}/{outcome.total} {where}: {detail}", highlight=False)
