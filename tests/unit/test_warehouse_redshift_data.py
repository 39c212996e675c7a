"""The Redshift adapter's calls of the Data API, against a recording stand-in for the service.

GIVEN a load plan (SQL and a COPY from a manifest) and a workgroup or a cluster,
WHEN the adapter runs it or a query,
THEN one BatchExecuteStatement carries every statement (COPY with the manifest, Parquet and the COPY
role) with the client token, results come back typed, and error 1023 is a serialization conflict.
"""

from __future__ import annotations

from typing import Any

import pytest

from dataplatform.warehouse.connection import CopyFromManifest
from dataplatform.warehouse.errors import SerializationConflictError, WarehouseError
from dataplatform.warehouse.redshift_data import RedshiftDataWarehouse

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dp/warehouse/admin"
ROLE = "arn:aws:iam::123456789012:role/copy"


class DataApi:
    """Records requests; each statement ends as `outcome` says."""

    def __init__(
        self, outcome: dict[str, Any] | None = None, records: list[list[dict[str, Any]]] | None = None
    ):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.outcome = outcome or {"Status": "FINISHED", "HasResultSet": records is not None}
        self.records = records or []

    def batch_execute_statement(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("batch", kwargs))
        return {"Id": "s-1"}

    def execute_statement(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("execute", kwargs))
        return {"Id": "s-2"}

    def describe_statement(self, Id: str) -> dict[str, Any]:
        return self.outcome

    def get_statement_result(self, **kwargs: Any) -> dict[str, Any]:
        return {"Records": self.records}


def test_a_plan_is_one_batch_with_the_copy_rendered_and_the_client_token() -> None:
    api = DataApi()
    warehouse = RedshiftDataWarehouse(api, "warehouse", SECRET, ROLE, workgroup="dp-warehouse")
    copy = CopyFromManifest("stage_t", ("a", "b"), "s3://curated/warehouse-loads/t/b1/upserts/manifest.json")
    warehouse.transaction(
        ["CREATE TEMP TABLE stage_t (LIKE analytics.t)", copy, "INSERT INTO x VALUES (1)"], "tok"
    )
    [(kind, request)] = api.calls
    assert kind == "batch" and request["ClientToken"] == "tok"
    assert request["WorkgroupName"] == "dp-warehouse" and request["SecretArn"] == SECRET
    assert request["Database"] == "warehouse" and "ClusterIdentifier" not in request
    assert request["Sqls"][1] == (
        "COPY stage_t (a, b) FROM 's3://curated/warehouse-loads/t/b1/upserts/manifest.json' "
        f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST"
    )


def test_a_cluster_is_addressed_by_its_identifier_and_query_results_are_typed() -> None:
    api = DataApi(records=[[{"longValue": 7}, {"stringValue": "x"}, {"isNull": True}]])
    warehouse = RedshiftDataWarehouse(api, "warehouse", SECRET, ROLE, cluster="analytics-1")
    assert warehouse.query("SELECT 1") == [(7, "x", None)]
    assert api.calls[0][1]["ClusterIdentifier"] == "analytics-1"


def test_a_serializable_isolation_violation_is_a_conflict_and_other_failures_are_errors() -> None:
    conflict = DataApi(
        {"Status": "FAILED", "Error": "ERROR: 1023 DETAIL: Serializable isolation violation on table"}
    )
    with pytest.raises(SerializationConflictError):
        RedshiftDataWarehouse(conflict, "warehouse", SECRET, ROLE, workgroup="w").transaction(
            ["SELECT 1"], "t"
        )
    failed = DataApi({"Status": "FAILED", "Error": "ERROR: permission denied"})
    with pytest.raises(WarehouseError, match="failed: ERROR: permission denied"):
        RedshiftDataWarehouse(failed, "warehouse", SECRET, ROLE, workgroup="w").transaction(["SELECT 1"], "t")


def test_a_warehouse_needs_a_workgroup_or_a_cluster() -> None:
    with pytest.raises(WarehouseError, match="needs a workgroup or a cluster"):
        RedshiftDataWarehouse(DataApi(), "warehouse", SECRET, ROLE)
