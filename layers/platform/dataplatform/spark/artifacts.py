"""What EMR Serverless runs, uploaded to the artifacts bucket by `make deploy`.

Layout under `s3://<artifacts>/spark/`: `jobs/` and `streaming/` (the entry points), `python/
dataplatform.zip` (the shared package, for `spark.submit.pyFiles`) and `jars/` (the Kafka source, which
EMR does not ship). `emr_spark_submit_parameters` points job runs at the same keys.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.spark.session import KAFKA_JAR_PREFIXES, SPARK_PREFIX


def package_zip(package_dir: Path) -> bytes:
    """The runtime package `dataplatform` as a zip for pyFiles, with its data files (the transforms'
    quality rules)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted([*package_dir.rglob("*.py"), *package_dir.rglob("*.json")]):
            archive.write(path, path.relative_to(package_dir.parent).as_posix())
    return buffer.getvalue()


def upload_spark_artifacts(settings: Settings, bucket: str, root: Path, jars_dir: Path) -> list[str]:
    """Upload the job files, the package zip and the Kafka jars; returns the keys written."""
    s3 = client("s3", settings)
    uploads: dict[str, bytes | Path] = {}
    for folder in ("jobs", "streaming"):
        for pattern in ("*.py", "*.json"):  # job files, and the streaming job's event schemas
            for path in sorted((root / folder).rglob(pattern)):
                uploads[f"{SPARK_PREFIX}/{path.relative_to(root).as_posix()}"] = path
    uploads[f"{SPARK_PREFIX}/python/dataplatform.zip"] = package_zip(root / "layers/platform/dataplatform")
    for jar in sorted(jars_dir.glob("*.jar")):
        if jar.name.startswith(KAFKA_JAR_PREFIXES):
            uploads[f"{SPARK_PREFIX}/jars/{jar.name}"] = jar
    for key, body in uploads.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body if isinstance(body, bytes) else body.read_bytes())
    return sorted(uploads)
