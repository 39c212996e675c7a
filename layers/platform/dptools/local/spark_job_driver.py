"""A warm local Spark driver: one process (and one JVM) that runs EMR Serverless job files one after the
other, each in a Spark session of its own.

Starting Python, the JVM and Spark's classes is most of a small job run's time on a laptop, and a
transform run is a dozen job runs. So a driver starts the JVM once, then for each request runs the job
file as `__main__` with its arguments, as `python <job> <args>` would. The job builds its session (a new
SparkContext in the warm JVM) and stops it, as on EMR; whatever session a job leaves is stopped here. A
run's stdout and stderr go to its own log; Spark's own log lines go to the driver's output (`log`).

Protocol, over the socket whose file descriptor is argv[1]: one JSON request per line, `{"job": path,
"args": [...], "log": path}`, answered by `{"exit_code": n}`. The pool side is `dptools.local.warm_spark`.
"""

from __future__ import annotations

import json
import runpy
import socket
import sys
import traceback
from pathlib import Path

from dataplatform.settings import load_settings
from dataplatform.spark.session import build_session
from dptools.local.output import output_to


def _exit_code(exit: SystemExit) -> int:
    if exit.code is None or isinstance(exit.code, int):
        return exit.code or 0
    print(exit.code, file=sys.stderr)  # sys.exit("message"), as the interpreter would
    return 1


def _stop_sessions() -> None:
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession() or SparkSession._instantiatedSession
    if session is not None:
        session.stop()


def run_job(job: Path, args: list[str], log: Path) -> int:
    """Run `job` as `python job args` would, with its output in `log`; its exit code."""
    argv, path = sys.argv, list(sys.path)
    sys.argv = [str(job), *args]
    sys.path.insert(0, str(job.parent))
    with output_to(log):
        try:
            runpy.run_path(str(job), run_name="__main__")
            code = 0
        except SystemExit as exit:
            code = _exit_code(exit)
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.argv, sys.path[:] = argv, path
            try:
                _stop_sessions()
            except Exception:
                traceback.print_exc()
    return code


def main() -> None:
    connection = socket.socket(fileno=int(sys.argv[1]))
    settings = load_settings()
    if settings.is_local and settings.spark_jars_dir:
        # The JVM starts here, with the jobs' own session settings, and outlives the session.
        build_session("warm-driver", settings).stop()
    connection.sendall(b'{"ready": true}\n')
    for line in connection.makefile("r", encoding="utf-8"):
        request = json.loads(line)
        code = run_job(Path(request["job"]), [str(a) for a in request["args"]], Path(request["log"]))
        connection.sendall((json.dumps({"exit_code": code}) + "\n").encode())


if __name__ == "__main__":
    main()
