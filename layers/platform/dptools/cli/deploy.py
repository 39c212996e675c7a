"""`dp deploy-artifacts`: what EMR Serverless runs, uploaded to the deployed stack's artifacts bucket."""

from __future__ import annotations

from typing import Annotated

import typer

from dataplatform.aws import client
from dataplatform.settings import load_settings
from dataplatform.spark.artifacts import upload_spark_artifacts
from dptools.cli.console import out
from dptools.local.paths import LocalPaths, project_root


def deploy_artifacts(
    stack_name: Annotated[
        str, typer.Option("--stack", help="The deployed stack whose artifacts bucket to fill.")
    ],
) -> None:
    """Upload the Spark jobs, the package zip and the Kafka jars to the stack's artifacts bucket."""
    settings = load_settings(profile="aws")
    outputs = client("cloudformation", settings).describe_stacks(StackName=stack_name)["Stacks"][0]["Outputs"]
    bucket = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ArtifactsBucketName")
    keys = upload_spark_artifacts(settings, bucket, project_root(), LocalPaths.default().jars / "spark")
    out.print(f"uploaded {len(keys)} artifacts to s3://{bucket}/")
