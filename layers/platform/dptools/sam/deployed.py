"""What the template's intrinsics resolve to in a stack deployed to AWS (for `dp invoke --profile aws`)."""

from __future__ import annotations

from typing import Any

from dataplatform.aws import client
from dataplatform.settings import Settings
from dptools.sam.resources import arn_for
from dptools.sam.template import Context, TemplateError


def physical_id(stack_name: str, logical_id: str, settings: Settings) -> str:
    """The name (or ARN, as the type has it) of one resource of a deployed stack."""
    detail = client("cloudformation", settings).describe_stack_resource(
        StackName=stack_name, LogicalResourceId=logical_id
    )["StackResourceDetail"]
    return detail["PhysicalResourceId"]


def deployed_context(stack_name: str, settings: Settings) -> tuple[Context, dict[str, str]]:
    """A resolution context from the stack's parameters and resources; also logical id -> physical id."""
    cfn = client("cloudformation", settings)
    stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    if not stacks:
        raise TemplateError(f"no stack {stack_name!r} in {settings.region}")
    stack = stacks[0]
    account = stack["StackId"].split(":")[4]
    parameters = {
        p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"]) for p in stack.get("Parameters", [])
    }
    physical: dict[str, str] = {}
    types: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            physical[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
            types[resource["LogicalResourceId"]] = resource["ResourceType"]

    def get_att(logical_id: str, attribute: str) -> str:
        if logical_id not in physical:
            raise TemplateError(f"stack {stack_name} has no resource {logical_id}")
        name = physical[logical_id]
        if types[logical_id] == "AWS::SQS::Queue":
            name = name.rsplit("/", 1)[-1]
        arn = arn_for(types[logical_id], name, settings.region, account) if attribute == "Arn" else None
        if arn is None:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not supported by dp invoke")
        return arn

    pseudo: dict[str, Any] = {
        "AWS::AccountId": account,
        "AWS::Region": settings.region,
        "AWS::StackName": stack_name,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    return Context(parameters, pseudo, physical, get_att), physical
