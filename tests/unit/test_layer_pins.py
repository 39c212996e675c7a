"""The layer installs exactly the runtime dependency versions the project locks."""

import os
import subprocess

from tests.conftest import ROOT

UV = ROOT / ".local/bootstrap/bin/uv"


def _pins(text: str) -> list[str]:
    return sorted(
        line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


def test_layer_requirements_match_the_lock() -> None:
    exported = subprocess.run(
        [
            str(UV),
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-emit-project",
            "--format",
            "requirements-txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "UV_NATIVE_TLS": "1"},
    ).stdout
    committed = (ROOT / "layers/platform/requirements.txt").read_text()
    assert _pins(committed) == _pins(exported), (
        "regenerate with: uv export ... -o layers/platform/requirements.txt"
    )
