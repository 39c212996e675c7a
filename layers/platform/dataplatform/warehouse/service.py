"""The warehouse's entry points, wired from settings: prepare (migrations and the BI user) and load.
The Lambda handler, `dp warehouse` and `dp stack up` call these."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dataplatform import aws
from dataplatform.settings import Settings
from dataplatform.warehouse.adapters import migration_parameters, secret_value, warehouse_for
from dataplatform.warehouse.bi_access import ensure_bi_user
from dataplatform.warehouse.connection import Warehouse
from dataplatform.warehouse.load import TableLoad, load
from dataplatform.warehouse.migrations import Migration, migrate


def prepare(settings: Settings, warehouse: Warehouse | None = None) -> list[Migration]:
    """Apply pending migrations and (re)set the BI user from its secret; the migrations applied now."""
    warehouse = warehouse or warehouse_for(settings)
    applied = migrate(warehouse, migration_parameters(settings))
    if settings.warehouse_bi_secret:
        bi = secret_value(settings, settings.warehouse_bi_secret)
        ensure_bi_user(warehouse, bi["username"], bi["password"])
    return applied


def load_analytics(
    settings: Settings,
    tables: Sequence[str] | None = None,
    progress: Callable[[TableLoad], None] = lambda _: None,
) -> list[TableLoad]:
    from dataplatform.iceberg.catalog import glue_catalog

    warehouse = warehouse_for(settings)
    prepare(settings, warehouse)
    return load(
        warehouse,
        glue_catalog(settings),
        aws.client("s3", settings),
        settings.require("curated_bucket"),
        tables,
        progress,
    )
