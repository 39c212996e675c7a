"""template.yaml's snapshot_export part agrees with the code: the rules match the RDS events the code acts
on, the sweep sends what the code parses, every alarming outcome has an alarm, and RDS's export role and
key reach no further than the export prefix."""

from __future__ import annotations

import json
from typing import Any

from dataplatform import settings
from dataplatform.snapshot_export.result import ALARMING, METRICS
from dataplatform.snapshot_export.snapshots import EXPORT_PREFIX
from dataplatform.snapshot_export.triggers import (
    AUTOMATED_SNAPSHOT_CREATED,
    EXPORT_ENDED,
    RDS_SNAPSHOT_DETAIL_TYPES,
    SnapshotExportEvent,
    SweepRequest,
)
from dptools.sam.template import load_template
from tests.conftest import ROOT

RESOURCES: dict[str, Any] = load_template(ROOT / "template.yaml")["Resources"]
FUNCTION: dict[str, Any] = RESOURCES["SnapshotExportFunction"]["Properties"]


def _statements(policy_document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy_document["Statement"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_rules_deliver_exactly_the_rds_events_the_code_acts_on() -> None:
    rules = {
        name: e["Properties"]["Pattern"]
        for name, e in FUNCTION["Events"].items()
        if e["Type"] == "EventBridgeRule"
    }
    for pattern in rules.values():
        assert pattern["source"] == ["aws.rds"]
        assert tuple(pattern["detail-type"]) == RDS_SNAPSHOT_DETAIL_TYPES
    assert set(rules["AutomatedSnapshotCreated"]["detail"]["EventID"]) == AUTOMATED_SNAPSHOT_CREATED
    assert set(rules["ExportEnded"]["detail"]["EventID"]) == EXPORT_ENDED


def test_the_sweep_schedule_sends_a_sweep_the_function_parses() -> None:
    schedule = FUNCTION["Events"]["Sweep"]
    assert schedule["Type"] == "ScheduleV2"
    given = json.loads(schedule["Properties"]["Input"])
    assert given == {"sweep_at": "<aws.scheduler.scheduled-time>"}, "the sweep's clock is its scheduled time"
    event = SnapshotExportEvent.model_validate({"sweep_at": "2026-11-01T00:30:00Z"}).root
    assert isinstance(event, SweepRequest)
    assert schedule["Properties"]["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": ["SnapshotExportDeadLetterQueue", "Arn"]}
    }


def test_starts_are_serialised_so_the_count_of_running_exports_holds() -> None:
    assert FUNCTION["ReservedConcurrentExecutions"] == 1


def test_the_environment_names_only_settings_constants() -> None:
    names = {value for key, value in vars(settings).items() if key.isupper() and isinstance(value, str)}
    env = FUNCTION["Environment"]["Variables"]
    assert set(env) - {"POWERTOOLS_SERVICE_NAME"} <= names
    assert env["DP_EXPORT_ROLE_ARN"] == {"Fn::GetAtt": ["ExportRole", "Arn"]}
    assert env["DP_EXPORT_KMS_KEY"] == {"Fn::GetAtt": ["ExportKey", "Arn"]}


def test_every_alarming_outcome_has_an_alarm_on_its_metric() -> None:
    alarmed = {
        alarm["Properties"]["MetricName"]
        for alarm in RESOURCES.values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
        and alarm["Properties"].get("Dimensions") == [{"Name": "service", "Value": "snapshot_export"}]
    }
    assert {METRICS[outcome] for outcome in ALARMING} <= alarmed
    assert "ExportsWaiting" in alarmed


def test_rds_writes_only_the_export_prefix_of_the_raw_bucket() -> None:
    role = RESOURCES["ExportRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "export.rds.amazonaws.com"}
    [policy] = role["Policies"]
    statements = _statements(policy["PolicyDocument"])
    assert statements["WriteExportPrefix"]["Resource"] == {"Fn::Sub": f"${{RawBucket.Arn}}/{EXPORT_PREFIX}/*"}
    assert statements["ListExportPrefix"]["Condition"] == {
        "StringLike": {"s3:prefix": [f"{EXPORT_PREFIX}/*"]}
    }
    writes = [a for s in statements.values() for a in _as_list(s["Action"]) if "Put" in a or "Delete" in a]
    assert writes and all(
        s["Resource"] == {"Fn::Sub": f"${{RawBucket.Arn}}/{EXPORT_PREFIX}/*"}
        for s in statements.values()
        if set(_as_list(s["Action"])) & set(writes)
    )


def test_snapshot_catalog_listens_where_exports_land() -> None:
    pattern = RESOURCES["SnapshotCatalogFunction"]["Properties"]["Events"]["ExportInfoCreated"]["Properties"]
    assert pattern["Pattern"]["detail"]["object"]["key"] == [
        {"wildcard": f"{EXPORT_PREFIX}/*/export_info_*.json"}
    ]


def test_the_export_key_is_for_rds_the_starter_and_the_readers_only() -> None:
    key = RESOURCES["ExportKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = _statements(key["KeyPolicy"])
    assert statements["RdsExportEncrypts"]["Principal"] == {"AWS": {"Fn::GetAtt": ["ExportRole", "Arn"]}}
    grants = statements["StarterGrantsRdsTheKey"]
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    readers = {p["Fn::GetAtt"][0] for p in statements["ReadersDecrypt"]["Principal"]["AWS"]}
    assert readers == {"SnapshotExportFunctionRole", "SnapshotCatalogFunctionRole", "SparkJobRole"}
    assert set(statements["ReadersDecrypt"]["Action"]) == {"kms:Decrypt", "kms:DescribeKey"}


def test_the_function_passes_only_the_export_role_and_starts_exports_of_snapshots_only() -> None:
    statements = _statements(FUNCTION["Policies"][0])
    assert statements["PassTheExportRole"]["Resource"] == {"Fn::GetAtt": ["ExportRole", "Arn"]}
    assert statements["StartExports"]["Action"] == "rds:StartExportTask"
    assert all(
        r["Fn::Sub"].endswith(("snapshot:*", "cluster-snapshot:*"))
        for r in statements["StartExports"]["Resource"]
    )
    state = statements["OwnStateItems"]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    assert state == ["snapshot_export/*"]
