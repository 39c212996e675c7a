"""Background processes of the local stack: start detached, check health, stop with the whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class StackError(RuntimeError):
    """A part of the local stack failed to start, or is not running when it should be."""


@dataclass(frozen=True)
class ManagedProcess:
    """One process, known by its pid file and log file under the stack's run folder."""

    name: str
    run_dir: Path
    # The signal that asks for a clean exit: PostgreSQL's SIGTERM waits for clients to leave, SIGINT not.
    stop_signal: signal.Signals = signal.SIGTERM

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self.pid()
        return pid is not None and _alive(pid)

    def has_crashed(self) -> bool:
        """A pid file without its process: the part died without `dp stack down`."""
        return self.pid() is not None and not self.is_running()

    def start(self, cmd: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
        if self.is_running():
            raise StackError(f"{self.name} is already running (pid {self.pid()})")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def wait_healthy(self, check: Callable[[], bool], timeout_s: float) -> None:
        """Poll `check` until it holds; fail with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.is_running():
                raise StackError(f"{self.name} exited while starting; last log lines:\n{self.log_tail()}")
            try:
                if check():
                    return
            except Exception:
                pass
            time.sleep(0.2)
        self.stop()
        raise StackError(
            f"{self.name} was not healthy within {timeout_s:.0f}s; last log lines:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL what is left; the pid file goes either way.

        The whole group, because a part's leader may have died (a crash) and left children behind.
        """
        pid = self.pid()
        if pid is not None:
            for sig, wait_s in ((self.stop_signal, timeout_s), (signal.SIGKILL, 5.0)):
                if not _group_members(pid):
                    break
                _signal_group(pid, sig)
                deadline = time.monotonic() + wait_s
                while _group_members(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of the process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def free_port(preferred: int | None = None) -> int:
    """`preferred` if it is free on loopback, else a port the kernel picks."""
    import socket

    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the servers do: a port in TIME_WAIT after `down` is still ours to reuse.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise StackError("no free port on 127.0.0.1")
