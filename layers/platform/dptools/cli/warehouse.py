"""`dp warehouse load|migrate|url`: the warehouse loader and its connection strings, on the local
stack's PostgreSQL or (`--profile aws`) on Redshift with the deployed loader's settings."""

from __future__ import annotations

from typing import Annotated

import typer

from dataplatform.settings import Settings, SettingsError, parse_profile
from dataplatform.warehouse.adapters import secret_value
from dataplatform.warehouse.errors import WarehouseError
from dataplatform.warehouse.load import TableLoad
from dataplatform.warehouse.postgres import PostgresConnection
from dataplatform.warehouse.service import load_analytics, prepare
from dptools.cli.console import (
    BAD_INPUT,
    DEFAULT_STACK,
    ProfileOption,
    StackOption,
    fail,
    info,
    out,
    progress,
)
from dptools.local.processes import StackError

FUNCTION = "WarehouseLoadFunction"
app = typer.Typer(help="The warehouse (Redshift; PostgreSQL locally): load, migrate, connection strings.")


def _settings(profile: str, stack_name: str) -> Settings:
    from dptools.functions import function_settings

    try:
        return function_settings(FUNCTION, parse_profile(profile), stack_name)
    except (SettingsError, StackError, ValueError) as exc:
        fail(str(exc), BAD_INPUT)


def _show(result: TableLoad) -> None:
    info(("[dim]" if result.skipped else "[green]") + result.describe() + "[/]")


@app.command("load")
def load_command(
    table: Annotated[list[str] | None, typer.Option("--table", help="Only this table (repeatable).")] = None,
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
) -> None:
    """Load the analytics tables' changes since the last load, one transaction per table."""
    settings = _settings(profile, stack_name)
    progress("loading the analytics zone into the warehouse")
    try:
        results = load_analytics(settings, table, _show)
    except WarehouseError as exc:
        fail(str(exc), BAD_INPUT)
    loaded = [r for r in results if not r.skipped]
    out.print(f"[green]{len(loaded)} table(s) loaded, {sum(r.rows_staged for r in loaded)} rows[/]")


@app.command("migrate")
def migrate_command(profile: ProfileOption = "local", stack_name: StackOption = DEFAULT_STACK) -> None:
    """Apply the pending migrations and (re)set the BI user from its secret."""
    try:
        applied = prepare(_settings(profile, stack_name))
    except WarehouseError as exc:
        fail(str(exc))
    for migration in applied:
        info(f"applied {migration.path.name}")
    out.print(f"[green]{len(applied) or 'no'} migration(s) applied[/]")


def connection_url(settings: Settings, bi: bool) -> str:
    """The PostgreSQL URL of the local warehouse for its BI user (`bi`) or its admin."""
    secret = settings.require("warehouse_bi_secret" if bi else "warehouse_secret")
    return PostgresConnection.from_secret(secret_value(settings, secret)).url()


@app.command("url")
def url_command(
    bi: Annotated[bool, typer.Option("--bi", help="The read-only BI user's (what a BI tool needs).")] = False,
) -> None:
    """The local warehouse's connection string (PostgreSQL wire protocol, as Redshift's)."""
    settings = _settings("local", DEFAULT_STACK)
    try:
        out.print(connection_url(settings, bi), highlight=False, soft_wrap=True)
    except WarehouseError as exc:
        fail(str(exc))
