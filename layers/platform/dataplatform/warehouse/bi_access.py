"""The BI user: a login in the read-only group `bi_readers` (V003), with the BI secret's name and
password. Made here and not in a migration, because a migration holds no password; re-running it
sets the password again, so a rotated secret takes effect."""

from __future__ import annotations

from dataplatform.warehouse.connection import Warehouse
from dataplatform.warehouse.dialect import literal

BI_GROUP = "bi_readers"


def ensure_bi_user(warehouse: Warehouse, username: str, password: str) -> None:
    if not username.isidentifier():
        raise ValueError(f"the BI user name {username!r} is not a plain SQL identifier")
    exists = warehouse.query(f"SELECT 1 FROM pg_user WHERE usename = {literal(username)}")
    verb = "ALTER" if exists else "CREATE"
    warehouse.transaction(
        [
            f"{verb} USER {username} PASSWORD {literal(password)}",
            f"ALTER GROUP {BI_GROUP} ADD USER {username}",
        ],
        f"bi-user-{username}",
    )
