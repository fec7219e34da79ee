"""sdk.session's endpoint redirection and sdk.seed's key naming, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdk import seed as sm_seed
from sdk import session as sm_session

URL = "http://127.0.0.1:9999"


def test_every_client_of_an_emulator_session_goes_to_the_emulator() -> None:
    session = sm_session.boto_session(URL, "eu-west-1")
    for service in ("sagemaker", "sagemaker-runtime", "s3", "logs", "sts", "iam"):
        assert session.client(service).meta.endpoint_url == URL
    assert session.resource("s3").meta.client.meta.endpoint_url == URL
    assert session.region_name == "eu-west-1"


def test_an_explicit_aws_endpoint_is_redirected_but_another_is_kept() -> None:
    session = sm_session.boto_session(URL)
    # What the SageMaker SDK passes for STS (sagemaker.session.sts_regional_endpoint).
    sts = session.client("sts", endpoint_url="https://sts.us-east-1.amazonaws.com")
    assert sts.meta.endpoint_url == URL
    other = session.client("s3", endpoint_url="http://127.0.0.1:1234")
    assert other.meta.endpoint_url == "http://127.0.0.1:1234"


def test_sagemaker_session_is_bound_to_the_emulator_and_offline_defaults() -> None:
    session = sm_session.sagemaker_session(URL, default_bucket="bkt")
    assert session.sagemaker_client.meta.endpoint_url == URL
    assert session.sagemaker_runtime_client.meta.endpoint_url == URL
    modules = session.sagemaker_config["SageMaker"]["PythonSDK"]["Modules"]
    assert modules["TelemetryOptOut"] is True
    assert session._default_bucket_name_override == "bkt"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "a.csv").write_text("1,2\n")
    (tmp_path / "data" / "sub" / "b.csv").write_text("3,4\n")
    return tmp_path


def keys(pairs: list[tuple[Path, sm_seed.S3Location]]) -> list[str]:
    return [f"{loc.bucket}/{loc.key}" for _, loc in pairs]


def test_a_file_goes_under_a_prefix_or_to_the_named_key(tree: Path) -> None:
    f = tree / "data" / "a.csv"
    assert keys(sm_seed.plan(f, "s3://b")) == ["b/a.csv"]
    assert keys(sm_seed.plan(f, "s3://b/")) == ["b/a.csv"]
    assert keys(sm_seed.plan(f, "s3://b/p/")) == ["b/p/a.csv"]
    assert keys(sm_seed.plan(f, "s3://b/p/renamed.csv")) == ["b/p/renamed.csv"]


def test_a_folder_is_copied_recursively_with_relative_keys(tree: Path) -> None:
    assert keys(sm_seed.plan(tree / "data", "s3://b/p")) == ["b/p/a.csv", "b/p/sub/b.csv"]
    assert keys(sm_seed.plan(tree / "data", "s3://b")) == ["b/a.csv", "b/sub/b.csv"]


@pytest.mark.parametrize("uri", ["b/key", "s3://", "s3:///key", "http://b/k"])
def test_bad_destinations_are_clear_errors(tree: Path, uri: str) -> None:
    with pytest.raises(sm_seed.SeedError, match="S3 URI"):
        sm_seed.plan(tree / "data", uri)


def test_a_missing_source_is_a_clear_error(tree: Path) -> None:
    with pytest.raises(sm_seed.SeedError, match="no such file"):
        sm_seed.plan(tree / "nope", "s3://b/")


def test_a_seed_dir_with_loose_files_is_refused(tree: Path) -> None:
    with pytest.raises(sm_seed.SeedError, match="top-level folders are buckets"):
        sm_seed.seed_tree(tree / "data", s3=None)
