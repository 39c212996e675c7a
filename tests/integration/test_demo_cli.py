"""`dp demo` and `dp stack down` as a newcomer runs them (through `make demo`), in a state dir of their own."""

import os
import subprocess
import sys
from pathlib import Path

from dptools.local.paths import LocalPaths
from dptools.local.processes import _group_members
from dptools.local.stack import LocalStack
from tests.conftest import ROOT

DP = str(Path(sys.executable).parent / "dp")


def test_demo_reports_success_and_stack_down_leaves_no_process(tmp_path: Path) -> None:
    env = {**os.environ, "DP_LOCAL_DIR": str(tmp_path)}
    stack = LocalStack(paths=LocalPaths(tmp_path))
    try:
        demo = subprocess.run([DP, "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert demo.stdout.count("  ok ") == 10
        assert "streaming job landed every event" in demo.stdout
        assert "export tpch-2026-11-02 cataloged" in demo.stdout
        assert "raw.reviews__reviews: committed, 50000 records landed" in demo.stdout
        assert "where to look" in demo.stdout
        assert (
            "orders as each RDS export had them (time travel by export tag): export | orders" in demo.stdout
        )
        assert "clickstream events by type (the stream's typed table): event_type | events" in demo.stdout
        pids = [p.pid for p in stack.status() if p.pid]
        assert len(pids) == 6  # aws, kafka, api, dispatcher, warehouse, and Trino for the queries

        status = subprocess.run([DP, "stack", "status"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert status.returncode == 0 and status.stdout.count("running") == 6
    finally:
        down = subprocess.run([DP, "stack", "down"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert down.returncode == 0
    assert all(not _group_members(pid) for pid in pids)
