"""Background processes: health checks with a timeout and the log's tail, crash detection, group kill."""

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from dptools.local.processes import ManagedProcess, StackError, _alive, free_port

# A leader that starts a child of its own, then says so.
SLEEPER = [
    sys.executable,
    "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "print('started', flush=True); time.sleep(60)",
]


def test_a_part_that_never_gets_healthy_fails_with_its_log_tail(tmp_path: Path) -> None:
    part = ManagedProcess("sleepy", tmp_path)
    part.start(SLEEPER)
    with pytest.raises(StackError, match=r"(?s)not healthy within 1s.*started"):
        part.wait_healthy(lambda: False, timeout_s=1)
    assert not part.is_running()


def test_a_part_that_exits_while_starting_fails_at_once(tmp_path: Path) -> None:
    part = ManagedProcess("dies", tmp_path)
    part.start([sys.executable, "-c", "print('bad config: port taken'); raise SystemExit(3)"])
    started = time.monotonic()
    with pytest.raises(StackError, match=r"(?s)exited while starting.*bad config"):
        part.wait_healthy(lambda: False, timeout_s=30)
    assert time.monotonic() - started < 10


def test_a_killed_part_is_reported_as_crashed_and_stop_takes_its_children(tmp_path: Path) -> None:
    part = ManagedProcess("victim", tmp_path)
    pid = part.start(SLEEPER)
    part.wait_healthy(lambda: "started" in part.log_tail(), timeout_s=10)
    children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    assert children and part.is_running() and not part.has_crashed()
    part.stop()
    assert not part.is_running() and part.pid() is None
    assert not any(_alive(child) for child in children)

    pid = part.start(SLEEPER)
    part.wait_healthy(lambda: part.log_tail().count("started") == 2, timeout_s=10)
    orphans = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while part.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert part.has_crashed()
    assert orphans and all(_alive(orphan) for orphan in orphans)
    part.stop()
    assert not part.has_crashed()
    assert not any(_alive(orphan) for orphan in orphans)


def test_a_free_preferred_port_is_reused() -> None:
    port = free_port()
    assert free_port(port) == port


def test_a_kraft_cluster_id_never_reads_as_an_option() -> None:
    from dptools.local.kafka_broker import new_cluster_id

    ids = [new_cluster_id() for _ in range(2_000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
