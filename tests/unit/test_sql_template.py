"""template.yaml's SQL part agrees with the code and the issue: dp sql's workgroup exists, enforces its
encrypted results and its bytes-scanned limit, and the analysts' policy reads the lake zones and nothing
else."""

from __future__ import annotations

from typing import Any

from dataplatform.sql.result import ZONES
from dptools.sam.template import load_template
from dptools.sql_engines import SQL_WORKGROUP
from tests.conftest import ROOT

TEMPLATE: dict[str, Any] = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
STATEMENTS: list[dict[str, Any]] = RESOURCES["SqlAnalystPolicy"]["Properties"]["PolicyDocument"]["Statement"]
ZONE_DATABASES = {"raw": "RawDatabase", "staging": "StagingDatabase", "analytics": "AnalyticsDatabase"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A resource as text: the string of a Fn::Sub, the logical id of a Ref or GetAtt."""
    if isinstance(value, dict):
        (name, arg), *_ = value.items()
        return str(arg if name == "Fn::Sub" else arg[0] if name == "Fn::GetAtt" else arg)
    return str(value)


def test_dp_sql_runs_in_a_workgroup_that_enforces_encrypted_results_and_a_scan_limit() -> None:
    workgroup = RESOURCES[SQL_WORKGROUP]
    assert workgroup["Type"] == "AWS::Athena::WorkGroup"
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "SqlBytesScannedCutoffPerQuery"}
    assert TEMPLATE["Parameters"]["SqlBytesScannedCutoffPerQuery"]["MinValue"] >= 10_000_000  # Athena's floor
    results = config["ResultConfiguration"]
    assert results["OutputLocation"] == {"Fn::Sub": "s3://${ArtifactsBucket}/athena/"}
    assert results["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": {"Fn::GetAtt": ["DataKey", "Arn"]},
    }


def test_the_analyst_policy_only_reads_the_zones_and_writes_only_its_results() -> None:
    assert RESOURCES["SqlAnalystPolicy"]["Type"] == "AWS::IAM::ManagedPolicy"
    assert all(s["Effect"] == "Allow" for s in STATEMENTS)
    actions = {a for s in STATEMENTS for a in _as_list(s["Action"])}
    writes = {a for a in actions if a.split(":")[1].startswith(("Put", "Create", "Update", "Delete"))}
    assert writes == {"s3:PutObject"}
    (put,) = [s for s in STATEMENTS if "s3:PutObject" in _as_list(s["Action"])]
    assert [_text(r) for r in _as_list(put["Resource"])] == ["${ArtifactsBucket.Arn}/athena/*"]

    glue = [
        _text(r) for s in STATEMENTS if s["Action"][0].startswith("glue:") for r in _as_list(s["Resource"])
    ]
    databases = {r.split(":database/")[1] for r in glue if ":database/" in r}
    assert databases == {f"${{{ZONE_DATABASES[zone]}}}" for zone in ZONES}
    assert all(":table/" not in r or r.split(":table/")[1].split("/")[0] in databases for r in glue)
    for zone, logical_id in ZONE_DATABASES.items():
        assert RESOURCES[logical_id]["Properties"]["DatabaseInput"]["Name"] == zone

    athena = [
        _text(r) for s in STATEMENTS if s["Action"][0].startswith("athena:") for r in _as_list(s["Resource"])
    ]
    assert any(r.endswith(f":workgroup/${{{SQL_WORKGROUP}}}") for r in athena)
    assert not any(r.endswith("*") for r in athena), "no other workgroup"
