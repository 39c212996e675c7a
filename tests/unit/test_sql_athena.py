"""`dp sql --profile aws` on Athena (moto in this process, as AWS): the query runs in the template's
workgroup, whose enforced settings put its results in the artifacts bucket, and comes back as rows."""

from __future__ import annotations

from typing import Any

import boto3
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.sql.athena import athena_query
from dptools.sam.template import load_template
from dptools.sql_engines import SQL_WORKGROUP
from tests.conftest import ROOT

BUCKET = "dp-artifacts"
WORKGROUP = "dataplatform-dev-sql"


def create_workgroup(settings: Settings) -> None:
    """The template's workgroup, its references resolved to this test's names."""
    props: dict[str, Any] = load_template(ROOT / "template.yaml")["Resources"][SQL_WORKGROUP]["Properties"]
    config = props["WorkGroupConfiguration"]
    results = config["ResultConfiguration"]
    client("s3", settings).create_bucket(Bucket=BUCKET)
    boto3.client("athena", region_name=settings.region).create_work_group(
        Name=WORKGROUP,
        Configuration={
            "EnforceWorkGroupConfiguration": config["EnforceWorkGroupConfiguration"],
            "BytesScannedCutoffPerQuery": 10_000_000,
            "ResultConfiguration": {
                "OutputLocation": results["OutputLocation"]["Fn::Sub"].replace("${ArtifactsBucket}", BUCKET),
                "EncryptionConfiguration": {
                    "EncryptionOption": results["EncryptionConfiguration"]["EncryptionOption"],
                    "KmsKey": "arn:aws:kms:us-east-1:123456789012:key/data",
                },
            },
        },
    )


def varchar(name: str) -> dict[str, Any]:
    return {"Name": name, "Label": name, "Type": "varchar", "Nullable": "UNKNOWN", "CaseSensitive": True}


def test_a_query_runs_in_the_workgroup_and_its_rows_come_back(mocked_aws: Settings) -> None:
    create_workgroup(mocked_aws)
    athena_backends[DEFAULT_ACCOUNT_ID][mocked_aws.region].query_results_queue.append(
        QueryResults(
            rows=[
                {"Data": [{"VarCharValue": v} for v in row]}
                for row in (("n_name",), ("ALGERIA",), ("BRAZIL",))
            ],
            column_info=[varchar("n_name")],
        )
    )

    result = athena_query("SELECT n_name FROM staging.nation ORDER BY 1", mocked_aws, WORKGROUP)

    assert result.columns == ("n_name",)
    assert result.rows == [("ALGERIA",), ("BRAZIL",)]
    athena = boto3.client("athena", region_name=mocked_aws.region)
    (execution,) = athena.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
    ran = athena.get_query_execution(QueryExecutionId=execution)["QueryExecution"]
    assert ran["Query"] == "SELECT n_name FROM staging.nation ORDER BY 1"
    assert ran["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{BUCKET}/athena/")
