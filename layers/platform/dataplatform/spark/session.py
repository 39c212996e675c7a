"""One factory for the Spark session, local or EMR Serverless, so job files never know where they run.

Locally: `local[*]` PySpark with the jars from .local/jars/spark, and the Iceberg Glue catalog whose Glue
and S3 endpoints point at the local AWS. In AWS: the same catalog settings as `sparkSubmitParameters`
of an EMR Serverless job run, with EMR's own Iceberg runtime and our Kafka connector jars from S3.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dataplatform.settings import LOCAL_CREDENTIALS, Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CATALOG = "glue"
SPARK_PREFIX = "spark"  # where `make deploy` puts jobs, jars and the package in the artifacts bucket
ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
# Where EMR 7.x keeps its Iceberg runtime (enabled with spark.jars, per the EMR Serverless docs).
EMR_ICEBERG_JAR = "/usr/share/aws/iceberg/lib/iceberg-spark3-runtime.jar"
# The Kafka source and its dependencies are not on EMR; `make deploy` uploads them beside the jobs.
KAFKA_JAR_PREFIXES = ("spark-sql-kafka-", "spark-token-provider-kafka-", "kafka-clients-", "commons-pool2-")


def iceberg_catalog_conf(settings: Settings, warehouse: str | None = None) -> dict[str, str]:
    """Spark conf for the Iceberg Glue catalog, the session's default catalog."""
    prefix = f"spark.sql.catalog.{CATALOG}"
    warehouse = warehouse or f"s3://{settings.require('curated_bucket')}/iceberg"
    conf = {
        "spark.sql.extensions": ICEBERG_EXTENSIONS,
        "spark.sql.defaultCatalog": CATALOG,
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.type": "glue",
        f"{prefix}.io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        f"{prefix}.warehouse": warehouse,
        f"{prefix}.client.region": settings.region,
    }
    if settings.is_local:
        endpoint = settings.require("endpoint_url")
        conf.update(
            {
                f"{prefix}.glue.endpoint": endpoint,
                f"{prefix}.s3.endpoint": endpoint,
                f"{prefix}.s3.path-style-access": "true",
                f"{prefix}.s3.access-key-id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                f"{prefix}.s3.secret-access-key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            }
        )
    return conf


def local_session_conf(settings: Settings, jars: Iterable[Path], master: str = "local[*]") -> dict[str, str]:
    """Everything a local session needs besides the catalog: jars, small shuffles, UTC, no UI."""
    # The AWS SDK in the driver reads Glue credentials and region from Java system properties.
    sdk = (
        f"-Daws.accessKeyId={LOCAL_CREDENTIALS['AWS_ACCESS_KEY_ID']} "
        f"-Daws.secretAccessKey={LOCAL_CREDENTIALS['AWS_SECRET_ACCESS_KEY']} -Daws.region={settings.region}"
    )
    return {
        "spark.master": master,
        "spark.jars": ",".join(str(j) for j in sorted(jars)),
        "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "4",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "2g",
        "spark.driver.extraJavaOptions": sdk,
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        **iceberg_catalog_conf(settings),
    }


def emr_spark_submit_parameters(settings: Settings, artifacts_prefix: str, jar_names: Iterable[str]) -> str:
    """`sparkSubmitParameters` of an EMR Serverless job run with the same catalog as locally.

    `artifacts_prefix` is the S3 folder `make deploy` uploads to (`s3://bucket/prefix`), holding
    `jars/` and `python/dataplatform.zip`.
    """
    kafka_jars = [
        f"{artifacts_prefix}/jars/{n}" for n in sorted(jar_names) if n.startswith(KAFKA_JAR_PREFIXES)
    ]
    conf = {
        "spark.jars": ",".join([EMR_ICEBERG_JAR, *kafka_jars]),
        "spark.submit.pyFiles": f"{artifacts_prefix}/python/dataplatform.zip",
        "spark.sql.session.timeZone": "UTC",
        **iceberg_catalog_conf(settings),
    }
    return " ".join(f"--conf {k}={v}" for k, v in conf.items())


def build_session(
    app_name: str,
    settings: Settings,
    *,
    jars_dir: Path | None = None,
    master: str = "local[*]",
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """The session for `settings`: local PySpark on the local profile, else whatever EMR configured."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if settings.is_local:
        if jars_dir is None:
            from dataplatform.local.paths import LocalPaths

            jars_dir = LocalPaths.default().jars / "spark"
        jars = list(jars_dir.glob("*.jar"))
        if not jars:
            raise RuntimeError(f"no Spark jars in {jars_dir}: run `make setup`")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        for key, value in local_session_conf(settings, jars, master).items():
            builder = builder.config(key, value)
    for key, value in (extra_conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
