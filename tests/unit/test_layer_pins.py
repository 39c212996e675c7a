"""The layer installs exactly the runtime dependency versions the project locks: the closure of the
project's `dependencies` in uv.lock (dev groups excluded), read from the lock file itself."""

import re
import tomllib
from typing import Any

from tests.conftest import ROOT

REGENERATE = (
    "regenerate with: uv export --no-dev --no-hashes --no-emit-project --frozen --format "
    "requirements-txt -o layers/platform/requirements.txt"
)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_runtime_closure() -> dict[str, str]:
    """name -> version of every package the project's runtime dependencies pull in, extras included."""
    packages: dict[str, dict[str, Any]] = {
        _normal(p["name"]): p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    }
    pending = list(packages["dataplatform"]["dependencies"])
    closure: dict[str, str] = {}
    while pending:
        requirement = pending.pop()
        package = packages[_normal(requirement["name"])]
        for extra in requirement.get("extra", []):
            pending.extend(package.get("optional-dependencies", {}).get(extra, []))
        if _normal(package["name"]) not in closure:
            closure[_normal(package["name"])] = package["version"]
            pending.extend(package.get("dependencies", []))
    return closure


def layer_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "layers/platform/requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_normal(name)] = version.strip()
    return pins


def test_layer_requirements_match_the_lock() -> None:
    assert layer_pins() == locked_runtime_closure(), REGENERATE


def test_the_closure_holds_the_direct_runtime_dependencies() -> None:
    closure = locked_runtime_closure()
    assert {"pyiceberg", "pyarrow", "aws-lambda-powertools", "pydantic"} <= closure.keys()
    assert not {"pyspark", "moto", "pytest", "typer"} & closure.keys()
