"""`dp`, the data platform's command line tool: wires one module per command group. An error is one
clear line on stderr (the traceback only with `--debug`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dptools.cli import (
    api_ingest,
    demo,
    deploy,
    invoke,
    sample,
    snapshot_export,
    sql,
    stack,
    streaming,
    transforms,
    warehouse,
)
from dptools.cli.console import BAD_INPUT, err

__all__ = ["BAD_INPUT", "app", "main"]

app = typer.Typer(help="The data platform's command line tool.", no_args_is_help=True, add_completion=False)


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """The data platform's command line tool."""


app.add_typer(stack.app, name="stack")
app.add_typer(api_ingest.app, name="ingest")
app.add_typer(streaming.app, name="streaming")
app.add_typer(sample.app, name="sample")
app.add_typer(snapshot_export.app, name="export")
app.add_typer(transforms.app, name="transform")
app.add_typer(warehouse.app, name="warehouse")
app.command("invoke")(invoke.invoke)
app.command("sql")(sql.sql_command)
app.command("smoke")(demo.smoke_command)
app.command("demo")(demo.demo_command)
app.command("deploy-artifacts")(deploy.deploy_artifacts)


def main(argv: list[str] | None = None) -> None:
    """The console entry point: `dp ...`."""
    args = sys.argv[1:] if argv is None else argv
    try:
        app(args=args, prog_name="dp")
    except Exception as exc:
        if "--debug" in args:
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        err.print(f"[bold red]error:[/] {reason} (`dp --debug ...` shows the traceback)", highlight=False)
        sys.exit(1)
