"""What every command group shares: the consoles, progress lines, and failing with one clear line."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, NoReturn

import typer
from rich.console import Console

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

BAD_INPUT = 2

ProfileOption = Annotated[str, typer.Option(help="local (the local stack) or aws (the deployed stack).")]
StackOption = Annotated[str, typer.Option("--stack", help="Deployed stack (profile aws).")]
DEFAULT_STACK = "dataplatform-dev"


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def days_from_to(first: str, last: str) -> list[date]:
    """Every day from `first` to `last`, both given as YYYY-MM-DD and both included."""
    try:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError as exc:
        fail(f"--from and --to take YYYY-MM-DD: {exc}", BAD_INPUT)
    if end < start:
        fail(f"--to {end} is before --from {start}", BAD_INPUT)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def progress(message: str) -> None:
    out.print(f"[cyan]>[/] {message}", highlight=False)


def ok(message: str) -> None:
    out.print(f"  [green]ok[/] {message}", highlight=False)


def info(message: str) -> None:
    out.print(f"  {message}", highlight=False)
