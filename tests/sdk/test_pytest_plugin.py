"""The pytest plugin as a user meets it: a test file of their own, in their own folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

USER_TESTS = textwrap.dedent(
    """
    import sys


    def test_clients_reach_one_real_emulator(sagemaker_emulator, sagemaker_client, s3_client):
        assert sagemaker_emulator.url.startswith("http://127.0.0.1:")
        s3_client.create_bucket(Bucket="mine")
        assert [b["Name"] for b in s3_client.list_buckets()["Buckets"]] == ["mine"]
        assert sagemaker_client.list_training_jobs()["TrainingJobSummaries"] == []


    def test_sagemaker_session_needs_no_sts(sagemaker_session):
        assert sagemaker_session.default_bucket() == "sagemaker-us-east-1-123456789012"


    def test_env_makes_unmodified_code_work(sagemaker_emulator_env):
        import sagemaker

        assert sagemaker.get_execution_role().startswith("arn:aws:iam::123456789012:role/")
        assert sagemaker.Session().default_bucket() == sagemaker_emulator_env.bucket


    def test_no_fixture_no_server():
        # Run alone: no fixture asked for, so the plugin imported no launcher, started nothing.
        assert "sdk.launcher" not in sys.modules
    """
)


def run_user_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    (tmp_path / "test_mine.py").write_text(USER_TESTS)
    return tmp_path


def _metadata() -> str | None:
    path = Path("/opt/ml/metadata/resource-metadata.json")
    return path.read_text() if path.exists() else None


def test_the_fixtures_start_a_real_emulator_for_a_users_tests(user_folder: Path) -> None:
    before = _metadata()
    out = run_user_pytest(
        user_folder, "--sagemaker-emulator-runtime", "process", "-k", "not no_fixture"
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "3 passed" in out.stdout
    assert _metadata() == before  # the environment fixture put the notebook metadata back


def test_tests_without_the_fixtures_start_nothing(user_folder: Path) -> None:
    out = run_user_pytest(user_folder, "-k", "no_fixture")
    assert out.returncode == 0, out.stdout[-4000:]
    assert "1 passed" in out.stdout


def test_an_already_running_emulator_can_be_used(
    user_folder: Path, sagemaker_emulator_url: str
) -> None:
    (user_folder / "test_url.py").write_text(
        "def test_url(sagemaker_emulator_url, sagemaker_emulator):\n"
        f"    assert sagemaker_emulator_url == {sagemaker_emulator_url!r}\n"
        "    sagemaker_emulator.stop()  # a no-op: the fixtures did not start it\n"
    )
    out = run_user_pytest(
        user_folder, "test_url.py", "--sagemaker-emulator-url", sagemaker_emulator_url
    )
    assert out.returncode == 0, out.stdout[-4000:]
