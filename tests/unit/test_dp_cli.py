"""`dp` as a user meets it: every command group is wired, and an error is one line, not a traceback."""

from pathlib import Path

import pytest

from dptools.cli.main import app, main
from dptools.local.paths import DP_LOCAL_DIR


def test_every_command_group_is_wired() -> None:
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == {
        "invoke",
        "smoke",
        "demo",
        "deploy-artifacts",
        "stack",
        "ingest",
        "streaming",
        "sample",
        "export",
        "transform",
        "sql",
        "warehouse",
    }


def test_an_error_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DP_LOCAL_DIR, str(tmp_path))  # no stack has ever run here
    with pytest.raises(SystemExit) as exited:
        main(["streaming", "status"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "error: the local stack is not up: run `dp stack up` (`dp --debug ...` shows the traceback)"
    ]


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dptools.local.processes import StackError

    monkeypatch.setenv(DP_LOCAL_DIR, str(tmp_path))
    with pytest.raises(StackError, match="not up"):
        main(["--debug", "streaming", "status"])
