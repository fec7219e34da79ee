"""pytest fixtures that run your integration tests against a real emulator.

Installed as the `sagemaker_emulator` pytest11 plugin, so the fixtures are there in every pytest
run of an environment that has this package; nothing starts until a test asks for one:

- `sagemaker_emulator`: a `sagemaker-emulator serve` subprocess on a free port, with its own data
  dir, for the whole session (`.url`, `.stop()`); `--sagemaker-emulator-url URL` uses a running
  emulator instead, and `--sagemaker-emulator-runtime auto|docker|process` picks the runtime.
- `sagemaker_emulator_url`, `sagemaker_boto_session`, `sagemaker_client`,
  `sagemaker_runtime_client`, `s3_client`, `logs_client`: boto3 on that emulator.
- `sagemaker_session`: a `sagemaker.Session` on it (needs the SageMaker SDK).
- `sagemaker_emulator_env`: the whole process environment pointed at it (as `notebook-env` does),
  for code that builds its own clients (`sagemaker.Session()`, `get_execution_role()`); undone
  at the end of each test module that uses it.

This module is imported by every pytest run (the entry point), so it imports nothing heavy at the
top: boto3, the launcher and the SDK load inside the fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sdk.env import NotebookEnv

_RUNTIMES = ("auto", "docker", "process")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sagemaker-emulator", "SageMaker emulator fixtures")
    group.addoption(
        "--sagemaker-emulator-url",
        default=None,
        help="use the emulator already running at this URL instead of starting one",
    )
    group.addoption(
        "--sagemaker-emulator-runtime",
        default=None,
        choices=_RUNTIMES,
        help="runtime of the emulator the fixtures start (default: the server's own, auto)",
    )


class _RunningEmulator:
    """An emulator the fixtures did not start: stop() leaves it running."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def stop(self) -> None:
        pass


@pytest.fixture(scope="session")
def sagemaker_emulator_runtime(request: pytest.FixtureRequest) -> str:
    """The `--runtime` of the emulator `sagemaker_emulator` starts; override to choose in code."""
    choice: str | None = request.config.getoption("--sagemaker-emulator-runtime")
    return choice or "auto"


@pytest.fixture(scope="session")
def sagemaker_emulator(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sagemaker_emulator_runtime: str,
) -> Iterator[Any]:
    """A real emulator for this test session: `.url`, `.stop()`."""
    url: str | None = request.config.getoption("--sagemaker-emulator-url")
    if url:
        yield _RunningEmulator(url)
        return
    from sdk.launcher import start_emulator

    server = start_emulator(
        tmp_path_factory.mktemp("sagemaker-emulator") / "data", runtime=sagemaker_emulator_runtime
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sagemaker_emulator_url(sagemaker_emulator: Any) -> str:
    url: str = sagemaker_emulator.url
    return url


@pytest.fixture(scope="session")
def sagemaker_boto_session(sagemaker_emulator_url: str) -> Any:
    """A boto3 session whose every client goes to the emulator (dummy credentials, us-east-1)."""
    from sdk.session import boto_session

    return boto_session(sagemaker_emulator_url)


@pytest.fixture(scope="session")
def sagemaker_client(sagemaker_boto_session: Any) -> Any:
    return sagemaker_boto_session.client("sagemaker")


@pytest.fixture(scope="session")
def sagemaker_runtime_client(sagemaker_boto_session: Any) -> Any:
    return sagemaker_boto_session.client("sagemaker-runtime")


@pytest.fixture(scope="session")
def s3_client(sagemaker_boto_session: Any) -> Any:
    return sagemaker_boto_session.client("s3")


@pytest.fixture(scope="session")
def logs_client(sagemaker_boto_session: Any) -> Any:
    return sagemaker_boto_session.client("logs")


@pytest.fixture(scope="session")
def sagemaker_session(sagemaker_emulator_url: str) -> Any:
    """A `sagemaker.Session` on the emulator, with its default bucket and telemetry off."""
    from sdk.session import sagemaker_session as make_session

    return make_session(sagemaker_emulator_url)


@pytest.fixture(scope="module")
def sagemaker_emulator_env(
    sagemaker_emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NotebookEnv]:
    """`os.environ`, the SDK defaults file and the notebook metadata file set for the emulator.

    The metadata file is the real `/opt/ml/metadata/resource-metadata.json` (the SDK reads no
    other); one that existed is backed up and put back at the end, with the variables. Module
    scope: the rest of the session (other modules, other plugins' tests) gets its environment
    back as it was.
    """
    from sdk import env as sm_env

    state_dir: Path = tmp_path_factory.mktemp("sagemaker-emulator-env")
    prepared = sm_env.configure(sagemaker_emulator_url, state_dir=state_dir)
    try:
        yield prepared
    finally:
        sm_env.undo(state_dir, apply=True)
