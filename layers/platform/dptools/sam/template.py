"""Load a SAM template, short-form intrinsics included, and resolve the intrinsics we use.

Resolution needs to know what a `Ref` or `Fn::GetAtt` stands for. A `Context` supplies parameter values,
pseudo parameters and the physical names of resources: the local stack derives them from the template
itself, and `dp invoke --profile aws` reads them from the deployed stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TemplateError(ValueError):
    """The template cannot be read or an intrinsic cannot be resolved."""


class _CfnLoader(yaml.SafeLoader):
    """A SafeLoader that turns `!Ref X` into `{"Ref": "X"}` and `!Sub ...` into `{"Fn::Sub": ...}`."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_CfnLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{path} is not a CloudFormation/SAM template (no Resources)")
    return data


@dataclass(frozen=True)
class Context:
    """What the intrinsics of one deployment resolve to."""

    parameters: Mapping[str, str]
    pseudo: Mapping[str, str]
    refs: Mapping[str, str] = field(default_factory=dict)
    attributes: Callable[[str, str], str] | None = None

    def ref(self, name: str) -> str:
        for scope in (self.parameters, self.pseudo, self.refs):
            if name in scope:
                return str(scope[name])
        raise TemplateError(f"cannot resolve Ref {name!r}")

    def get_att(self, resource: str, attribute: str) -> str:
        if self.attributes is None:
            raise TemplateError(f"cannot resolve Fn::GetAtt {resource}.{attribute}")
        return self.attributes(resource, attribute)


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def resolve(value: Any, ctx: Context) -> Any:
    """`value` with every supported intrinsic function replaced by its value."""
    if isinstance(value, list):
        return [resolve(v, ctx) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        handler = _INTRINSICS.get(key)
        if handler is not None:
            return handler(arg, ctx)
    return {k: resolve(v, ctx) for k, v in value.items()}


def _sub(arg: Any, ctx: Context) -> str:
    text, local_vars = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], ctx))

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in local_vars:
            return str(local_vars[name])
        if "." in name:
            return ctx.get_att(*name.split(".", 1))
        return ctx.ref(name)

    return _SUB_VAR.sub(replace, text).replace("${!", "${")


def _join(arg: Any, ctx: Context) -> str:
    sep, items = arg
    return str(sep).join(str(v) for v in resolve(items, ctx))


def _select(arg: Any, ctx: Context) -> Any:
    index, items = arg
    return resolve(items, ctx)[int(resolve(index, ctx))]


def _to_json(arg: Any, ctx: Context) -> str:
    return json.dumps(resolve(arg, ctx))


def _unsupported(name: str) -> Callable[[Any, Context], Any]:
    def fail(arg: Any, ctx: Context) -> Any:
        raise TemplateError(f"{name} is not supported outside CloudFormation")

    return fail


_INTRINSICS: dict[str, Callable[[Any, Context], Any]] = {
    "Ref": lambda arg, ctx: ctx.ref(arg),
    "Fn::Sub": _sub,
    "Fn::GetAtt": lambda arg, ctx: ctx.get_att(*(arg if isinstance(arg, list) else arg.split(".", 1))),
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::ToJsonString": _to_json,
    "Fn::If": _unsupported("Fn::If"),
    "Fn::ImportValue": _unsupported("Fn::ImportValue"),
}


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
