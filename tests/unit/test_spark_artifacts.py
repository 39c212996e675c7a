"""`make deploy` uploads what EMR Serverless job runs need, at the keys their parameters name."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.spark.artifacts import package_zip, upload_spark_artifacts
from dataplatform.spark.session import emr_spark_submit_parameters
from tests.conftest import ROOT


def test_the_package_zip_has_the_runtime_package_and_its_quality_rules() -> None:
    names = zipfile.ZipFile(io.BytesIO(package_zip(ROOT / "layers/platform/dataplatform"))).namelist()
    assert "dataplatform/settings.py" in names and "dataplatform/spark/session.py" in names
    assert "dataplatform/transforms/rules/fact_sales.json" in names
    assert all(n.startswith("dataplatform/") for n in names)


def test_the_quality_rules_load_from_the_zip_as_emr_imports_it(tmp_path: Path) -> None:
    archive = tmp_path / "dataplatform.zip"
    archive.write_bytes(package_zip(ROOT / "layers/platform/dataplatform"))
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from dataplatform.transforms.quality import load_rules; "
        "import dataplatform; assert dataplatform.__file__.startswith(sys.argv[1]), dataplatform.__file__; "
        "print(sorted(r.kind for r in load_rules('analytics.fact_sales')))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script, str(archive)], capture_output=True, text=True, check=True, env={}
    ).stdout
    assert "references" in shown and "row_count" in shown


def test_uploads_land_where_the_job_parameters_point(mocked_aws: Settings, tmp_path: Path) -> None:
    jars = tmp_path / "jars"
    jars.mkdir()
    for name in (
        "spark-sql-kafka-0-10_2.12-3.5.7.jar",
        "kafka-clients-3.4.1.jar",
        "iceberg-aws-bundle-1.10.1.jar",
    ):
        (jars / name).write_bytes(b"jar")
    client("s3", mocked_aws).create_bucket(Bucket="artifacts")

    keys = upload_spark_artifacts(mocked_aws, "artifacts", ROOT, jars)

    assert "spark/python/dataplatform.zip" in keys
    assert "spark/jars/iceberg-aws-bundle-1.10.1.jar" not in keys  # EMR ships its own Iceberg
    parameters = emr_spark_submit_parameters(
        mocked_aws.with_overrides(curated_bucket="c"),
        "s3://artifacts/spark",
        [p.name for p in jars.iterdir()],
    )
    uris = parameters.replace(",", " ").replace("=", " ").split()
    named = {u.removeprefix("s3://artifacts/") for u in uris if u.startswith("s3://artifacts/")}
    assert named and named <= set(keys)


def test_the_transform_job_imports_with_only_what_emr_has() -> None:
    """EMR's Python has pyspark but not pyiceberg, pydantic, PyYAML or the tooling."""
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pyiceberg', 'pydantic', 'yaml', 'dptools'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import dataplatform.transforms.steps, dataplatform.transforms.quality\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
