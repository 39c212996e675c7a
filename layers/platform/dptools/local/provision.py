"""Create the template's resources on the local AWS, and wire each function's event sources.

Everything is read from template.yaml and is idempotent, so every `dp stack up` converges the local
AWS onto the template. Wiring follows what AWS does for an async Lambda trigger: each function gets a
queue the dispatcher drains, and a dead-letter queue for events that keep failing.
"""

from __future__ import annotations

import json
import secrets as secrets_module
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from dataplatform.aws import client
from dataplatform.settings import Settings
from dptools.local.batch_jobs import JOB_DEFINITION, register_job_definition
from dptools.local.deployment import EMR_SERVERLESS_APPLICATION, LocalDeployment
from dptools.local.state_machines import SERVERLESS_STATE_MACHINE, deploy_state_machine
from dptools.sam.functions import FunctionSpec, function_specs
from dptools.sam.template import TemplateError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef
    from mypy_boto3_events.type_defs import TargetTypeDef
    from mypy_boto3_glue.type_defs import DatabaseInputTypeDef

RULE_PREFIX = "dp-local-"
MAX_RECEIVE_COUNT = 3  # Lambda's async invocation: the first try and two retries
RULE_EVENT_TYPES = {"EventBridgeRule", "CloudWatchEvent"}
SCHEDULE_EVENT_TYPES = {"Schedule", "ScheduleV2"}
# What the local AWS holds of the template; the rest (IAM, KMS, alarms, Glue tables the jobs create
# themselves, Batch queues and compute environments) has no local counterpart that the code reads.
PROVISIONED_TYPES = {
    "AWS::S3::Bucket",
    "AWS::Events::EventBus",
    "AWS::Glue::Database",
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::SecretsManager::Secret",
    "AWS::SNS::Topic",
    EMR_SERVERLESS_APPLICATION,
}
DEPLOYED_BY_OWN_MODULE = {
    JOB_DEFINITION: register_job_definition,
    SERVERLESS_STATE_MACHINE: deploy_state_machine,
}


@dataclass(frozen=True)
class Schedule:
    """A schedule of a function, fired by the dispatcher (`dp stack up --schedules`) or `dp invoke`."""

    name: str
    expression: str
    event: dict[str, Any]
    enabled: bool = True


@dataclass(frozen=True)
class FunctionWiring:
    function: str
    queue_url: str
    dlq_url: str
    rules: list[str] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FunctionWiring:
        return cls(
            function=data["function"],
            queue_url=data["queue_url"],
            dlq_url=data["dlq_url"],
            rules=list(data["rules"]),
            schedules=[Schedule(**s) for s in data["schedules"]],
        )


@contextmanager
def _tolerating(code: str) -> Iterator[None]:
    """Swallow the AWS error `code` (an "already exists"), so creating is idempotent."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as exc:
        if exc.response["Error"]["Code"] != code:
            raise


def provision_resources(deployment: LocalDeployment, settings: Settings) -> dict[str, list[str]]:
    """Buckets, buses, Glue databases, queues and tables of the template; returns names by type."""
    s3, events, glue = client("s3", settings), client("events", settings), client("glue", settings)
    sqs, dynamodb = client("sqs", settings), client("dynamodb", settings)
    secrets = client("secretsmanager", settings)
    made: dict[str, list[str]] = {}
    for logical_id, resource in deployment.resources.items():
        rtype = resource["Type"]
        if rtype not in PROVISIONED_TYPES and rtype not in DEPLOYED_BY_OWN_MODULE:
            continue
        name = deployment.physical_name(logical_id)
        if rtype in DEPLOYED_BY_OWN_MODULE:  # they resolve only what runs locally (no image, no roles)
            DEPLOYED_BY_OWN_MODULE[rtype](deployment, logical_id, settings)
            made.setdefault(rtype, []).append(name)
            continue
        props = deployment.resolve(resource.get("Properties", {}))
        if rtype == "AWS::S3::Bucket":
            with _tolerating("BucketAlreadyOwnedByYou"):
                s3.create_bucket(Bucket=name)
            if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            if props.get("NotificationConfiguration", {}).get("EventBridgeConfiguration"):
                s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
                )
        elif rtype == "AWS::Events::EventBus":
            with _tolerating("ResourceAlreadyExistsException"):
                events.create_event_bus(Name=name)
        elif rtype == "AWS::Glue::Database":
            db: DatabaseInputTypeDef = {**props["DatabaseInput"], "Name": name}
            with _tolerating("AlreadyExistsException"):
                glue.create_database(DatabaseInput=db)
        elif rtype == "AWS::SQS::Queue":
            attributes = {
                k: str(v)
                for k, v in props.items()
                if k in {"VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds"}
            }
            sqs.create_queue(QueueName=name, Attributes=attributes)
        elif rtype == "AWS::DynamoDB::Table":
            with _tolerating("ResourceInUseException"):
                dynamodb.create_table(**_table_request(name, props))
        elif rtype == "AWS::SecretsManager::Secret":
            with _tolerating("ResourceExistsException"):  # an existing secret keeps its value
                secrets.create_secret(Name=name, SecretString=_secret_value(props))
        elif rtype == "AWS::SNS::Topic":
            client("sns", settings).create_topic(Name=name)  # idempotent
        elif rtype == EMR_SERVERLESS_APPLICATION:
            try:
                deployment.emr_application_id(name, settings)
            except TemplateError:  # EMR Serverless allows two applications of one name: look first
                created = client("emr-serverless", settings).create_application(
                    name=name, releaseLabel=props["ReleaseLabel"], type=props["Type"], clientToken=name
                )
                deployment.remember_application(name, created["applicationId"])
        else:
            continue
        made.setdefault(rtype, []).append(name)
    return made


def _secret_value(props: Mapping[str, Any]) -> str:
    """The secret's initial value, as CloudFormation makes it: given, or generated from its template."""
    if "SecretString" in props:
        return str(props["SecretString"])
    generate = props.get("GenerateSecretString", {})
    value = json.loads(generate.get("SecretStringTemplate", "{}"))
    if "GenerateStringKey" in generate:
        value[generate["GenerateStringKey"]] = secrets_module.token_urlsafe(24)
    return json.dumps(value)


