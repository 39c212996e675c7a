"""The local warehouse part on its own: PostgreSQL from the wheel, in a folder of its own.

GIVEN a fresh folder and a free loopback port,
WHEN the server is prepared, started, written to, stopped with a client still connected, and started again,
THEN it answers over TCP with the admin password, stops at once, leaves no process, and keeps its data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from dptools.local import warehouse_server
from dptools.local.processes import _group_members, free_port

pytestmark = pytest.mark.timeout(120)


def test_the_server_answers_stops_with_a_client_connected_and_keeps_its_data(tmp_path: Path) -> None:
    port = free_port()
    server = warehouse_server.WarehouseServer(tmp_path / "warehouse", port, "dp_admin")
    part = warehouse_server.process(tmp_path / "run")
    server.prepare()
    part.start(server.command())
    try:
        part.wait_healthy(server.is_healthy, 60)
        server.converge("s3cret-pw")
        tcp: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": port,
            "user": "dp_admin",
            "dbname": warehouse_server.DATABASE,
        }
        client = psycopg.connect(**tcp, password="s3cret-pw", autocommit=True)
        tmp_path.chmod(0o700)  # as pytest resets its temp root when another session starts
        client.execute("CHECKPOINT")  # the server still reaches its files
        client.execute("CREATE TABLE kept (x int)")
        client.execute("INSERT INTO kept VALUES (1), (2)")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(**tcp, password="wrong")

        pid = part.pid()
        assert pid is not None
        part.stop(timeout_s=10)  # the client above is still connected: a fast shutdown does not wait
        assert not _group_members(pid)

        part.start(server.command())
        part.wait_healthy(server.is_healthy, 60)
        with psycopg.connect(**tcp, password="s3cret-pw") as again:
            assert again.execute("SELECT count(*) FROM kept").fetchone() == (2,)
    finally:
        part.stop()
