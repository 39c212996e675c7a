"""Redshift through the Data API: statements run asynchronously, so each call polls until done.

`BatchExecuteStatement` runs its statements as one transaction, which is what a load needs; its client
token makes a resent request (a Lambda retry of the same attempt) start nothing twice. A serializable
isolation violation (Redshift's error 1023) ends the batch rolled back, and is reported as a conflict.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from dataplatform.warehouse.connection import CopyFromManifest, Statement
from dataplatform.warehouse.dialect import Dialect
from dataplatform.warehouse.errors import SerializationConflictError, WarehouseError

_POLL_S = 0.5
_CONFLICT_MARKERS = ("Serializable isolation violation", "1023")


class RedshiftDataWarehouse:
    dialect: Dialect = "redshift"

    def __init__(
        self,
        data_api: Any,
        database: str,
        secret_arn: str,
        copy_role_arn: str,
        workgroup: str | None = None,
        cluster: str | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        if not (workgroup or cluster):
            raise WarehouseError("the Redshift warehouse needs a workgroup or a cluster identifier")
        self.data_api = data_api
        self.target: dict[str, str] = {"Database": database, "SecretArn": secret_arn}
        self.target.update({"WorkgroupName": workgroup} if workgroup else {"ClusterIdentifier": str(cluster)})
        self.copy_role_arn = copy_role_arn
        self.timeout_s = timeout_s

    def _wait(self, statement_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while True:
            described: dict[str, Any] = self.data_api.describe_statement(Id=statement_id)
            status = described["Status"]
            if status == "FINISHED":
                return described
            if status in ("FAILED", "ABORTED"):
                error = str(described.get("Error", status))
                if any(marker in error for marker in _CONFLICT_MARKERS):
                    raise SerializationConflictError(error)
                raise WarehouseError(f"Redshift statement {statement_id} {status.lower()}: {error}")
            if time.monotonic() > deadline:
                self.data_api.cancel_statement(Id=statement_id)
                raise WarehouseError(
                    f"Redshift statement {statement_id} took longer than {self.timeout_s:.0f}s"
                )
            time.sleep(_POLL_S)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        started = self.data_api.execute_statement(Sql=sql, **self.target)
        described = self._wait(started["Id"])
        if not described.get("HasResultSet"):
            return []
        rows: list[tuple[Any, ...]] = []
        kwargs: dict[str, str] = {"Id": started["Id"]}
        while True:
            page = self.data_api.get_statement_result(**kwargs)
            rows += [tuple(_value(field) for field in record) for record in page["Records"]]
            if not page.get("NextToken"):
                return rows
            kwargs["NextToken"] = page["NextToken"]

    def transaction(self, statements: Sequence[Statement], token: str) -> None:
        sqls = [
            s.redshift_sql(self.copy_role_arn) if isinstance(s, CopyFromManifest) else s for s in statements
        ]
        started = self.data_api.batch_execute_statement(Sqls=sqls, ClientToken=token[:64], **self.target)
        self._wait(started["Id"])


def _value(field: dict[str, Any]) -> Any:
    """A Data API field (`{"longValue": 3}`, `{"isNull": true}`, ...) as a Python value."""
    return None if field.get("isNull") else next(iter(field.values()))
