"""Queries on the local Trino server through its Python client (the `trino` package), with the same
result and error shapes as Athena's (dataplatform.sql)."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from dataplatform.sql.result import DEFAULT_ZONE, EngineUnavailable, QueryResult, SqlError, first_line
from dptools.local.trino_server import CATALOG

NOT_RUNNING = "start it with `dp stack up --with trino`"


def trino_query(url: str, sql: str) -> QueryResult:
    """Run `sql` on the Trino at `url` and fetch every row; SqlError with Trino's reason when it fails,
    or when nothing answers at `url`."""
    import trino

    where = urlsplit(url)
    connection = trino.dbapi.connect(
        host=where.hostname or "127.0.0.1",
        port=where.port or 8080,
        user="dp",
        catalog=CATALOG,
        schema=DEFAULT_ZONE,
        http_scheme="http",
    )
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        rows = [tuple(row) for row in cursor.fetchall()]
        columns = tuple(d[0] for d in cursor.description or ())
    except trino.exceptions.TrinoQueryError as exc:
        raise SqlError(f"{exc.error_name}: {first_line(exc.message)}") from exc
    except (requests.ConnectionError, trino.exceptions.HttpError, trino.exceptions.TrinoConnectionError):
        raise EngineUnavailable(f"the local Trino at {url} does not answer: {NOT_RUNNING}") from None
    finally:
        connection.close()
    return QueryResult(columns, rows)
