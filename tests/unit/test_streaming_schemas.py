"""On EMR the job reads its topics' schemas from where `make deploy` uploaded them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.spark.artifacts import upload_spark_artifacts
from dataplatform.streaming.job import StreamConfig, local_schemas
from tests.conftest import ROOT


def test_deployed_schemas_are_fetched_and_load(mocked_aws: Settings, tmp_path: Path) -> None:
    s3 = client("s3", mocked_aws)
    s3.create_bucket(Bucket="artifacts")
    keys = upload_spark_artifacts(mocked_aws, "artifacts", ROOT, tmp_path)
    assert "spark/streaming/schemas/clickstream.json" in keys
    folder = local_schemas("s3://artifacts/spark/streaming/schemas", s3)
    config = StreamConfig("clickstream", ("clickstream",), "b:9092", "s3://raw/_checkpoints/c", folder)
    assert config.schemas()["clickstream"].document["title"] == "clickstream"
    assert (folder / "clickstream.json").read_bytes() == (
        ROOT / "streaming/schemas/clickstream.json"
    ).read_bytes()


def test_a_topic_without_a_schema_is_refused(tmp_path: Path) -> None:
    config = StreamConfig("s", ("clickstream", "orders"), "b:9092", "ckpt", ROOT / "streaming/schemas")
    with pytest.raises(ValueError, match=r"no event schema for topics \['orders'\]"):
        config.schemas()
