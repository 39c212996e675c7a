"""What the loader and the migrations need from a warehouse, whichever it is: Redshift through the
Data API in AWS, PostgreSQL locally (`dataplatform.warehouse.adapters` picks one per profile)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dataplatform.warehouse.dialect import Dialect


@dataclass(frozen=True)
class CopyFromManifest:
    """COPY of the Parquet files a manifest names (Redshift's manifest format) into `table`."""

    table: str
    columns: tuple[str, ...]
    manifest_url: str

    def redshift_sql(self, iam_role: str) -> str:
        return (
            f"COPY {self.table} ({', '.join(self.columns)}) FROM '{self.manifest_url}' "
            f"IAM_ROLE '{iam_role}' FORMAT AS PARQUET MANIFEST"
        )


Statement = str | CopyFromManifest  # SQL in Redshift's dialect, or a COPY


class Warehouse(Protocol):
    dialect: Dialect

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of one Redshift-dialect SELECT, run on its own."""
        ...

    def transaction(self, statements: Sequence[Statement], token: str) -> None:
        """Every statement in one transaction (serializable, as Redshift's are), committed or rolled
        back whole; SerializationConflictError when a concurrent transaction won. `token` makes a
        resent request idempotent where the service supports it."""
        ...