def _table_request(name: str, props: Mapping[str, Any]) -> CreateTableInputTypeDef:
    request: CreateTableInputTypeDef = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "LocalSecondaryIndexes" in props:
        request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
    return request


def _as_text(value: Any) -> str:
    """A rule target's Input as EventBridge takes it: a JSON text (the template may give an object)."""
    return value if isinstance(value, str) else json.dumps(value)


def _schedule_event(
    source_type: str, props: Mapping[str, Any], deployment: LocalDeployment
) -> dict[str, Any]:
    """The event a schedule delivers: the target `Input` for ScheduleV2, an EventBridge envelope else."""
    given = props.get("Input")
    if given is not None:
        return dict(json.loads(given) if isinstance(given, str) else given)
    return {
        "version": "0",
        "id": "local-schedule",
        "detail-type": "Scheduled Event",
        "source": "aws.events" if source_type == "Schedule" else "aws.scheduler",
        "account": deployment.account,
        "time": "1970-01-01T00:00:00Z",
        "region": deployment.region,
        "resources": [],
        "detail": {},
    }


def wire_function(spec: FunctionSpec, deployment: LocalDeployment, settings: Settings) -> FunctionWiring:
    sqs, events = client("sqs", settings), client("events", settings)
    base = f"{RULE_PREFIX}{spec.logical_id}"
    dlq_url = sqs.create_queue(QueueName=f"{base}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)})
    queue_url = sqs.create_queue(
        QueueName=base, Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": str(spec.timeout_s)}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    wiring = FunctionWiring(spec.logical_id, queue_url, dlq_url)
    for source in spec.events:
        props = deployment.resolve(dict(source.properties))
        if source.type in RULE_EVENT_TYPES:
            rule = f"{base}-{source.name}"
            bus = props.get("EventBusName", "default")
            events.put_rule(
                Name=rule, EventBusName=bus, EventPattern=json.dumps(props["Pattern"]), State="ENABLED"
            )
            target: TargetTypeDef = {"Id": "dispatcher", "Arn": queue_arn}
            if "Input" in props:
                target["Input"] = _as_text(props["Input"])
            if "InputPath" in props:
                target["InputPath"] = _as_text(props["InputPath"])
            events.put_targets(Rule=rule, EventBusName=bus, Targets=[target])
            wiring.rules.append(f"{bus}/{rule}")
        elif source.type in SCHEDULE_EVENT_TYPES:
            expression = props.get("Schedule") or props.get("ScheduleExpression")
            enabled = props.get("Enabled", True) and props.get("State", "ENABLED") == "ENABLED"
            event = _schedule_event(source.type, props, deployment)
            wiring.schedules.append(Schedule(source.name, str(expression), event, bool(enabled)))
    return wiring


def remove_stale_rules(wirings: list[FunctionWiring], settings: Settings, buses: list[str]) -> list[str]:
    """Rules of an earlier template that the current one no longer has."""
    events = client("events", settings)
    wanted = {rule for w in wirings for rule in w.rules}
    removed = []
    for bus in ["default", *buses]:
        for rule in events.list_rules(NamePrefix=RULE_PREFIX, EventBusName=bus).get("Rules", []):
            key = f"{bus}/{rule['Name']}"
            if key in wanted:
                continue
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus).get("Targets", [])
            if targets:
                events.remove_targets(Rule=rule["Name"], EventBusName=bus, Ids=[t["Id"] for t in targets])
            events.delete_rule(Name=rule["Name"], EventBusName=bus)
            removed.append(key)
    return removed


def wire_functions(deployment: LocalDeployment, settings: Settings) -> list[FunctionWiring]:
    specs = function_specs(deployment.template, deployment.template_path.parent)
    wirings = [wire_function(spec, deployment, settings) for spec in specs.values()]
    buses = [deployment.physical_name(b) for b in deployment.of_type("AWS::Events::EventBus")]
    remove_stale_rules(wirings, settings, buses)
    return wirings
