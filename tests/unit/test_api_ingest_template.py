"""template.yaml has, for every source definition, its schedules, no-data alarms and least-privilege IAM."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dataplatform.api_ingest.definition import NoAuth, SourceDefinition, load_sources
from dataplatform.api_ingest.request import IngestEvent
from dptools.sam.template import load_template
from tests.conftest import ROOT

FUNCTION = "ApiIngestFunction"
STATE_MACHINE = "ApiIngestBatchStateMachine"  # what the schedules of sources marked `runner: batch` start
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PROPS: dict[str, Any] = RESOURCES[FUNCTION]["Properties"]


def _sources() -> dict[str, SourceDefinition]:
    env_names = set(re.findall(r"\$\{(DP_SOURCE_[A-Z0-9_]+)\}", _definition_text()))
    return load_sources(
        ROOT / "functions/api_ingest/sources", {name: "https://x.example" for name in env_names}
    )


def _definition_text() -> str:
    return "".join(p.read_text() for p in (ROOT / "functions/api_ingest/sources").glob("*.yaml"))


SOURCES = _sources()
PAIRS = [(s.name, e.name) for s in SOURCES.values() for e in s.endpoints]


def _schedules(resource: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for event in RESOURCES[resource]["Properties"].get("Events", {}).values():
        assert event["Type"] == "ScheduleV2", "api_ingest is started by EventBridge Scheduler only"
        given = json.loads(event["Properties"]["Input"])
        assert given["scheduled_time"] == "<aws.scheduler.scheduled-time>", "run ids come from it"
        IngestEvent.model_validate({**given, "scheduled_time": "2026-01-01T00:00:00Z"})
        found[(given["source"], given["endpoint"])] = event["Properties"]
    return found


def _statements() -> list[dict[str, Any]]:
    """The function's IAM statements, those of the managed policies it names included."""
    documents = [
        RESOURCES[policy["Ref"]]["Properties"]["PolicyDocument"] if "Ref" in policy else policy
        for policy in PROPS["Policies"]
    ]
    return [s for document in documents for s in document["Statement"]]


@pytest.mark.parametrize(("runner", "resource"), [("lambda", FUNCTION), ("batch", STATE_MACHINE)])
def test_every_endpoint_has_exactly_one_schedule_as_defined_on_its_runner(runner: str, resource: str) -> None:
    schedules = _schedules(resource)
    assert sorted(schedules) == sorted((s, e) for s, e in PAIRS if SOURCES[s].runner == runner)
    for source_name, endpoint_name in schedules:
        source = SOURCES[source_name]
        props = schedules[(source_name, endpoint_name)]
        assert props["ScheduleExpression"] == source.schedule_of(source.endpoint(endpoint_name))
        assert props["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["ApiIngestDeadLetterQueue", "Arn"]}}


@pytest.mark.parametrize(("source_name", "endpoint_name"), PAIRS)
def test_every_endpoint_has_a_no_data_alarm_over_its_expected_cadence(
    source_name: str, endpoint_name: str
) -> None:
    source = SOURCES[source_name]
    wanted = {"service": "api_ingest", "source": source_name, "endpoint": endpoint_name}
    alarms = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("MetricName") == "RecordsIngested"
        and {d["Name"]: d["Value"] for d in r["Properties"]["Dimensions"]} == wanted
    ]
    assert len(alarms) == 1
    alarm = alarms[0]
    window = alarm["Period"] * alarm["EvaluationPeriods"]
    assert window == source.expected_every_of(source.endpoint(endpoint_name)).total_seconds()
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching", "no run at all is no data too"


def test_iam_reaches_only_the_sources_own_tables_state_and_secrets() -> None:
    statements = {s["Sid"]: s for s in _statements()}
    tables = json.dumps(statements["OwnRawCatalogTables"]["Resource"])
    objects = json.dumps(statements["WriteOwnRawTables"]["Resource"])
    keys = statements["OwnStateItems"]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    for source in SOURCES.values():
        assert f"table/raw/{source.name}__*" in tables
        assert f"iceberg/raw/{source.name}__*" in objects
        assert f"{source.name}/*" in keys
    assert "table/raw/*" not in tables and "iceberg/raw/*" not in objects
    assert len(keys) == len(SOURCES)

    secret_refs = statements["OwnSecrets"]["Resource"]
    secret_refs = secret_refs if isinstance(secret_refs, list) else [secret_refs]
    names = {RESOURCES[ref["Ref"]]["Properties"]["Name"]["Fn::Sub"] for ref in secret_refs if "Ref" in ref}
    wanted = {
        f"${{AWS::StackName}}/{s.auth.secret}" for s in SOURCES.values() if not isinstance(s.auth, NoAuth)
    }
    assert names == wanted


def test_the_function_sets_every_variable_the_definitions_read() -> None:
    variables = PROPS["Environment"]["Variables"]
    for name in set(re.findall(r"\$\{(DP_SOURCE_[A-Z0-9_]+)\}", _definition_text())):
        assert name in variables
    assert variables["DP_SECRET_PREFIX"] == {"Fn::Sub": "${AWS::StackName}/"}
