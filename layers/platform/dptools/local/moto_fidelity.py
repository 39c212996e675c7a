"""Where moto departs from AWS in ways the platform depends on, patched to behave as AWS does.

Applied by the local AWS (moto server) and by the in-process mock of the unit tests, so both agree
with AWS on what the code relies on. Each patch says what AWS does and moto did not.
"""

from __future__ import annotations

import threading
from typing import Any

_applied = False


def apply() -> None:
    """Patch moto once per process."""
    global _applied
    if _applied:
        return
    _glue_table_versions()
    _emr_serverless_runs()
    _applied = True


def _glue_table_versions() -> None:
    """Make UpdateTable honour `VersionId` as Glue does, so concurrent Iceberg commits conflict.

    moto ignores it, which would let two writers of one table both "succeed" and the later one silently
    drop the other's snapshot. pyiceberg passes the version it read and expects
    ConcurrentModificationException when the table moved on; that is what Glue answers, and here too.
    """
    from moto.glue.exceptions import GlueClientError
    from moto.glue.responses import GlueResponse

    lock = threading.Lock()
    unchecked = GlueResponse.update_table

    def update_table(self: GlueResponse) -> Any:
        expected = self.parameters.get("VersionId")
        with lock:
            if expected is not None:
                name = self.parameters["TableInput"]["Name"]
                table = self.glue_backend.get_table(self.parameters["DatabaseName"], name)
                current = str(table._current_version)
                if str(expected) != current:
                    raise GlueClientError(
                        "ConcurrentModificationException",
                        f"table {name} is at version {current}, not {expected}",
                    )
            return unchecked(self)

    GlueResponse.update_table = update_table  # type: ignore[method-assign]


def _emr_serverless_runs() -> None:
    """A started job run is RUNNING until it is cancelled (moto marks it SUCCESS at once), and listing
    the runs of an application that has none is an empty list (moto answered that it does not exist)."""
    from moto.emrserverless.models import EMRServerlessBackend

    start, listing = EMRServerlessBackend.start_job_run, EMRServerlessBackend.list_job_runs

    def start_job_run(self: EMRServerlessBackend, *args: Any, **kwargs: Any) -> Any:
        run = start(self, *args, **kwargs)
        run.state = "RUNNING"
        return run

    def list_job_runs(self: EMRServerlessBackend, application_id: str, *args: Any, **kwargs: Any) -> Any:
        if application_id not in self.job_runs:
            self.get_application(application_id)  # still an error for an unknown application
            return []
        return listing(self, application_id, *args, **kwargs)

    EMRServerlessBackend.start_job_run = start_job_run  # type: ignore[method-assign]
    EMRServerlessBackend.list_job_runs = list_job_runs  # type: ignore[method-assign]
