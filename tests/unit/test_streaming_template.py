"""template.yaml's streaming and maintenance parts agree with the code that runs them."""

from __future__ import annotations

import json
from typing import Any

from dataplatform.settings import Settings
from dataplatform.spark.session import emr_spark_submit_parameters
from dptools.sam.template import load_template
from tests.conftest import ROOT

RESOURCES: dict[str, Any] = load_template(ROOT / "template.yaml")["Resources"]


def test_the_maintenance_schedule_submits_what_emr_spark_submit_parameters_makes() -> None:
    target = RESOURCES["MaintenanceSchedule"]["Properties"]["Target"]
    run = json.loads(target["Input"]["Fn::Sub"])
    submit = run["JobDriver"]["SparkSubmit"]
    settings = Settings(curated_bucket="${CuratedBucket}", region="${AWS::Region}")
    assert submit["SparkSubmitParameters"] == emr_spark_submit_parameters(
        settings, "s3://${ArtifactsBucket}/spark", []
    )
    assert submit["EntryPoint"] == "s3://${ArtifactsBucket}/spark/jobs/maintenance.py"
    assert (ROOT / "jobs/maintenance.py").is_file()
    assert run["ClientToken"] == "<aws.scheduler.execution-id>", (
        "a retried delivery must not start a second run"
    )


def test_the_supervisor_runs_a_stream_whose_topics_all_have_a_schema() -> None:
    env = RESOURCES["StreamingSupervisorFunction"]["Properties"]["Environment"]["Variables"]
    assert env["DP_STREAM_TOPICS"] == {"Ref": "StreamTopics"}
    template = load_template(ROOT / "template.yaml")
    topics = template["Parameters"]["StreamTopics"]["Default"].split(",")
    assert all((ROOT / "streaming/schemas" / f"{topic}.json").is_file() for topic in topics)
    assert env["DP_SPARK_JOB_ROLE_ARN"] == {"Fn::GetAtt": ["StreamingJobRole", "Arn"]}
