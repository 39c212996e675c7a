"""`dp demo` and `dp stack down` as a newcomer runs them (through `make demo`), in a state dir of their own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dptools.demo.bi_queries import BI_QUERIES
from dptools.local.paths import LocalPaths
from dptools.local.processes import _group_members
from dptools.local.stack import LocalStack
from tests.conftest import ROOT

DP = str(Path(sys.executable).parent / "dp")
DEMO_TIMEOUT_S = 1200  # a transform run is a dozen local Spark jobs, on a loaded 2-core machine


@pytest.mark.timeout(DEMO_TIMEOUT_S + 120)
def test_demo_reports_success_and_stack_down_leaves_no_process(tmp_path: Path) -> None:
    """The demo as `make demo` runs it, at SF 0.01 and with one pass of every source (`make demo` runs SF
    0.1 and a second pass, the same flows with the next dates; test_transforms covers incremental runs):
    the transform run that loads the warehouse, Trino, the summary, the report checked in Chromium."""
    env = {**os.environ, "DP_LOCAL_DIR": str(tmp_path)}
    stack = LocalStack(paths=LocalPaths(tmp_path))
    try:
        demo = subprocess.run(
            [DP, "demo", "--scale", "0.01", "--passes", "1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEMO_TIMEOUT_S,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "export tpch-2026-11-01 cataloged" in demo.stdout
        assert "export tpch-2026-11-02" not in demo.stdout
        assert "raw.reviews__reviews: committed, 50000 records landed" in demo.stdout
        assert demo.stdout.count("streaming job landed every event") == 1
        for state in ("Staging", "FactSales", "Aggregates", "Publish", "LoadWarehouse"):
            assert f"ok first run: {state}" in demo.stdout, state
        assert "incremental run" not in demo.stdout
        assert demo.stdout.count("warehouse holds every analytics row") == 1
        assert (
            "orders as each RDS export had them (time travel by export tag): export | orders" in demo.stdout
        )
        assert "2026-11-01 | 15000" in demo.stdout  # SF 0.01's orders, as of the export's tag
        for title in (
            "rows per zone and table",
            "time per stage",
            "where to look",
            *(q.title for q in BI_QUERIES),
        ):
            assert title in demo.stdout, title
        assert "BI connection:     postgresql://bi_reader" in demo.stdout
        assert "headless Chromium rendered every chart of the report with its data (4 charts)" in demo.stdout
        assert (tmp_path / "report.html").stat().st_size > 1_000_000  # plotly.js inside: opens offline
        # Progress and results only: the handlers' JSON logs went to the stack's log folder.
        assert not [line for line in demo.stdout.splitlines() if line.lstrip().startswith('{"')]
        assert '"level"' in (tmp_path / "stack" / "demo-handlers.log").read_text()
        pids = [p.pid for p in stack.status() if p.pid]
        assert len(pids) == 6  # aws, kafka, api, dispatcher, warehouse, and Trino for the queries

        status = subprocess.run([DP, "stack", "status"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert status.returncode == 0 and status.stdout.count("running") == 6
    finally:
        down = subprocess.run([DP, "stack", "down"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert down.returncode == 0
    assert all(not _group_members(pid) for pid in pids)
