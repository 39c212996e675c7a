import pytest

from dataplatform.settings import (
    AWS_ENDPOINT_URL,
    DP_PROFILE,
    DP_RAW_BUCKET,
    Profile,
    Settings,
    SettingsError,
    load_settings,
    settings_env,
)


def test_explicit_arguments_beat_the_environment() -> None:
    env = {DP_PROFILE: "local", AWS_ENDPOINT_URL: "http://127.0.0.1:1", DP_RAW_BUCKET: "from-env"}
    settings = load_settings(env, raw_bucket="explicit", endpoint_url="http://127.0.0.1:2")
    assert settings.raw_bucket == "explicit"
    assert settings.endpoint_url == "http://127.0.0.1:2"
    assert settings.profile is Profile.LOCAL


def test_the_environment_beats_the_defaults() -> None:
    settings = load_settings({DP_RAW_BUCKET: "from-env", "AWS_REGION": "eu-west-1"})
    assert settings.profile is Profile.AWS
    assert (settings.raw_bucket, settings.region) == ("from-env", "eu-west-1")


def test_explicit_profile_beats_the_environment() -> None:
    settings = load_settings({DP_PROFILE: "local"}, profile="aws")
    assert settings.profile is Profile.AWS
    assert settings.endpoint_url is None


def test_local_profile_without_an_endpoint_is_an_error() -> None:
    with pytest.raises(SettingsError, match="dp stack up"):
        load_settings({DP_PROFILE: "local"})


def test_unknown_profile_names_the_allowed_ones() -> None:
    with pytest.raises(SettingsError, match="aws, local"):
        load_settings({DP_PROFILE: "staging"})


def test_a_missing_required_setting_is_named() -> None:
    with pytest.raises(SettingsError, match="raw_bucket"):
        Settings().require("raw_bucket")


def test_settings_survive_the_trip_through_the_environment() -> None:
    original = Settings(
        profile=Profile.LOCAL,
        region="eu-central-1",
        endpoint_url="http://127.0.0.1:5",
        raw_bucket="raw",
        event_bus="bus",
        kafka_bootstrap="127.0.0.1:9",
    )
    env = settings_env(original)
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert load_settings(env) == original
