"""How functions (and Batch jobs) run on the local stack: their environment, resolved from the template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataplatform.settings import Settings, settings_env
from dptools.local.deployment import LocalDeployment
from dptools.sam.functions import FunctionSpec
from dptools.sam.invoke import invoke_function

# Locally there is no X-Ray daemon; SAM's own local runner sets AWS_SAM_LOCAL as well.
_LOCAL_RUNTIME_ENV = {"AWS_SAM_LOCAL": "true", "POWERTOOLS_TRACE_DISABLED": "true"}


def local_env(
    environment: Mapping[str, Any], deployment: LocalDeployment, settings: Settings
) -> dict[str, str]:
    """A template environment (a function's, a job definition's) with local names, pointed at the stack."""
    env = {k: str(v) for k, v in deployment.resolve(dict(environment)).items()}
    env.update(settings_env(settings))
    env.update(_LOCAL_RUNTIME_ENV)
    return env


def local_function_env(spec: FunctionSpec, deployment: LocalDeployment, settings: Settings) -> dict[str, str]:
    """The function's template environment with local names, pointed at the local stack."""
    return local_env(spec.environment, deployment, settings)


def invoke_locally(
    spec: FunctionSpec, event: dict[str, Any], deployment: LocalDeployment, settings: Settings
) -> Any:
    env = local_function_env(spec, deployment, settings)
    name = deployment.physical_name(spec.logical_id)
    return invoke_function(
        spec, event, env, function_name=name, account_id=deployment.account, region=settings.region
    )
