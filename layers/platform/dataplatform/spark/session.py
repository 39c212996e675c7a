"""One factory for the Spark session, local or EMR Serverless, so job files never know where they run.

Locally: `local[*]` PySpark with the jars of `spark_jars_dir` (.local/jars/spark), bound to loopback, and
the Iceberg Glue catalog whose Glue and S3 endpoints point at the local AWS. In AWS: the same catalog settings as `sparkSubmitParameters`
of an EMR Serverless job run, with EMR's own Iceberg runtime and our Kafka connector jars from S3.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dataplatform.settings import (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    DEFAULT_REGION,
    LOCAL_CREDENTIALS,
    Settings,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CATALOG = "glue"
SPARK_PREFIX = "spark"  # where `make deploy` puts jobs, jars and the package in the artifacts bucket
LOOPBACK = "127.0.0.1"
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
        # Lambdas and other jobs commit to the same tables; a cached table would hide their snapshots.
        f"{prefix}.cache-enabled": "false",
    }
    local = settings.local_aws()
    if local:
        conf.update(
            {
                f"{prefix}.glue.endpoint": local.endpoint_url,
                f"{prefix}.s3.endpoint": local.endpoint_url,
                f"{prefix}.s3.path-style-access": "true",
                f"{prefix}.s3.access-key-id": local.access_key_id,
                f"{prefix}.s3.secret-access-key": local.secret_access_key,
            }
        )
    return conf


def local_session_conf(jars: Iterable[Path], region: str, master: str = "local[*]") -> dict[str, str]:
    """A local session without a catalog: jars, Iceberg's SQL extensions, small shuffles, UTC, no UI,
    and the driver bound to and advertised on 127.0.0.1 only.

    The jars go on the driver's class path, not `spark.jars`: in local mode the executor is the driver's
    JVM, and `spark.jars` would copy their 110 MB into a temp folder at every session start (and leave
    it behind when the process is killed)."""
    # The AWS SDK in the driver reads Glue credentials and region from Java system properties.
    key, secret = LOCAL_CREDENTIALS[AWS_ACCESS_KEY_ID], LOCAL_CREDENTIALS[AWS_SECRET_ACCESS_KEY]
    sdk = f"-Daws.accessKeyId={key} -Daws.secretAccessKey={secret} -Daws.region={region}"
    return {
        "spark.master": master,
        "spark.driver.extraClassPath": os.pathsep.join(str(j) for j in sorted(jars)),
        "spark.sql.extensions": ICEBERG_EXTENSIONS,
        "spark.driver.bindAddress": LOOPBACK,
        "spark.driver.host": LOOPBACK,
        "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "4",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "2g",
        "spark.driver.extraJavaOptions": sdk,
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
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


def local_session(
    app_name: str,
    jars_dir: Path,
    *,
    region: str = DEFAULT_REGION,
    master: str = "local[*]",
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Local PySpark with the project's jars and no catalog: enough for pure DataFrame work, and the
    base that `attach_catalog` gives the lake to."""
    from pyspark.sql import SparkSession

    jars = list(jars_dir.glob("*.jar"))
    if not jars:
        raise RuntimeError(f"no Spark jars in {jars_dir}: run `make setup`")
    # Spark's own start-up resolves the machine's address unless told; everything local stays on loopback.
    os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in {**local_session_conf(jars, region, master), **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def attach_catalog(spark: SparkSession, settings: Settings) -> SparkSession:
    """Make the profile's Iceberg Glue catalog the session's default. Catalogs load lazily from SQL conf,
    so a running local session takes it without a restart."""
    for key, value in iceberg_catalog_conf(settings).items():
        if key != "spark.sql.extensions":  # static: set when the session was built
            spark.conf.set(key, value)
    return spark


def build_session(
    app_name: str,
    settings: Settings,
    *,
    master: str = "local[*]",
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """The session for `settings`: local PySpark on the local profile (jars from `spark_jars_dir`),
    else whatever EMR configured; either way with the Iceberg Glue catalog as the default."""
    from pyspark.sql import SparkSession

    if settings.is_local:
        jars_dir = Path(settings.require("spark_jars_dir"))
        conf = {**iceberg_catalog_conf(settings), **(extra_conf or {})}
        return local_session(app_name, jars_dir, region=settings.region, master=master, extra_conf=conf)
    builder = SparkSession.builder.appName(app_name)
    for key, value in (extra_conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
