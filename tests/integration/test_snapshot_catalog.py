"""RDS snapshot exports become raw Iceberg tables, on the local stack, through the template's own rule.

GIVEN a TPC-H SF 0.01 database exported in RDS's layout to the local raw bucket,
WHEN its export_info object lands (S3 -> EventBridge wildcard rule -> dispatcher -> snapshot_catalog),
THEN all 8 tables are registered without copying data, a later export replaces them in one snapshot
each, earlier exports stay reachable by tag, replays change nothing, and bad exports are rejected whole.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dataplatform.aws import client
from dataplatform.iceberg.catalog import glue_catalog
from dataplatform.iceberg.summary import EXPORT_ID
from dataplatform.settings import Settings
from dataplatform.snapshot_catalog.catalog_export import (
    QUARANTINE_PREFIX,
    CatalogDeps,
    catalog_export,
)
from dptools.cli.main import app
from dptools.samples.rds_export import TABLES, generate_tpch, land_rds_export, write_rds_export
from tests.conftest import ROOT, bus_listener, wait_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FIRST, SECOND = date(2026, 11, 1), date(2026, 11, 2)
ROWS_PER_PART = 4_000  # several part files per big table even at SF 0.01


@pytest.fixture(scope="module")
def tpch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_tpch(0.01, tmp_path_factory.mktemp("tpch"))


@pytest.fixture(scope="module")
def s3(stack_settings: Settings) -> S3Client:
    return client("s3", stack_settings)


@pytest.fixture(scope="module")
def bucket(stack_settings: Settings) -> str:
    return stack_settings.require("raw_bucket")


@pytest.fixture(scope="module")
def cataloged_events(stack_settings: Settings) -> Callable[[], list[dict[str, Any]]]:
    """A queue that receives every SnapshotCataloged on the platform bus, like a downstream consumer."""
    pattern = {"source": ["dataplatform.snapshot_catalog"], "detail-type": ["SnapshotCataloged"]}
    return bus_listener(stack_settings, "test-snapshot-cataloged", pattern)


def land_export(settings: Settings, tpch: Path, day: date, **kwargs: Any) -> str:
    """Write an export the way RDS does and wait until the function has cataloged it."""
    return land_rds_export(settings, tpch, day, timeout_s=90, rows_per_part=ROWS_PER_PART, **kwargs).export_id


@pytest.fixture(scope="module")
def first_export(
    stack_settings: Settings, tpch: Path, cataloged_events: Callable[[], list[dict[str, Any]]]
) -> str:
    return land_export(stack_settings, tpch, FIRST)


def raw_tables(settings: Settings) -> dict[str, Any]:
    catalog = glue_catalog(settings)
    return {name: catalog.load_table(f"raw.tpch__public__{name}") for name in TABLES}


def current_snapshots(settings: Settings) -> dict[str, int | None]:
    catalog = glue_catalog(settings)
    snapshots: dict[str, int | None] = {}
    for name in TABLES:
        snapshot = catalog.load_table(f"raw.tpch__public__{name}").current_snapshot()
        snapshots[name] = snapshot.snapshot_id if snapshot else None
    return snapshots


def test_an_export_registers_all_eight_tables_with_the_sources_row_counts(
    first_export: str, stack_settings: Settings, tpch: Path, bucket: str
) -> None:
    tables = raw_tables(stack_settings)
    for name, table in tables.items():
        assert table.scan().to_arrow().num_rows == pq.read_metadata(tpch / f"{name}.parquet").num_rows, name
        [snapshot] = table.snapshots()
        assert snapshot.summary[EXPORT_ID] == first_export
        assert table.metadata.refs["export-2026-11-01"].snapshot_id == snapshot.snapshot_id
    lineitem = tables["lineitem"]
    files = [task.file.file_path for task in lineitem.scan().plan_files()]
    assert len(files) > 1 and all(
        f.startswith(f"s3://{bucket}/exports/{first_export}/tpch/public.lineitem/") for f in files
    )
    orders = tables["orders"]
    assert orders.properties["rds.original-type.o_totalprice"] == "numeric(15,2)"
    assert orders.properties["rds.original-type.o_orderdate"] == "date"
    assert str(orders.schema().find_field("o_totalprice").field_type) == "string"


def test_the_export_is_announced_once_on_the_platform_bus(
    first_export: str, cataloged_events: Callable[[], list[dict[str, Any]]]
) -> None:
    wait_for(
        lambda: any(e["detail"]["export_id"] == first_export for e in cataloged_events()), 10, "the event"
    )
    [event] = [e for e in cataloged_events() if e["detail"]["export_id"] == first_export]
    assert {t["table"] for t in event["detail"]["tables"]} == {f"raw.tpch__public__{n}" for n in TABLES}
    assert sum(t["record_count"] for t in event["detail"]["tables"] if t["table"].endswith("__region")) == 5


def test_a_replay_changes_nothing_and_emits_nothing(
    first_export: str, stack_settings: Settings, cataloged_events: Callable[[], list[dict[str, Any]]]
) -> None:
    before = current_snapshots(stack_settings)
    cataloged_events()
    event = ROOT / "events/snapshot_catalog/export_completed.json"
    for _ in range(2):
        result = CliRunner().invoke(
            app,
            [
                "invoke",
                "SnapshotCatalogFunction",
                "-e",
                str(event),
                "--endpoint-url",
                stack_settings.endpoint_url or "",
            ],
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout.splitlines()[-1])["status"] == "already-registered"
    assert current_snapshots(stack_settings) == before
    time.sleep(1)
    assert len([e for e in cataloged_events() if e["detail"]["export_id"] == first_export]) == 1


def test_a_later_export_is_the_new_snapshot_and_the_first_stays_reachable_by_tag(
    first_export: str, tpch: Path, stack_settings: Settings
) -> None:
    second = land_export(stack_settings, tpch, SECOND)
    tables = raw_tables(stack_settings)
    orders = tables["orders"]
    assert orders.current_snapshot().summary[EXPORT_ID] == second
    assert orders.current_snapshot().summary.operation.value == "overwrite"
    first_rows = orders.scan(snapshot_id=orders.metadata.refs["export-2026-11-01"].snapshot_id).to_arrow()
    second_rows = orders.scan().to_arrow()
    assert first_rows.num_rows == 15_000
    assert second_rows.num_rows == 15_075  # 0.5% new orders
    changed = pa.compute.sum(
        pa.compute.equal(second_rows.sort_by("o_orderkey")["o_orderstatus"].slice(0, 15_000), "F")
    )
    assert changed.as_py() > pa.compute.sum(pa.compute.equal(first_rows["o_orderstatus"], "F")).as_py()
    for name, table in tables.items():
        assert len(table.snapshots()) == 2, name
        assert {"export-2026-11-01", "export-2026-11-02"} <= set(table.metadata.refs), name


def _rewrite(body: bytes, change: Callable[[pa.Table], pa.Table]) -> bytes:
    out = io.BytesIO()
    pq.write_table(change(pq.read_table(io.BytesIO(body))), out, compression="gzip")
    return out.getvalue()


def test_schema_changes_between_exports_evolve_the_table(
    first_export: str, s3: S3Client, bucket: str, tpch: Path, stack_settings: Settings
) -> None:
    files: dict[str, bytes] = {}
    export = write_rds_export(files.__setitem__, tpch, date(2026, 11, 3), bucket, ROWS_PER_PART)
    for key in list(files):
        if "/public.customer/" in key:
            files[key] = _rewrite(
                files[key], lambda t: t.append_column("c_loyalty", pa.array([7] * t.num_rows, pa.int32()))
            )
        if "/public.nation/" in key:
            files[key] = _rewrite(
                files[key], lambda t: t.set_column(0, "n_nationkey", t["n_nationkey"].cast(pa.int64()))
            )
    deps = CatalogDeps.from_settings(stack_settings)
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key.replace("exports/", "evolving/exports/", 1), Body=body)
    result = catalog_export(bucket, export.info_key.replace("exports/", "evolving/exports/", 1), deps)
    assert result.status == "registered", result.message
    tables = raw_tables(stack_settings)
    customer = tables["customer"]
    assert str(customer.schema().find_field("c_loyalty").field_type) == "int"
    assert set(customer.scan().to_arrow()["c_loyalty"].to_pylist()) == {7}
    older = customer.scan(snapshot_id=customer.metadata.refs["export-2026-11-01"].snapshot_id).to_arrow()
    assert (
        older.num_rows == 1500 and "c_loyalty" not in older.schema.names
    )  # time travel reads the old schema
    assert str(tables["nation"].schema().find_field("n_nationkey").field_type) == "long"


BAD_DAY = date(2026, 11, 20)


def _status(info: dict[str, Any], status: str, progress: int) -> None:
    info.update(status=status, percentProgress=progress)


def _tables_info_keys(files: dict[str, bytes]) -> list[str]:
    return sorted(k for k in files if "export_tables_info_" in k)


def _corrupt_last_table(files: dict[str, bytes]) -> None:
    key = sorted(k for k in files if "/public.lineitem/" in k)[-1]
    files[key] = b"PAR1 this is not parquet " + files[key][:100]


def _contradict_sibling(files: dict[str, bytes]) -> None:
    key = sorted(k for k in files if "/public.lineitem/" in k)[-1]
    files[key] = _rewrite(
        files[key], lambda t: t.set_column(0, "l_orderkey", t["l_orderkey"].cast(pa.string()))
    )


def _fail_a_table(files: dict[str, bytes]) -> None:
    key = _tables_info_keys(files)[-1]
    info = json.loads(files[key])
    info["perTableStatus"][-1].update(status="FAILED", warningMessage="out of disk")
    files[key] = json.dumps(info).encode()


def _drop(files: dict[str, bytes], key: str) -> None:
    del files[key]


def _empty(files: dict[str, bytes]) -> None:
    for key in [k for k in files if k.endswith(".parquet")]:
        del files[key]


BAD_EXPORTS: dict[str, tuple[Callable[[dict[str, bytes]], None], str]] = {
    "failed": (lambda f: _edit_info(f, lambda i: _status(i, "FAILED", 100)), "status-failed"),
    "canceled": (lambda f: _edit_info(f, lambda i: _status(i, "CANCELED", 30)), "status-canceled"),
    "in-progress": (lambda f: _edit_info(f, lambda i: _status(i, "IN_PROGRESS", 40)), "status-in_progress"),
    "missing-tables-info": (lambda f: _drop(f, _tables_info_keys(f)[0]), "tables-info-missing"),
    "truncated-tables-info": (
        lambda f: f.__setitem__(_tables_info_keys(f)[-1], f[_tables_info_keys(f)[-1]][:200]),
        "tables-info-invalid",
    ),
    "table-not-complete": (_fail_a_table, "table-not-complete"),
    "corrupt-parquet": (_corrupt_last_table, "corrupt-file"),
    "contradicting-schema": (_contradict_sibling, "schema-conflict"),
    "empty-export": (_empty, "empty-export"),
}


def _edit_info(files: dict[str, bytes], change: Callable[[dict[str, Any]], None]) -> None:
    key = next(k for k in files if "/export_info_" in k)
    info = json.loads(files[key])
    change(info)
    files[key] = json.dumps(info).encode()


@pytest.fixture(scope="module")
def clean_bad_export(tpch: Path, bucket: str) -> Iterator[Callable[[str], tuple[dict[str, bytes], str]]]:
    def make(case: str) -> tuple[dict[str, bytes], str]:
        files: dict[str, bytes] = {}
        export = write_rds_export(
            files.__setitem__, tpch, BAD_DAY, bucket, ROWS_PER_PART, prefix=f"bad/{case}"
        )
        return files, export.info_key

    yield make


@pytest.mark.parametrize("case", sorted(BAD_EXPORTS))
def test_a_bad_export_is_rejected_whole(
    case: str,
    first_export: str,
    clean_bad_export: Callable[[str], tuple[dict[str, bytes], str]],
    s3: S3Client,
    bucket: str,
    stack_settings: Settings,
    cataloged_events: Callable[[], list[dict[str, Any]]],
) -> None:
    files, info_key = clean_bad_export(case)
    breaks, reason = BAD_EXPORTS[case]
    breaks(files)
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    before = current_snapshots(stack_settings)
    cataloged_events()

    result = catalog_export(bucket, info_key, CatalogDeps.from_settings(stack_settings))

    assert (result.status, result.reason) == ("rejected", reason), result.message
    assert result.metrics()["ExportsRejected"] == 1
    assert current_snapshots(stack_settings) == before
    record = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{QUARANTINE_PREFIX}/{result.export_id}.json")["Body"].read()
    )
    assert record["reason"] == reason and record["key"] == info_key
    assert not [e for e in cataloged_events() if e["detail"]["export_id"] == result.export_id]
