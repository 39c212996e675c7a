"""What the template's resources are called when deployed onto the local AWS.

Names come from the template itself: a resource's own name property (resolved), else
`<stack>-<LogicalId>` as CloudFormation would generate. `Ref` and `Fn::GetAtt` follow each resource
type's CloudFormation semantics, so function environments resolve exactly as they would in AWS.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dataplatform.aws import client
from dataplatform.settings import DEFAULT_REGION, Profile, Settings
from dptools.sam.resources import arn_for
from dptools.sam.template import Context, TemplateError, load_template, parameter_defaults, resolve

LOCAL_ACCOUNT = "123456789012"
LOCAL_STACK_NAME = "dataplatform-local"

# The property that holds each type's physical name, as a path into its Properties.
_NAME_PROPERTY: dict[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::Events::EventBus": ("Name",),
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::Serverless::Function": ("FunctionName",),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::Serverless::StateMachine": ("Name",),
    "AWS::StepFunctions::StateMachine": ("StateMachineName",),
    "AWS::EMRServerless::Application": ("Name",),
    "AWS::Batch::JobDefinition": ("JobDefinitionName",),
    "AWS::Batch::JobQueue": ("JobQueueName",),
    "AWS::SNS::Topic": ("TopicName",),
}
EMR_SERVERLESS_APPLICATION = "AWS::EMRServerless::Application"


class _LazyRefs(Mapping[str, str]):
    def __init__(self, deployment: LocalDeployment) -> None:
        self._deployment = deployment

    def __getitem__(self, key: str) -> str:
        if key not in self._deployment.resources:
            raise KeyError(key)
        return self._deployment.ref(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._deployment.resources)

    def __len__(self) -> int:
        return len(self._deployment.resources)


@dataclass
class LocalDeployment:
    """The template as deployed on the local AWS at `endpoint_url`."""

    template_path: Path
    endpoint_url: str
    region: str = DEFAULT_REGION
    account: str = LOCAL_ACCOUNT
    stack_name: str = LOCAL_STACK_NAME
    _application_ids: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def template(self) -> dict[str, Any]:
        return load_template(self.template_path)

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.template["Resources"])

    @cached_property
    def context(self) -> Context:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        return Context(parameter_defaults(self.template), pseudo, _LazyRefs(self), self.get_att)

    def resource_type(self, logical_id: str) -> str:
        try:
            return str(self.resources[logical_id]["Type"])
        except KeyError:
            raise TemplateError(f"no resource {logical_id!r} in {self.template_path}") from None

    def physical_name(self, logical_id: str) -> str:
        rtype = self.resource_type(logical_id)
        value: Any = self.resources[logical_id].get("Properties", {})
        for key in _NAME_PROPERTY.get(rtype, ("-",)):
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return f"{self.stack_name}-{logical_id}"
        return str(resolve(value, self.context))

    def queue_url(self, name: str) -> str:
        return f"{self.endpoint_url}/{self.account}/{name}"

    def ref(self, logical_id: str) -> str:
        name, rtype = self.physical_name(logical_id), self.resource_type(logical_id)
        if rtype == EMR_SERVERLESS_APPLICATION:
            return self.emr_application_id(name)
        if rtype == "AWS::SNS::Topic":  # a topic's Ref is its ARN
            return self.get_att(logical_id, "Arn")
        return self.queue_url(name) if rtype == "AWS::SQS::Queue" else name

    def emr_application_id(self, name: str, settings: Settings | None = None) -> str:
        """An EMR Serverless application's Ref is the id the service generated: look it up by name (on
        this deployment's AWS, unless `settings` point elsewhere)."""
        if name in self._application_ids:
            return self._application_ids[name]
        emr = client("emr-serverless", settings or self.settings)
        for page in emr.get_paginator("list_applications").paginate():
            for app in page["applications"]:
                if app["name"] == name and app["state"] not in ("TERMINATING", "TERMINATED"):
                    return self.remember_application(name, app["id"])
        raise TemplateError(f"no EMR Serverless application {name!r} on the local AWS: run `dp stack up`")

    def remember_application(self, name: str, application_id: str) -> str:
        """Known from now on, wherever it was found or made (a Ref resolved later needs no lookup)."""
        self._application_ids[name] = application_id
        return application_id

    @property
    def settings(self) -> Settings:
        """The local profile, reaching this deployment's AWS."""
        return Settings(profile=Profile.LOCAL, endpoint_url=self.endpoint_url, region=self.region)

    def get_att(self, logical_id: str, attribute: str) -> str:
        rtype, name = self.resource_type(logical_id), self.physical_name(logical_id)
        arn = arn_for(rtype, name, self.region, self.account) if attribute == "Arn" else None
        if arn:
            return arn
        if attribute in {"QueueName", "Name"}:
            return name
        if attribute == "QueueUrl":
            return self.queue_url(name)
        raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} has no local value")

    def resolve(self, value: Any) -> Any:
        return resolve(value, self.context)

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == rtype}
