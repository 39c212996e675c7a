"""Every sample event in `events/` replays through `dp invoke` on the local stack, as on-call engineers
replay them: by the function's code folder, three times, and the lake is the same after each replay.

(Named to run after test_snapshot_catalog, which wants to see the first SnapshotCataloged of its
export; the export the snapshot_catalog event names is landed here only if it is not there yet, and
the automated snapshot the snapshot_export events name is taken on the local RDS.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dataplatform.aws import client
from dataplatform.settings import Settings
from dptools.cli.main import app
from dptools.local.paths import DP_LOCAL_DIR
from dptools.local.stack import LocalStack
from dptools.samples.rds_export import generate_tpch
from dptools.samples.rds_source import SAMPLE_INSTANCE, take_daily_snapshots
from tests.conftest import ROOT
from tests.integration.test_snapshot_catalog import FIRST, land_export

EVENTS = sorted((ROOT / "events").glob("*/*.json"))
ZONES = ("raw", "staging", "analytics")


def lake_state(settings: Settings) -> dict[str, Any]:
    """What a replay must not change: each Iceberg table's current metadata (the file its Glue entry
    points at), and every object in the lake's buckets (key and ETag)."""
    glue = client("glue", settings)
    tables = {
        f"{zone}.{table['Name']}": table.get("Parameters", {}).get("metadata_location")
        for zone in ZONES
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=zone)
        for table in page["TableList"]
    }
    s3 = client("s3", settings)
    objects = {}
    for bucket in (settings.require("raw_bucket"), settings.require("curated_bucket")):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            objects.update({f"{bucket}/{o['Key']}": o["ETag"] for o in page.get("Contents", [])})
    return {"tables": tables, "objects": objects}


@pytest.fixture(scope="module")
def replayable_stack(
    local_stack: LocalStack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> LocalStack:
    """The shared stack, holding the RDS export that events/snapshot_catalog names, and the automated
    snapshot it is the export of, which events/snapshot_export names."""
    tpch = generate_tpch(0.01, tmp_path_factory.mktemp("tpch"))
    land_export(stack_settings, tpch, FIRST)
    take_daily_snapshots(client("rds", stack_settings), SAMPLE_INSTANCE, [FIRST])
    return local_stack


def test_the_sample_events_cover_every_function_folder() -> None:
    assert {p.parent.name for p in EVENTS} == {
        "api_ingest",
        "snapshot_catalog",
        "snapshot_export",
        "streaming_supervisor",
        "warehouse_load",
    }


@pytest.mark.parametrize("event", EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_replayed_event_changes_nothing_after_its_first_run(
    event: Path, replayable_stack: LocalStack, stack_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DP_LOCAL_DIR, str(replayable_stack.paths.root))
    results, states = [], []
    for _ in range(3):
        run = CliRunner().invoke(app, ["invoke", event.parent.name, "-e", str(event)])
        assert run.exit_code == 0, run.output + repr(run.exception)
        results.append(json.loads(run.stdout.splitlines()[-1]))
        states.append(lake_state(stack_settings))
    assert states[1] == states[0] and states[2] == states[0]
    assert results[1] == results[2]
