"""The Lambda functions a SAM template declares, with `Globals` applied as SAM applies them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dptools.sam.template import TemplateError, load_template

SERVERLESS_FUNCTION = "AWS::Serverless::Function"


@dataclass(frozen=True)
class EventSource:
    """One entry of a function's `Events`: its name, SAM type and (unresolved) properties."""

    name: str
    type: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: Mapping[str, Any]
    layers: tuple[Any, ...] = ()
    events: tuple[EventSource, ...] = field(default_factory=tuple)

    @property
    def module_and_function(self) -> tuple[str, str]:
        module, _, function = self.handler.rpartition(".")
        if not module or not function:
            raise TemplateError(f"{self.logical_id}: handler {self.handler!r} is not module.function")
        return module, function


def _merged_environment(global_props: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    env: dict[str, Any] = {}
    for source in (global_props, props):
        env.update(source.get("Environment", {}).get("Variables", {}))
    return env


def function_specs(template: Mapping[str, Any], template_dir: Path) -> dict[str, FunctionSpec]:
    """Every `AWS::Serverless::Function` by logical id."""
    global_props = template.get("Globals", {}).get("Function", {})
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        props = resource.get("Properties", {})

        def prop(name: str, default: Any = None, props: Mapping[str, Any] = props) -> Any:
            return props.get(name, global_props.get(name, default))

        code_uri, handler = prop("CodeUri"), prop("Handler")
        if not isinstance(code_uri, str) or not handler:
            raise TemplateError(f"{logical_id}: needs a local CodeUri and a Handler")
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(template_dir / code_uri).resolve(),
            handler=handler,
            runtime=prop("Runtime", ""),
            timeout_s=int(prop("Timeout", 3)),
            memory_mb=int(prop("MemorySize", 128)),
            environment=_merged_environment(global_props, props),
            layers=tuple(prop("Layers", ())),
            events=tuple(
                EventSource(name, spec["Type"], spec.get("Properties", {}))
                for name, spec in props.get("Events", {}).items()
            ),
        )
    return specs


def find_function(specs: Mapping[str, FunctionSpec], name: str) -> FunctionSpec:
    """The function with logical id `name`, or whose code folder is `name` (`api_ingest`, as `events/`
    and `functions/` name it)."""
    if name in specs:
        return specs[name]
    by_folder = [spec for spec in specs.values() if spec.code_dir.name == name]
    if len(by_folder) == 1:
        return by_folder[0]
    known = ", ".join(f"{k} ({v.code_dir.name})" for k, v in sorted(specs.items())) or "none"
    raise TemplateError(f"unknown function {name!r}; the template has: {known}")


def template_function(template_path: Path, name: str) -> FunctionSpec:
    """Find a function of the template at `template_path` by logical id or code folder."""
    return find_function(function_specs(load_template(template_path), template_path.parent), name)
