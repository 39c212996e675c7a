"""The platform template's base: what every bucket, the bus, the catalog and EMR must have."""

import re
import tomllib
from typing import Any

import pytest

from dptools.sam.template import load_template
from tests.conftest import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
DATA_BUCKETS = ["RawBucket", "CuratedBucket", "ArtifactsBucket"]


def of_type(rtype: str) -> dict[str, Any]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == rtype}


@pytest.mark.parametrize("bucket", DATA_BUCKETS)
def test_data_buckets_are_encrypted_versioned_private_notifying_and_expiring(bucket: str) -> None:
    props = RESOURCES[bucket]["Properties"]
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert (
        all(props["PublicAccessBlockConfiguration"].values())
        and len(props["PublicAccessBlockConfiguration"]) == 4
    )
    assert props["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in r and r["Status"] == "Enabled" for r in rules)


@pytest.mark.parametrize("bucket", [*DATA_BUCKETS, "AccessLogsBucket"])
def test_every_bucket_denies_requests_without_tls(bucket: str) -> None:
    policies = [
        p["Properties"]["PolicyDocument"]
        for p in of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    [policy] = policies
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert any(
        s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == "s3:*" for s in deny
    )


def test_the_platform_bus_has_an_archive_for_replays() -> None:
    [archive] = of_type("AWS::Events::Archive").values()
    assert archive["Properties"]["SourceArn"] == {"Fn::GetAtt": ["PlatformBus", "Arn"]}
    assert archive["Properties"]["RetentionDays"] == {"Ref": "EventArchiveDays"}


def test_the_three_zones_are_glue_databases() -> None:
    names = {db["Properties"]["DatabaseInput"]["Name"] for db in of_type("AWS::Glue::Database").values()}
    assert names == {"raw", "staging", "analytics"}


def test_the_spark_application_runs_an_emr_7_release() -> None:
    [app] = of_type("AWS::EMRServerless::Application").values()
    assert app["Properties"]["Type"] == "SPARK"
    assert app["Properties"]["ReleaseLabel"] == {"Ref": "EmrReleaseLabel"}
    label = TEMPLATE["Parameters"]["EmrReleaseLabel"]
    assert re.fullmatch(label["AllowedPattern"], label["Default"]) and label["Default"].startswith("emr-7.")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_samconfig_fills_the_template_parameters_for_each_stage(stage: str) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())[stage]["deploy"]["parameters"]
    overrides = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', config["parameter_overrides"]))
    assert set(overrides) <= set(TEMPLATE["Parameters"])
    assert overrides["Stage"] == stage
    assert config["stack_name"] == f"dataplatform-{stage}"


def test_functions_and_the_layer_share_one_python_runtime() -> None:
    runtime = TEMPLATE["Globals"]["Function"]["Runtime"]
    [layer] = of_type("AWS::Serverless::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    makefile = (ROOT / "layers/platform/Makefile").read_text()
    assert f"LAMBDA_PYTHON_VERSION := {runtime.removeprefix('python')}" in makefile
