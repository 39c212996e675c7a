"""`dp invoke`: a handler resolved from a SAM template runs in-process with an event file.

The fixture template stands in for the platform's own functions; the endpoint is explicit, so these
tests need no running stack (the greeter makes no AWS call).
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dptools.cli.main import BAD_INPUT, app
from tests.conftest import FIXTURES

ENDPOINT = "http://127.0.0.1:9"


def dp_invoke(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    base = ["invoke", "--template", str(FIXTURES / "template.yaml"), "--endpoint-url", ENDPOINT]
    result = runner.invoke(app, [*base, *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_handler_runs_with_the_templates_environment_and_a_context() -> None:
    code, out, _ = dp_invoke("GreeterFunction", "-e", str(FIXTURES / "events/greeted.json"))
    assert code == 0
    assert json.loads(out.splitlines()[-1]) == {
        "message": "hello Ada",
        "function": "dataplatform-local-GreeterFunction",
        "bucket_arn": "arn:aws:s3:::dataplatform-local-fixture-123456789012",
        "profile": "local",
    }


def test_an_unknown_function_is_bad_input() -> None:
    code, _, err = dp_invoke("NoSuchFunction", "-e", str(FIXTURES / "events/greeted.json"))
    assert code == BAD_INPUT
    assert "unknown function 'NoSuchFunction'" in err
    assert "GreeterFunction" in err


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("missing.json", "cannot read event file"),
        ("truncated.json", "is not valid JSON"),
        ("array.json", "must hold a JSON object"),
    ],
)
def test_an_unreadable_event_is_bad_input(event: str, message: str) -> None:
    code, _, err = dp_invoke("GreeterFunction", "-e", str(FIXTURES / "events" / event))
    assert code == BAD_INPUT
    assert message in err


def test_an_event_that_does_not_match_the_model_is_bad_input() -> None:
    code, _, err = dp_invoke("GreeterFunction", "-e", str(FIXTURES / "events/not_greeted.json"))
    assert code == BAD_INPUT
    assert "does not match" in err and "name" in err


def test_a_failing_handler_propagates_its_error() -> None:
    code, _, _ = dp_invoke("FailingFunction", "-e", str(FIXTURES / "events/greeted.json"))
    assert code == 1


def test_a_missing_template_is_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["invoke", "GreeterFunction", "-e", "x.json", "--template", str(tmp_path / "none.yaml")]
    )
    assert result.exit_code == BAD_INPUT
    assert "cannot read template" in result.stderr
