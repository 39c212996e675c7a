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
DEMO_TIMEOUT_S = 1500  # two transform runs now: a dozen local Spark jobs each, on a loaded 2-core machine


@pytest.mark.timeout(DEMO_TIMEOUT_S + 120)
def test_demo_reports_success_and_stack_down_leaves_no_process(tmp_path: Path) -> None:
    """The whole demo at SF 0.01 (`make demo` runs SF 0.1; the flow is the same): both passes of every
    source, two transform runs that load the warehouse, the summary, the report checked in Chromium."""
    env = {**os.environ, "DP_LOCAL_DIR": str(tmp_path)}
    stack = LocalStack(paths=LocalPaths(tmp_path))
    try:
        demo = subprocess.run(
            [DP, "demo", "--scale", "0.01"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEMO_TIMEOUT_S,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "export tpch-2026-11-01 cataloged" in demo.stdout
        assert "export tpch-2026-11-02 cataloged" in demo.stdout
        assert "raw.reviews__reviews: committed, 50000 records landed" in demo.stdout
        assert demo.stdout.count("streaming job landed every event") == 2
        for run in ("first run", "incremental run"):
            for state in ("Staging", "FactSales", "Aggregates", "Publish", "LoadWarehouse"):
                assert f"ok {run}: {state}" in demo.stdout, (run, state)
        assert demo.stdout.count("warehouse holds every analytics row") == 2
        assert (
            "orders as each RDS export had them (time travel by export tag): export | orders" in demo.stdout
        )
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
