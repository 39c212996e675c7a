"""The template's state machines on the local AWS: each one's ASL file with its DefinitionSubstitutions
resolved to local names, created, or updated when the definition changed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dataplatform.aws import client
from dataplatform.settings import Settings
from dptools.local.deployment import LocalDeployment
from dptools.sam.template import TemplateError

SERVERLESS_STATE_MACHINE = "AWS::Serverless::StateMachine"


def substitute(definition: str, substitutions: Mapping[str, Any]) -> str:
    """SAM's DefinitionSubstitutions: every `${Name}` of a given name replaced by its value."""
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", str(value))
    return definition


def local_definition(deployment: LocalDeployment, logical_id: str) -> str:
    """The state machine's definition as deployed on the local AWS."""
    props = deployment.resources[logical_id].get("Properties", {})
    if "DefinitionUri" not in props:
        raise TemplateError(f"{logical_id}: the local stack reads state machines from their DefinitionUri")
    path = deployment.template_path.parent / str(props["DefinitionUri"])
    try:
        text = path.read_text()
    except OSError as exc:
        raise TemplateError(f"{logical_id}: cannot read {path}: {exc.strerror}") from exc
    definition = substitute(text, deployment.resolve(props.get("DefinitionSubstitutions", {})))
    json.loads(definition)  # a broken substitution fails here, not at the first execution
    return definition


def deploy_state_machine(deployment: LocalDeployment, logical_id: str, settings: Settings) -> str:
    """Create or update the state machine on the local AWS; returns its name."""
    sfn = client("stepfunctions", settings)
    name = deployment.physical_name(logical_id)
    arn = deployment.get_att(logical_id, "Arn")
    definition = local_definition(deployment, logical_id)
    try:
        current = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
    except sfn.exceptions.StateMachineDoesNotExist:
        role = f"arn:aws:iam::{deployment.account}:role/{name}-role"  # the local AWS checks no IAM
        sfn.create_state_machine(name=name, definition=definition, roleArn=role)
        return name
    if current != definition:
        sfn.update_state_machine(stateMachineArn=arn, definition=definition)
    return name
