"""`sam build` works without Docker, and every function with its layers fits Lambda's 250 MB unzipped."""

import os
import re
import subprocess
from pathlib import Path

from dptools.sam.template import load_template
from tests.conftest import ROOT

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def test_sam_build_fits_every_function_and_its_layers_under_the_limit(tmp_path: Path) -> None:
    sam = os.environ.get("SAM_CLI_BIN", str(ROOT / ".local/venvs/sam/bin/sam"))
    lambda_python = os.environ.get("LAMBDA_PYTHON_BIN", "")
    env = {
        **os.environ,
        "PATH": f"{lambda_python}:{os.environ['PATH']}" if lambda_python else os.environ["PATH"],
    }
    build_dir = tmp_path / "build"
    result = subprocess.run(
        [sam, "build", "--template", str(ROOT / "template.yaml"), "--build-dir", str(build_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    built = load_template(build_dir / "template.yaml")["Resources"]
    layers = {
        k: tree_size(build_dir / k) for k, v in built.items() if v["Type"] == "AWS::Serverless::LayerVersion"
    }
    assert layers, "the platform layer was not built"
    sizes = {name: size for name, size in layers.items()}
    for name, resource in built.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        own_layers = [ref["Ref"] for ref in resource["Properties"].get("Layers", []) if "Ref" in ref]
        sizes[name] = tree_size(build_dir / name) + sum(layers[layer] for layer in own_layers)
    report = ", ".join(f"{name} {size / 2**20:.0f} MiB" for name, size in sizes.items())
    print(f"unzipped sizes: {report}")
    assert all(size < LAMBDA_UNZIPPED_LIMIT for size in sizes.values()), report

    layer = build_dir / "PlatformLayer/python"
    assert (layer / "pyarrow").is_dir() and (layer / "pyiceberg").is_dir()
    assert not (layer / "boto3").exists(), "the Lambda runtime provides boto3"
    # The runtime package goes in whole, with no prune list, and no tooling goes with it.
    package = ROOT / "layers/platform/dataplatform"
    assert {p.relative_to(layer) for p in (layer / "dataplatform").rglob("*.py")} == {
        p.relative_to(package.parent) for p in package.rglob("*.py")
    }
    assert not (layer / "dptools").exists()
    tooling = re.compile(r"^\s*(from|import) dptools\b", re.M)
    shipped = [*layer.joinpath("dataplatform").rglob("*.py"), *build_dir.glob("*Function/*.py")]
    offenders = [str(path) for path in shipped if tooling.search(path.read_text())]
    assert not offenders, offenders
