"""`dp stack up|down|status`: the local stack."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from dptools.cli.console import BAD_INPUT, fail, out, progress
from dptools.local.processes import StackError
from dptools.local.stack import TRINO, LocalStack

app = typer.Typer(help="The local stack: moto as the local AWS, a Kafka broker, the event dispatcher.")


@app.command("up")
def up(
    schedules: Annotated[
        bool, typer.Option("--schedules", help="Fire the template's schedules too.")
    ] = False,
    with_parts: Annotated[
        list[str] | None, typer.Option("--with", help="Start an optional part too: trino (for `dp sql`).")
    ] = None,
) -> None:
    """Start the local stack (idempotent) and wire the template's event sources onto it."""
    unknown = sorted(set(with_parts or ()) - {TRINO})
    if unknown:
        fail(f"--with takes {TRINO}, not {', '.join(unknown)}", BAD_INPUT)
    stack = LocalStack()
    try:
        settings = stack.up(schedules=schedules, progress=progress, trino=TRINO in (with_parts or ()))
    except StackError as exc:
        fail(str(exc))
    out.print(f"[green]stack up[/]: AWS at {settings.endpoint_url}, Kafka at {settings.kafka_bootstrap}")
    if stack.trino_url():
        out.print(f'Trino at {stack.trino_url()}: `dp sql "SELECT ..."`')


@app.command("down")
def down() -> None:
    """Stop every part; the lake, the catalog and Kafka's topics are kept under .local/."""
    LocalStack().down(progress=progress)
    out.print("[green]stack down[/]")


@app.command("status")
def status() -> None:
    """Each part's state, and the events waiting in each function's dead-letter queue."""
    stack = LocalStack()
    table = Table("part", "state", "pid", "detail")
    colours = {"running": "green", "stopped": "yellow", "crashed": "bold red"}
    statuses = stack.status()
    for part in statuses:
        table.add_row(part.name, f"[{colours[part.state]}]{part.state}[/]", str(part.pid or ""), part.detail)
    out.print(table)
    for function, count in stack.dead_letters().items():
        style = "bold red" if count else "green"
        out.print(f"dead letters of {function}: [{style}]{count}[/]")
    if any(p.state == "crashed" for p in statuses):
        raise typer.Exit(1)
