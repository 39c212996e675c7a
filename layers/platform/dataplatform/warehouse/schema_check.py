"""Does an Iceberg table still fit its warehouse table? Same column names (bookkeeping columns
starting with `_` aside) and compatible types; otherwise the load stops before writing anything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from dataplatform.warehouse.errors import LoadInputError

WarehouseColumn = tuple[str, str, Any]  # name, information_schema data_type, numeric_scale


def _family(arrow: pa.DataType) -> str:
    if pa.types.is_integer(arrow):
        return "integer"
    if pa.types.is_decimal(arrow):
        return f"numeric({arrow.scale})"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "text"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_date(arrow):
        return "date"
    if pa.types.is_boolean(arrow):
        return "boolean"
    return str(arrow)


def _warehouse_family(data_type: str, scale: Any) -> str:
    data_type = data_type.lower()
    if data_type in ("smallint", "integer", "bigint"):
        return "integer"
    if data_type in ("numeric", "decimal"):
        return f"numeric({int(scale or 0)})"
    if "char" in data_type or data_type == "text":
        return "text"
    if data_type.startswith("timestamp"):
        return "timestamp"
    return data_type


def loaded_columns(table: str, source: pa.Schema, warehouse: Sequence[WarehouseColumn]) -> tuple[str, ...]:
    """The columns to load, in the warehouse's order; LoadInputError saying how they drifted."""
    if not warehouse:
        raise LoadInputError(f"analytics.{table} does not exist in the warehouse: run the migrations")
    ours = {f.name: _family(f.type) for f in source if not f.name.startswith("_")}
    theirs = {name: _warehouse_family(data_type, scale) for name, data_type, scale in warehouse}
    problems = []
    if missing := sorted(set(theirs) - set(ours)):
        problems.append(f"missing in Iceberg {missing}")
    if extra := sorted(set(ours) - set(theirs)):
        problems.append(f"not in the warehouse {extra}")
    changed = [
        f"{c} {ours[c]} != {theirs[c]}" for c in sorted(set(ours) & set(theirs)) if ours[c] != theirs[c]
    ]
    if changed:
        problems.append(f"types differ: {', '.join(changed)}")
    if problems:
        raise LoadInputError(f"analytics.{table} drifted from the warehouse table: {'; '.join(problems)}")
    return tuple(name for name, _, _ in warehouse)
