"""What a query gives back, and how an engine refuses one, whichever engine ran it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ZONES = ("raw", "staging", "analytics")
DEFAULT_ZONE = "raw"  # where an unqualified table name resolves


class SqlError(ValueError):
    """The engine refused the query (a syntax error, an unknown table, ...) or is not there: one line."""


class EngineUnavailable(SqlError):
    """Nothing answers where the engine should be (the local Trino is not running)."""


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def first_line(message: str) -> str:
    lines = message.strip().splitlines()
    return lines[0] if lines else message


def tables_query(zones: tuple[str, ...] = ZONES) -> str:
    """Every table of the zones, from information_schema: standard SQL that Athena and Trino both run."""
    listed = ", ".join(f"'{zone}'" for zone in zones)
    return (
        "SELECT table_schema AS zone, table_name FROM information_schema.tables "
        f"WHERE table_schema IN ({listed}) ORDER BY 1, 2"
    )
