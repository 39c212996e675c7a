"""Queries on Athena through awswrangler, in the stack's workgroup: the workgroup enforces where results
go (encrypted in the artifacts bucket) and how many bytes one query may scan.

awswrangler is not in the Lambda layer; only callers outside Lambda (`dp sql --profile aws`) import this.
"""

from __future__ import annotations

from typing import Any

import boto3

from dataplatform.settings import Settings
from dataplatform.sql.result import DEFAULT_ZONE, QueryResult, SqlError, first_line


def athena_query(sql: str, settings: Settings, workgroup: str) -> QueryResult:
    """Run `sql` in `workgroup` and fetch every row; SqlError with Athena's reason when it fails."""
    import awswrangler as wr

    try:
        frame = wr.athena.read_sql_query(
            sql,
            database=DEFAULT_ZONE,
            workgroup=workgroup,
            ctas_approach=False,  # plain SELECTs and metadata queries alike; results stay in the workgroup's place
            boto3_session=boto3.Session(region_name=settings.region),
        )
    except (wr.exceptions.QueryFailed, wr.exceptions.InvalidArgumentValue) as exc:
        raise SqlError(first_line(str(exc))) from exc
    rows: list[tuple[Any, ...]] = [tuple(row) for row in frame.itertuples(index=False, name=None)]
    return QueryResult(tuple(str(c) for c in frame.columns), rows)
