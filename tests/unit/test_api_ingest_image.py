"""batch/api_ingest/Dockerfile, which cannot be built here (no Docker): its Python is the Lambda
runtime's, it installs exactly the locked runtime dependencies, it carries the package and the source
definitions, and its entry point is the runtime package's Batch module."""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shlex
import sys
from pathlib import Path, PurePosixPath

import pytest

from dptools.local.images import Dockerfile, DockerfileError, local_entrypoint, local_image
from dptools.sam.template import load_template
from tests.conftest import ROOT
from tests.unit.test_layer_pins import layer_pins, locked_runtime_closure

DOCKERFILE = Dockerfile.read(ROOT / "batch/api_ingest/Dockerfile")
IGNORE = (ROOT / "batch/api_ingest/Dockerfile.dockerignore").read_text().splitlines()


def _copies() -> dict[str, str]:
    """COPY source (in the build context, the repository root) -> destination in the image."""
    copies = {}
    for arguments in DOCKERFILE.arguments("COPY"):
        *sources, destination = shlex.split(arguments)
        assert not [s for s in sources if s.startswith("--")], "no COPY --from or --chown here"
        copies.update(dict.fromkeys(sources, destination))
    return copies


def test_its_python_is_the_lambda_runtimes() -> None:
    runtime = load_template(ROOT / "template.yaml")["Globals"]["Function"]["Runtime"]  # python3.13
    image = DOCKERFILE.base_image()
    match = re.search(r"/python:(\d+\.\d+)", image)
    assert match, f"{image} is not an official python image"
    assert f"python{match.group(1)}" == runtime


def test_it_installs_exactly_the_locked_runtime_dependencies() -> None:
    copies = _copies()
    (install,) = [run for run in DOCKERFILE.arguments("RUN") if run.startswith("pip install")]
    words = shlex.split(install)
    assert "--no-deps" in words, "nothing beyond the pins"
    requirements = words[words.index("-r") + 1]
    assert copies["layers/platform/requirements.txt"] == requirements
    assert layer_pins() == locked_runtime_closure(), "requirements.txt is uv.lock's runtime closure"


def test_it_carries_the_package_and_the_source_definitions_where_the_code_looks() -> None:
    copies = _copies()
    package_root = PurePosixPath(copies["layers/platform/dataplatform"]).parent
    assert DOCKERFILE.env()["PYTHONPATH"] == str(package_root)
    assert DOCKERFILE.env()["DP_API_SOURCES"] == copies["functions/api_ingest/sources"]
    for source in copies:
        assert (ROOT / source).exists()
        kept = False  # the build context is the repository; the ignore file must let these through
        for pattern in IGNORE:
            if pattern and not pattern.startswith("#"):
                negated = pattern.startswith("!")
                if fnmatch.fnmatch(source, pattern.lstrip("!")):
                    kept = negated
        assert kept, f"{source} is excluded by Dockerfile.dockerignore"


def test_its_entry_point_is_the_runtime_packages_batch_module() -> None:
    entrypoint = DOCKERFILE.entrypoint()
    assert entrypoint == ["python", "-m", "dataplatform.api_ingest.batch"]
    spec = importlib.util.find_spec(entrypoint[2])
    assert spec is not None and spec.origin is not None
    assert 'if __name__ == "__main__":' in Path(spec.origin).read_text()
    assert DOCKERFILE.arguments("USER") and DOCKERFILE.arguments("USER")[-1] != "root"


def test_the_local_stack_runs_the_same_entry_point_with_this_python() -> None:
    command = local_entrypoint(local_image(Path("batch/api_ingest/Dockerfile")))
    assert command == [sys.executable, "-m", "dataplatform.api_ingest.batch"]
    with pytest.raises(DockerfileError, match="no local build"):
        local_entrypoint("123456789012.dkr.ecr.us-east-1.amazonaws.com/api-ingest:1")
