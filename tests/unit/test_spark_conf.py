"""Job files run unchanged locally and on EMR Serverless: both get the same Iceberg catalog."""

from pathlib import Path

from dataplatform.settings import Profile, Settings
from dataplatform.spark.session import (
    EMR_ICEBERG_JAR,
    emr_spark_submit_parameters,
    iceberg_catalog_conf,
    local_session_conf,
)

AWS = Settings(profile=Profile.AWS, region="eu-west-1", curated_bucket="curated")
LOCAL = Settings(profile=Profile.LOCAL, endpoint_url="http://127.0.0.1:7000", curated_bucket="curated")
JARS = ["spark-sql-kafka-0-10_2.12-3.5.7.jar", "kafka-clients-3.4.1.jar", "iceberg-aws-bundle-1.10.1.jar"]


def _conf(parameters: str) -> dict[str, str]:
    parts = parameters.split(" ")
    assert parts[::2] == ["--conf"] * (len(parts) // 2)
    return dict(p.split("=", 1) for p in parts[1::2])


def test_emr_parameters_use_glue_in_aws_with_emrs_iceberg_and_our_kafka_jars() -> None:
    conf = _conf(emr_spark_submit_parameters(AWS, "s3://artifacts/spark", JARS))
    assert conf["spark.sql.catalog.glue.type"] == "glue"
    assert conf["spark.sql.catalog.glue.warehouse"] == "s3://curated/iceberg"
    assert conf["spark.sql.catalog.glue.client.region"] == "eu-west-1"
    assert conf["spark.sql.defaultCatalog"] == "glue"
    assert conf["spark.jars"].split(",") == [
        EMR_ICEBERG_JAR,
        "s3://artifacts/spark/jars/kafka-clients-3.4.1.jar",
        "s3://artifacts/spark/jars/spark-sql-kafka-0-10_2.12-3.5.7.jar",
    ]
    assert conf["spark.submit.pyFiles"] == "s3://artifacts/spark/python/dataplatform.zip"
    assert not any("endpoint" in key for key in conf)


def test_local_conf_points_the_same_catalog_at_the_local_aws() -> None:
    conf = {
        **local_session_conf([Path("/j/b.jar"), Path("/j/a.jar")], LOCAL.region, master="local[2]"),
        **iceberg_catalog_conf(LOCAL),
    }
    emr = _conf(emr_spark_submit_parameters(LOCAL.with_overrides(profile=Profile.AWS), "s3://a", []))
    shared = {
        k: v for k, v in emr.items() if k.startswith("spark.sql.catalog.") or k == "spark.sql.extensions"
    }
    assert shared.items() <= conf.items()
    assert conf["spark.sql.catalog.glue.glue.endpoint"] == "http://127.0.0.1:7000"
    assert conf["spark.sql.catalog.glue.s3.endpoint"] == "http://127.0.0.1:7000"
    assert conf["spark.sql.catalog.glue.s3.path-style-access"] == "true"
    assert conf["spark.driver.extraClassPath"] == "/j/a.jar:/j/b.jar"
    assert "spark.jars" not in conf  # local mode: on the class path, never copied per session
    assert conf["spark.master"] == "local[2]"


def test_local_driver_binds_and_advertises_loopback_only() -> None:
    conf = local_session_conf([Path("/j/a.jar")], "us-east-1")
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.driver.host"] == "127.0.0.1"
