"""`dp sql "SELECT ..."`, `dp sql -f query.sql`, `dp sql --tables`: SQL over every zone of the lake, on
the local stack's Trino or, with `--profile aws`, on Athena in the stack's workgroup."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dataplatform.settings import SettingsError, parse_profile
from dataplatform.sql.result import EngineUnavailable, QueryResult, SqlError, tables_query
from dptools.cli.console import BAD_INPUT, DEFAULT_STACK, ProfileOption, StackOption, fail, out
from dptools.sql_engines import query_runner

FORMATS = ("table", "csv", "json")


def csv_text(result: QueryResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(["" if v is None else _text(v) for v in row] for row in result.rows)
    return buffer.getvalue()


def json_text(result: QueryResult) -> str:
    """One object per row; decimals, dates and timestamps as their text, as Trino and Athena print them."""
    records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    return json.dumps(records, default=_text, indent=2)


def _text(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def _table(result: QueryResult) -> Table:
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("NULL" if v is None else _text(v) for v in row))
    return table


def read_query(query: str | None, file: Path | None, tables: bool) -> str:
    """The one query the options ask for; bad combinations fail with one line."""
    given = [name for name, value in (("a query", query), ("-f", file), ("--tables", tables)) if value]
    if len(given) != 1:
        fail(
            f"give exactly one of a query, -f FILE or --tables (got {', '.join(given) or 'none'})", BAD_INPUT
        )
    if tables:
        return tables_query()
    if file is not None:
        try:
            query = file.read_text()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}", BAD_INPUT)
    text = (query or "").strip().rstrip(";").strip()
    if not text:
        fail(f"{file or 'the query'} holds no SQL", BAD_INPUT)
    return text


def sql_command(
    query: Annotated[str | None, typer.Argument(help="The SQL to run.")] = None,
    file: Annotated[Path | None, typer.Option("-f", "--file", help="Run the SQL in this file.")] = None,
    tables: Annotated[bool, typer.Option("--tables", help="List the zones and their tables.")] = False,
    output: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    profile: ProfileOption = "local",
    stack_name: StackOption = DEFAULT_STACK,
) -> None:
    """Run SQL on the lake: the local Trino (`dp stack up --with trino`), or Athena with --profile aws."""
    if output not in FORMATS:
        fail(f"--format takes {', '.join(FORMATS)}, not {output!r}", BAD_INPUT)
    sql = read_query(query, file, tables)
    try:
        run = query_runner(parse_profile(profile), stack_name)
    except SettingsError as exc:
        fail(str(exc), BAD_INPUT)
    except EngineUnavailable as exc:
        fail(str(exc))
    try:
        result = run(sql)
    except EngineUnavailable as exc:
        fail(str(exc))
    except SqlError as exc:
        fail(str(exc), BAD_INPUT)
    if output == "csv":
        typer.echo(csv_text(result), nl=False)
    elif output == "json":
        typer.echo(json_text(result))
    else:
        out.print(_table(result))
        out.print(f"({len(result.rows)} rows)", highlight=False)
