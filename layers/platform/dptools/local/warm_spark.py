"""Warm local Spark drivers for the local EMR Serverless: a small pool of `spark_job_driver` processes that
job runs borrow, so a transform run pays the JVM's start once per driver, not once per job run.

A run still gets a Spark session of its own and its own log; it is cancelled by stopping its driver. A
driver is retired after `max_runs` runs, when its environment differs from the run's, or when the
platform's code changed since it started (it imported that code once), so a run never sees stale code.
Drivers are children of the process that starts them: in the local AWS, `dp stack down` stops them too.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dptools.local.task_process import stop_process

# What a driver imports once: a change under these folders of the checkout retires every driver.
CODE_FOLDERS = ("layers/platform/dataplatform", "jobs")
_NUMBERS = itertools.count(1)
START_TIMEOUT_S = 300


class DriverLost(RuntimeError):
    """The driver process ended without answering."""


def code_version(root: Path) -> float:
    """The newest modification time of the Python files a driver imports."""
    return max(
        (p.stat().st_mtime for folder in CODE_FOLDERS for p in (root / folder).rglob("*.py")), default=0.0
    )


class Driver:
    """One `spark_job_driver` process and our end of its socket."""

    def __init__(self, env: Mapping[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd = dict(env), cwd
        self.code_version = code_version(cwd)
        self.runs = 0
        ours, theirs = socket.socketpair()
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dptools.local.spark_job_driver", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=cwd,
            )
        theirs.close()
        self.socket = ours
        self.replies = ours.makefile("r", encoding="utf-8")
        self.started = False

    def _answer(
        self, is_cancelled: Callable[[], bool], poll_s: float, timeout_s: float | None = None
    ) -> dict | None:
        """The driver's next reply; None when the execution cancelled the run (the driver is stopped)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            ready, _, _ = select.select([self.socket], [], [], poll_s)
            if ready:
                line = self.replies.readline()
                if not line:
                    self.stop()
                    raise DriverLost(f"the warm Spark driver exited with {self.process.returncode}")
                return dict(json.loads(line))
            if is_cancelled():
                self.stop()
                return None
            if self.process.poll() is not None:
                raise DriverLost(f"the warm Spark driver exited with {self.process.returncode}")
            if deadline is not None and time.monotonic() > deadline:
                self.stop()
                raise DriverLost(f"the warm Spark driver did not start in {timeout_s:.0f} s")

    def run(
        self, job: Path, args: list[str], log: Path, is_cancelled: Callable[[], bool], poll_s: float
    ) -> int | None:
        """The job's exit code, or None when the execution cancelled it."""
        if not self.started:
            if self._answer(is_cancelled, poll_s, START_TIMEOUT_S) is None:
                return None
            self.started = True
        self.runs += 1
        request = {"job": str(job), "args": args, "log": str(log)}
        self.socket.sendall((json.dumps(request) + "\n").encode())
        reply = self._answer(is_cancelled, poll_s)
        return None if reply is None else int(reply["exit_code"])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 30) -> None:
        if self.alive:
            stop_process(self.process, timeout_s)
        self.socket.close()


@dataclass
class WarmDrivers:
    """At most `size` drivers; a run waits for a free one rather than starting a cold JVM beside them."""

    log_dir: Path
    size: int = 2
    max_runs: int = 25
    _idle: list[Driver] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _slots: threading.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = threading.Semaphore(self.size)

    def _take(self, env: Mapping[str, str], cwd: Path) -> Driver:
        version = code_version(cwd)
        with self._lock:
            while self._idle:
                driver = self._idle.pop()
                if driver.alive and driver.env == dict(env) and driver.code_version == version:
                    return driver
                driver.stop()
        return Driver(env, cwd, self.log_dir / f"driver-{os.getpid()}-{next(_NUMBERS)}.log")

    def run(
        self,
        job: Path,
        args: list[str],
        env: Mapping[str, str],
        log: Path,
        cwd: Path,
        is_cancelled: Callable[[], bool],
        poll_s: float = 0.5,
    ) -> int | None:
        """`python job args` on a warm driver: its exit code, or None when the execution cancelled it."""
        while not self._slots.acquire(timeout=poll_s):
            if is_cancelled():
                return None
        try:
            driver = self._take(env, cwd)
            try:
                code = driver.run(job, args, log, is_cancelled, poll_s)
            except DriverLost as lost:
                with open(log, "a") as out:
                    out.write(f"\n{lost}; its output is in {self.log_dir}\n")
                return 1
            if code is not None and driver.alive and driver.runs < self.max_runs:
                with self._lock:
                    self._idle.append(driver)
            else:
                driver.stop()
            return code
        finally:
            self._slots.release()

    def stop(self) -> None:
        with self._lock:
            for driver in self._idle:
                driver.stop()
            self._idle.clear()
