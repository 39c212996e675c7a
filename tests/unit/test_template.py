"""Reading SAM templates: short-form intrinsics, resolution, local names and Globals."""

from pathlib import Path

import pytest

from dptools.local.deployment import LocalDeployment
from dptools.sam.functions import find_function, function_specs
from dptools.sam.template import Context, TemplateError, load_template, resolve
from tests.conftest import FIXTURES, ROOT

CTX = Context(
    parameters={"Stage": "dev"},
    pseudo={"AWS::Region": "us-east-1", "AWS::AccountId": "111122223333"},
    refs={"Bucket": "my-bucket"},
    attributes=lambda res, att: f"arn:{res}:{att}",
)


def test_short_form_tags_become_long_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n  X:\n    Type: T\n    Properties:\n"
        "      A: !Ref Stage\n      B: !GetAtt Bucket.Arn\n      C: !Sub '${Stage}-x'\n"
        "      D: !Join ['-', [a, !Ref Stage]]\n"
    )
    props = load_template(path)["Resources"]["X"]["Properties"]
    assert props == {
        "A": {"Ref": "Stage"},
        "B": {"Fn::GetAtt": ["Bucket", "Arn"]},
        "C": {"Fn::Sub": "${Stage}-x"},
        "D": {"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]},
    }


def test_intrinsics_resolve_against_the_context() -> None:
    value = {
        "name": {"Fn::Sub": "${AWS::Region}-${Stage}-${Bucket.Arn}-${!Literal}"},
        "joined": {"Fn::Join": [":", [{"Ref": "Bucket"}, {"Ref": "AWS::AccountId"}]]},
        "sub_with_vars": {"Fn::Sub": ["${X}/${Stage}", {"X": {"Ref": "Bucket"}}]},
        "picked": {"Fn::Select": [1, ["a", "b"]]},
        "nested": [{"Ref": "Stage"}],
    }
    assert resolve(value, CTX) == {
        "name": "us-east-1-dev-arn:Bucket:Arn-${Literal}",
        "joined": "my-bucket:111122223333",
        "sub_with_vars": "my-bucket/dev",
        "picked": "b",
        "nested": ["dev"],
    }


def test_an_unknown_ref_is_an_error() -> None:
    with pytest.raises(TemplateError, match="Nope"):
        resolve({"Ref": "Nope"}, CTX)


def test_a_file_that_is_not_a_template_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("just: text\n")
    with pytest.raises(TemplateError, match="no Resources"):
        load_template(tmp_path / "x.yaml")


def test_local_names_follow_cloudformation_semantics() -> None:
    deployment = LocalDeployment(ROOT / "template.yaml", "http://127.0.0.1:4566")
    assert deployment.ref("RawBucket") == "dataplatform-local-raw-123456789012-us-east-1"
    assert deployment.ref("RawDatabase") == "raw"
    assert deployment.ref("PlatformBus") == "dataplatform-local-platform"
    assert deployment.get_att("PlatformBus", "Arn") == (
        "arn:aws:events:us-east-1:123456789012:event-bus/dataplatform-local-platform"
    )
    assert (
        deployment.get_att("RawBucket", "Arn") == "arn:aws:s3:::dataplatform-local-raw-123456789012-us-east-1"
    )
    assert deployment.resolve({"Ref": "Stage"}) == "dev"


def test_functions_get_globals_and_their_own_settings() -> None:
    template = load_template(FIXTURES / "template.yaml")
    specs = function_specs(template, FIXTURES)
    greeter = find_function(specs, "GreeterFunction")
    assert greeter.code_dir == (FIXTURES / "functions/greeter").resolve()
    assert greeter.timeout_s == 30 and greeter.runtime == "python3.13"
    assert set(greeter.environment) == {"POWERTOOLS_SERVICE_NAME", "GREETING", "BUCKET_ARN"}
    recorder = specs["RecorderFunction"]
    assert [(e.name, e.type) for e in recorder.events] == [
        ("Greeted", "EventBridgeRule"),
        ("Hourly", "ScheduleV2"),
    ]


def test_an_unknown_function_lists_the_known_ones() -> None:
    specs = function_specs(load_template(FIXTURES / "template.yaml"), FIXTURES)
    with pytest.raises(
        TemplateError, match=r"FailingFunction \(failing\), GreeterFunction \(greeter\), RecorderFunction"
    ):
        find_function(specs, "Nope")


def test_a_function_is_found_by_its_code_folder_as_events_name_it() -> None:
    specs = function_specs(load_template(FIXTURES / "template.yaml"), FIXTURES)
    assert find_function(specs, "greeter") is specs["GreeterFunction"]
    assert find_function(specs, "GreeterFunction") is specs["GreeterFunction"]
