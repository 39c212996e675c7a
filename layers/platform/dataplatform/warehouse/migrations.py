"""Versioned migrations, written once in Redshift SQL (`migrations/V<nnn>__<name>.sql`), applied in
order, once each: every migration and its row in `warehouse_meta.schema_migrations` commit together,
so a second run finds them all applied and does nothing. A file named `*.redshift-only.sql` runs on
Redshift only (Spectrum has no PostgreSQL counterpart) and is recorded as skipped elsewhere.
`${Name}` placeholders are filled from the arguments (a role ARN, for instance)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

from dataplatform.warehouse.connection import Warehouse
from dataplatform.warehouse.dialect import literal, statements
from dataplatform.warehouse.errors import WarehouseError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATIONS_TABLE = "warehouse_meta.schema_migrations"
REDSHIFT_ONLY = ".redshift-only.sql"
_NAME = re.compile(r"^V(\d{3})__([a-z0-9_]+)(\.redshift-only)?\.sql$")
_BOOTSTRAP = (
    "CREATE SCHEMA IF NOT EXISTS warehouse_meta",
    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version INTEGER NOT NULL, name VARCHAR(256) NOT NULL, "
    "applied BOOLEAN NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT SYSDATE, PRIMARY KEY (version))",
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def redshift_only(self) -> bool:
        return self.path.name.endswith(REDSHIFT_ONLY)

    def statements(self, parameters: Mapping[str, str]) -> list[str]:
        try:
            return statements(Template(self.path.read_text()).substitute(parameters))
        except KeyError as missing:
            raise WarehouseError(f"migration {self.path.name} needs the parameter {missing}") from None


def migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in version order; a badly named file or a repeated version is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise WarehouseError(
                f"migration file {path.name} is not named V<nnn>__<name>[.redshift-only].sql"
            )
        version = int(match.group(1))
        if version in found:
            raise WarehouseError(
                f"migrations {found[version].path.name} and {path.name} share version {version}"
            )
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def applied_versions(warehouse: Warehouse) -> set[int]:
    warehouse.transaction(list(_BOOTSTRAP), "migrations-bootstrap")
    return {int(row[0]) for row in warehouse.query(f"SELECT version FROM {MIGRATIONS_TABLE}")}


def migrate(
    warehouse: Warehouse, parameters: Mapping[str, str] | None = None, folder: Path = MIGRATIONS_DIR
) -> list[Migration]:
    """Apply the pending migrations in order; the ones applied now (empty when up to date)."""
    done = applied_versions(warehouse)
    applied = []
    for migration in migrations(folder):
        if migration.version in done:
            continue
        runs_here = warehouse.dialect == "redshift" or not migration.redshift_only
        body = migration.statements(parameters or {}) if runs_here else []
        record = (
            f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied) VALUES "
            f"({migration.version}, {literal(migration.name)}, {'TRUE' if runs_here else 'FALSE'})"
        )
        warehouse.transaction([*body, record], f"migration-{migration.version}")
        applied.append(migration)
    return applied
