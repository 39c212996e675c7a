"""`dp streaming start|stop|status|redeploy`: the Kafka -> raw job, locally or on EMR Serverless."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from dataplatform.settings import parse_profile
from dptools.cli.console import DEFAULT_STACK, StackOption, out
from dptools.stream_control import StreamController, stream_controller

app = typer.Typer(help="The Kafka -> raw streaming job: on the local stack, or on EMR Serverless.")

ProfileOption = Annotated[str, typer.Option(help="local (the local stack) or aws (EMR Serverless).")]
NameOption = Annotated[str, typer.Option(help="The stream's name (its checkpoint, snapshots, metrics).")]


def _controller(profile: str, name: str, stack_name: str) -> StreamController:
    return stream_controller(parse_profile(profile), name, stack_name)


@app.command("start")
def start(
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
    name: NameOption = "clickstream",
    topics: Annotated[
        str, typer.Option(help="Comma-separated topics (local; in AWS the stack's).")
    ] = "clickstream",
    trigger: Annotated[str, typer.Option(help="Trigger interval, or available-now (local).")] = "5 seconds",
) -> None:
    """Start the job if it is not running; it resumes from its checkpoint."""
    out.print(_controller(profile, name, stack_name).start(topics.split(","), trigger), highlight=False)


@app.command("stop")
def stop(
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
    name: NameOption = "clickstream",
) -> None:
    """Stop the job between batches; in AWS the supervisor then leaves it stopped until `start`."""
    out.print(_controller(profile, name, stack_name).stop(), highlight=False)


@app.command("status")
def status(
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
    name: NameOption = "clickstream",
) -> None:
    """The process or job runs, and the last batch: rows, duration, consumer lag, dead letters."""
    print(json.dumps(_controller(profile, name, stack_name).status(), indent=2))


@app.command("redeploy")
def redeploy(
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
    name: NameOption = "clickstream",
) -> None:
    """Stop the job and start the current code from the same checkpoint."""
    out.print(_controller(profile, name, stack_name).redeploy(), highlight=False)
