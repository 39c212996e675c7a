"""Where the project and the local stack's state live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DP_PROJECT_ROOT = "DP_PROJECT_ROOT"
DP_LOCAL_DIR = "DP_LOCAL_DIR"


def project_root() -> Path:
    """The checkout: `$DP_PROJECT_ROOT`, else the folder with template.yaml above this package."""
    if os.environ.get(DP_PROJECT_ROOT):
        return Path(os.environ[DP_PROJECT_ROOT]).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "template.yaml").is_file() and (parent / "pyproject.toml").is_file():
            return parent
    raise RuntimeError(f"cannot find the project root above {here}; set {DP_PROJECT_ROOT}")


def api_sources_dir() -> Path:
    """api_ingest's source definitions in the checkout (the function's own folder)."""
    return project_root() / "functions/api_ingest/sources"


@dataclass(frozen=True)
class LocalPaths:
    """The local stack's files. `state` survives `dp stack down`; `run` holds pids, ports and logs."""

    root: Path

    @classmethod
    def default(cls) -> LocalPaths:
        local = os.environ.get(DP_LOCAL_DIR)
        return cls(Path(local).resolve() if local else project_root() / ".local")

    @property
    def run(self) -> Path:
        return self.root / "stack"

    @property
    def aws_state(self) -> Path:
        return self.root / "aws" / "moto-state.pickle"

    @property
    def kafka_data(self) -> Path:
        return self.root / "kafka" / "data"

    @property
    def warehouse(self) -> Path:
        """The local warehouse's PostgreSQL: its data folder and socket live here."""
        return self.root / "warehouse"

    @property
    def jars(self) -> Path:
        jars = os.environ.get("DP_JARS_DIR")
        return Path(jars) if jars else project_root() / ".local" / "jars"
