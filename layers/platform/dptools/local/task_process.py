"""A local executor's job as a process: run it to its end, or stop it when the execution gives up on it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path


def run_task_process(
    argv: list[str],
    env: Mapping[str, str],
    log: Path,
    cwd: Path,
    is_cancelled: Callable[[], bool],
    poll_s: float = 0.5,
    stop_timeout_s: float = 10,
) -> int | None:
    """The exit code, or None when the execution gave up on the task (timeout, stop) and it was stopped.

    Output goes to `log` (appended). The process stays in the local AWS's process group, so `dp stack
    down` stops it with the server."""
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(env), cwd=cwd
        )
    while process.poll() is None:
        if is_cancelled():
            stop_process(process, stop_timeout_s)
            return None
        time.sleep(poll_s)
    return process.returncode


def stop_process(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout_s`."""
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
