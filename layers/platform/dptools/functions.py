"""Run one of the template's functions with an event: the handler in this process against the local
stack, the handler with a deployed stack's environment, or the deployed Lambda itself."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataplatform.aws import client
from dataplatform.settings import AWS_ENDPOINT_URL, Profile, Settings, load_settings, settings_env
from dptools.local.deployment import LocalDeployment
from dptools.local.paths import project_root
from dptools.local.runtime import invoke_locally
from dptools.local.stack import LocalStack
from dptools.sam.deployed import deployed_context, physical_id
from dptools.sam.functions import FunctionSpec, template_function
from dptools.sam.invoke import invoke_function
from dptools.sam.template import resolve

Send = Callable[[dict[str, Any]], Any]


def project_function(name: str) -> FunctionSpec:
    """A function of the project's template, by logical id or code folder."""
    return template_function(project_root() / "template.yaml", name)


def invoke_local(
    spec: FunctionSpec, event: dict[str, Any], template_path: Path, endpoint_url: str | None = None
) -> Any:
    """Explicit `endpoint_url`, else AWS_ENDPOINT_URL, else the running local stack's endpoint."""
    stack = LocalStack(template=template_path)
    endpoint = endpoint_url or os.environ.get(AWS_ENDPOINT_URL) or stack.endpoint_url()
    settings = load_settings(profile="local", endpoint_url=endpoint, kafka_bootstrap=stack.kafka_bootstrap())
    # The stack's sample API, unless the environment points a source elsewhere.
    settings = settings.with_overrides(source_env={**stack.source_env(), **settings.source_env})
    return invoke_locally(spec, event, LocalDeployment(template_path, endpoint), settings)


@dataclass(frozen=True)
class DeployedFunction:
    """A function of a stack deployed to AWS: its resolved environment, physical name and account."""

    env: dict[str, str]
    name: str
    account: str

    @property
    def settings(self) -> Settings:
        """The settings the deployed function runs with."""
        return load_settings({**settings_env(load_settings(profile="aws")), **self.env}, profile="aws")


def deployed_function(spec: FunctionSpec, stack_name: str) -> DeployedFunction:
    context, physical = deployed_context(stack_name, load_settings(profile="aws"))
    env = {k: str(v) for k, v in resolve(dict(spec.environment), context).items()}
    name = physical.get(spec.logical_id, spec.logical_id)
    return DeployedFunction(env, name, str(context.pseudo["AWS::AccountId"]))


def function_settings(function: str, profile: Profile, stack_name: str) -> Settings:
    """The settings `function` runs with, for running its code in this process: the local stack's, or
    those of the function deployed in `stack_name`."""
    if profile is Profile.LOCAL:
        return LocalStack(template=project_root() / "template.yaml").settings()
    return deployed_function(project_function(function), stack_name).settings


def invoke_with_deployed_env(spec: FunctionSpec, event: dict[str, Any], stack_name: str) -> Any:
    """The handler in this process, with the deployed stack's resources (`dp invoke --profile aws`)."""
    deployed = deployed_function(spec, stack_name)
    return invoke_function(
        spec, event, deployed.env, function_name=deployed.name, account_id=deployed.account
    )


def invoke_deployed_lambda(logical_id: str, event: dict[str, Any], stack_name: str) -> Any:
    """The deployed Lambda itself, synchronously; its error becomes a RuntimeError."""
    settings = load_settings(profile="aws")
    name = physical_id(stack_name, logical_id, settings)
    response = client("lambda", settings).invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise RuntimeError(payload.get("errorMessage", payload) if isinstance(payload, dict) else payload)
    return payload


def function_sender(function: str, profile: Profile, stack_name: str) -> Send:
    """Runs events through `function`: in this process on the local stack, or the deployed Lambda."""
    spec = project_function(function)
    if profile is Profile.LOCAL:
        template_path = project_root() / "template.yaml"
        endpoint = LocalStack(template=template_path).endpoint_url()
        return lambda event: invoke_local(spec, event, template_path, endpoint)
    return lambda event: invoke_deployed_lambda(spec.logical_id, event, stack_name)
