"""The streaming job as a process of the local stack: what `dp streaming start|stop|status|redeploy` run.

The job keeps its checkpoint under `.local/streaming/<name>/checkpoint` (S3 on EMR), so a stop, a crash
or a redeploy resumes where the last finished batch left off. Its status file is the last batch's
progress, written by the job itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dataplatform.settings import Settings, settings_env
from dptools.local.paths import LocalPaths, project_root
from dptools.local.processes import ManagedProcess

JOB = project_root() / "streaming" / "kafka_to_raw.py"


class LocalStream:
    def __init__(self, paths: LocalPaths, name: str = "clickstream") -> None:
        self.name = name
        self.home = paths.root / "streaming" / name
        self.process = ManagedProcess(f"stream-{name}", paths.run)

    @property
    def checkpoint(self) -> Path:
        return self.home / "checkpoint"

    @property
    def status_file(self) -> Path:
        return self.home / "status.json"

    def command(
        self, topics: Sequence[str], trigger: str, max_offsets: int, schemas: Path | None
    ) -> list[str]:
        cmd = [sys.executable, str(JOB), "--name", self.name, "--topics", ",".join(topics)]
        cmd += ["--checkpoint", str(self.checkpoint), "--status-file", str(self.status_file)]
        cmd += ["--trigger", trigger, "--max-offsets-per-trigger", str(max_offsets)]
        return cmd + (["--schemas", str(schemas)] if schemas else [])

    def start(
        self,
        settings: Settings,
        topics: Sequence[str],
        trigger: str = "5 seconds",
        max_offsets: int = 50_000,
        schemas: Path | None = None,
    ) -> int:
        self.home.mkdir(parents=True, exist_ok=True)
        self.status_file.unlink(missing_ok=True)
        return self.process.start(
            self.command(topics, trigger, max_offsets, schemas),
            env=settings_env(settings),
            cwd=project_root(),
        )

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM to the job's Python driver only, which lets the running micro-batch finish and stops
        the query; its JVM would stop the query at once if it got the signal too. Then the whole
        process group, with SIGKILL after the timeout, for whatever is left."""
        pid = self.process.pid()
        if pid is not None and self.process.is_running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while self.process.is_running() and time.monotonic() < deadline:
                time.sleep(0.2)
        self.process.stop(timeout_s=10)

    def status(self) -> dict[str, Any]:
        try:
            reported = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            reported = {}
        if self.process.is_running():
            state = "running"
        elif reported.get("state") in ("stopped", "failed"):  # it ended and said so (e.g. available-now)
            state = reported["state"]
        else:
            state = "crashed" if self.process.has_crashed() else "stopped"
        return {"process": state, "pid": self.process.pid(), "checkpoint": str(self.checkpoint), **reported}
