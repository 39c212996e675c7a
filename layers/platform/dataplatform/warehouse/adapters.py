"""The warehouse of the profile: Redshift through the Data API in AWS, PostgreSQL on the local stack.
Both are reached through the admin secret (the Data API's SecretArn; locally it also holds the
server's address, written by `dp stack up`)."""

from __future__ import annotations

import json
from typing import Any, cast

from dataplatform import aws
from dataplatform.settings import Settings
from dataplatform.warehouse.connection import Warehouse
from dataplatform.warehouse.postgres import PostgresConnection, PostgresWarehouse
from dataplatform.warehouse.redshift_data import RedshiftDataWarehouse


def secret_value(settings: Settings, secret_id: str) -> dict[str, Any]:
    value = aws.client("secretsmanager", settings).get_secret_value(SecretId=secret_id)["SecretString"]
    return dict(json.loads(value))


def warehouse_for(settings: Settings) -> Warehouse:
    secret = settings.require("warehouse_secret")
    if settings.is_local:
        connection = PostgresConnection.from_secret(secret_value(settings, secret))
        return PostgresWarehouse(connection, aws.client("s3", settings))
    data_api = cast(Any, aws.client)("redshift-data", settings)  # no mypy-boto3 stubs for it here
    return RedshiftDataWarehouse(
        data_api,
        settings.warehouse_database,
        secret,
        settings.require("warehouse_copy_role_arn"),
        workgroup=None if settings.warehouse_cluster else settings.warehouse_workgroup,
        cluster=settings.warehouse_cluster,
    )


def migration_parameters(settings: Settings) -> dict[str, str]:
    """What the migrations' `${...}` placeholders name (on Redshift only: the Spectrum role)."""
    return {"SpectrumRoleArn": settings.warehouse_spectrum_role_arn or ""}
