"""sdk.env without a server: the files it writes, what it records, and that undo restores it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from sagemaker.config.config import load_sagemaker_config, validate_sagemaker_config

from sdk import env as sm_env

URL = "http://127.0.0.1:9999"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated XDG config home, so the user's real ~/.config is never read or written."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path


def prepare(home: Path, **kwargs: object) -> sm_env.NotebookEnv:
    options: dict[str, object] = {
        "state_dir": home / "state",
        "metadata_path": home / "opt" / "ml" / "metadata" / "resource-metadata.json",
        "create_buckets": False,
        "environ": {},
    }
    options.update(kwargs)
    return sm_env.prepare(URL, **options)  # type: ignore[arg-type]


def test_writes_a_valid_sdk_config_with_bucket_and_telemetry_off(home: Path) -> None:
    prepared = prepare(home, bucket="my-bucket")
    config = yaml.safe_load(prepared.config_path.read_text())
    validate_sagemaker_config(config)  # the SDK's own schema
    modules = config["SageMaker"]["PythonSDK"]["Modules"]
    assert modules["Session"]["DefaultS3Bucket"] == "my-bucket"
    assert modules["TelemetryOptOut"] is True
    assert prepared.variables["SAGEMAKER_USER_CONFIG_OVERRIDE"] == str(prepared.config_path)


def test_the_config_names_the_default_execution_role_for_training_and_models(home: Path) -> None:
    # SDK 3's ModelTrainer reads SageMaker.TrainingJob.RoleArn when it is given no role; the
    # 2.x SDK's schema accepts both keys too.
    config = yaml.safe_load(prepare(home).config_path.read_text())
    validate_sagemaker_config(config)
    role = "arn:aws:iam::123456789012:role/SageMakerRole"
    assert config["SageMaker"]["TrainingJob"] == {"RoleArn": role}
    assert config["SageMaker"]["Model"] == {"ExecutionRoleArn": role}


def test_the_sdk_loads_the_config_through_the_override_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = prepare(home)
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(prepared.config_path))
    loaded = load_sagemaker_config()
    session = loaded["SageMaker"]["PythonSDK"]["Modules"]["Session"]
    assert session["DefaultS3Bucket"] == "sagemaker-us-east-1-123456789012"


def test_variables_point_every_client_at_the_emulator(home: Path) -> None:
    prepared = prepare(home, region="eu-west-1")
    v = prepared.variables
    assert v["AWS_ENDPOINT_URL"] == URL
    assert v["AWS_DEFAULT_REGION"] == v["AWS_REGION"] == "eu-west-1"
    assert v["AWS_ACCESS_KEY_ID"] and v["AWS_SECRET_ACCESS_KEY"]
    assert prepared.bucket == "sagemaker-eu-west-1-123456789012"


def test_per_service_overrides_and_tokens_are_unset_and_restored(home: Path) -> None:
    before = {
        "AWS_ENDPOINT_URL_S3": "http://elsewhere:1",
        "AWS_SESSION_TOKEN": "tok",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
    }
    prepared = prepare(home, environ=before)
    assert set(prepared.unset) == {
        "AWS_ENDPOINT_URL_S3",
        "AWS_SESSION_TOKEN",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    }
    environ = dict(before)
    prepared.apply(environ)
    assert "AWS_ENDPOINT_URL_S3" not in environ
    assert environ["AWS_ENDPOINT_URL"] == URL

    restoration = sm_env.undo(home / "state")
    restoration.apply(environ)
    assert environ == before


def test_shell_lines_evaluate_in_a_real_shell(home: Path) -> None:
    prepared = prepare(home, bucket="b", environ={"AWS_ENDPOINT_URL_S3": "http://elsewhere"})
    script = "\n".join(prepared.shell_lines())
    out = subprocess.run(
        ["bash", "-c", 'export AWS_ENDPOINT_URL_S3=x; eval "$1"; env', "bash", script],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert f"AWS_ENDPOINT_URL={URL}" in out
    assert f"SAGEMAKER_USER_CONFIG_OVERRIDE={prepared.config_path}" in out
    assert not any(line.startswith("AWS_ENDPOINT_URL_S3=") for line in out)


def test_metadata_file_is_created_and_undo_removes_it_and_its_new_dirs(home: Path) -> None:
    metadata = home / "opt" / "ml" / "metadata" / "resource-metadata.json"
    prepare(home, notebook_name="nb-1")
    assert json.loads(metadata.read_text()) == {"ResourceName": "nb-1"}
    sm_env.undo(home / "state")
    assert not metadata.exists()
    assert not (home / "opt").exists()
    assert not (home / "state" / sm_env.STATE_FILE_NAME).exists()
    assert not (home / "state" / sm_env.CONFIG_FILE_NAME).exists()


def test_an_existing_metadata_file_is_backed_up_said_and_restored(home: Path) -> None:
    metadata = home / "opt" / "ml" / "metadata" / "resource-metadata.json"
    metadata.parent.mkdir(parents=True)
    original = '{"ResourceName": "my-real-notebook", "DomainId": "d-1"}'
    metadata.write_text(original)
    first = prepare(home)
    assert any("backed up" in n for n in first.notices)
    # A second prepare (e.g. the emulator moved to a new port) must not back up our own file.
    second = prepare(home)
    assert not any("backed up" in n for n in second.notices)
    assert json.loads(metadata.read_text()) == {"ResourceName": "sagemaker-emulator"}
    restoration = sm_env.undo(home / "state")
    assert metadata.read_text() == original
    assert any("restored" in n for n in restoration.notices)


def test_previous_environment_is_the_first_prepares(home: Path) -> None:
    prepare(home, environ={"AWS_DEFAULT_REGION": "ap-south-1"})
    prepare(home, environ={"AWS_DEFAULT_REGION": "us-east-1"})  # ours, from the first call
    restoration = sm_env.undo(home / "state")
    assert restoration.variables["AWS_DEFAULT_REGION"] == "ap-south-1"
    assert restoration.variables["AWS_ENDPOINT_URL"] is None
    assert "export AWS_DEFAULT_REGION=ap-south-1" in restoration.shell_lines()
    assert "unset AWS_ENDPOINT_URL" in restoration.shell_lines()


def test_the_users_own_sdk_config_is_merged_and_the_shadowing_is_said(home: Path) -> None:
    user_config = home / "xdg" / "sagemaker" / "config.yaml"
    user_config.parent.mkdir(parents=True)
    user_config.write_text(
        yaml.safe_dump(
            {
                "SchemaVersion": "1.0",
                "SageMaker": {
                    "PythonSDK": {"Modules": {"Session": {"DefaultS3ObjectKeyPrefix": "team-a"}}}
                },
            }
        )
    )
    prepared = prepare(home, bucket="emu")
    assert any(str(user_config) in n and "shadowed" in n for n in prepared.notices)
    config = yaml.safe_load(prepared.config_path.read_text())
    validate_sagemaker_config(config)
    session = config["SageMaker"]["PythonSDK"]["Modules"]["Session"]
    assert session == {"DefaultS3ObjectKeyPrefix": "team-a", "DefaultS3Bucket": "emu"}
    assert user_config.exists()  # never touched
    sm_env.undo(home / "state")
    assert user_config.exists()


def test_an_unwritable_metadata_path_is_a_notice_not_a_crash(home: Path) -> None:
    blocker = home / "not-a-dir"
    blocker.write_text("x")
    prepared = prepare(home, metadata_path=blocker / "metadata.json")
    assert any("get_execution_role" in n for n in prepared.notices)


def test_undo_without_state_says_so(home: Path) -> None:
    restoration = sm_env.undo(home / "nothing")
    assert restoration.variables == {}
    assert "nothing to undo" in restoration.notices[0]


def test_a_second_prepare_in_a_prepared_shell_keeps_the_users_settings(home: Path) -> None:
    user_config = home / "mine.yaml"
    user_config.write_text(
        yaml.safe_dump(
            {
                "SchemaVersion": "1.0",
                "SageMaker": {
                    "PythonSDK": {"Modules": {"Session": {"DefaultS3ObjectKeyPrefix": "p"}}}
                },
            }
        )
    )
    first = prepare(home, environ={"SAGEMAKER_USER_CONFIG_OVERRIDE": str(user_config)})
    # The shell now names our file; notebook-env runs again (say, the emulator moved port).
    second = prepare(home, environ=first.variables)
    config = yaml.safe_load(second.config_path.read_text())
    assert config["SageMaker"]["PythonSDK"]["Modules"]["Session"]["DefaultS3ObjectKeyPrefix"] == "p"
    restoration = sm_env.undo(home / "state")
    assert restoration.variables["SAGEMAKER_USER_CONFIG_OVERRIDE"] == str(user_config)


def test_the_region_follows_the_client_and_a_change_is_announced(home: Path) -> None:
    first = prepare(home, environ={"AWS_DEFAULT_REGION": "us-west-2"})
    assert first.region == "us-west-2"
    assert first.bucket == "sagemaker-us-west-2-123456789012"
    assert first.variables["AWS_DEFAULT_REGION"] == "us-west-2"
    assert not any("region" in notice for notice in first.notices)
    again = prepare(home, environ={"AWS_REGION": "us-west-2"})
    assert not any("region" in notice for notice in again.notices)
    moved = prepare(home, environ={"AWS_DEFAULT_REGION": "eu-west-1"})
    assert moved.bucket == "sagemaker-eu-west-1-123456789012"
    assert any("now eu-west-1" in notice and "was us-west-2" in notice for notice in moved.notices)


def test_without_a_client_region_it_is_us_east_1(home: Path) -> None:
    assert prepare(home).region == "us-east-1"
