"""Shared fixtures: real emulator servers (subprocesses, via sdk.launcher) and boto3 clients.

- `emulator_factory(runtime="process", data_dir=None, env=None)` starts a server and stops it
  at the end of the test; use it for restarts and crashes (same `data_dir`, new server).
- `emulator`: one server per runtime for the whole session. Tests under tests/api that use it
  (or the `runtime` fixture) run once per runtime, `process` and `docker`; mark a test
  `@pytest.mark.runtimes("process")` to limit it. The Docker run needs an engine and the images
  and fails loudly without them; only SAGEMAKER_EMULATOR_SKIP_DOCKER=1 skips it, with a reason.
- `boto_sagemaker`, `boto_runtime`, `boto_s3`, `boto_logs`, `boto_sts`, `boto_iam`: boto3
  clients pointed at `emulator` (named apart from the sdk plugin's `sagemaker_client`,
  `s3_client`... so that neither shadows the other).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from sdk.launcher import EmulatorServer, start_emulator

RUNTIMES = ("process", "docker")
REGION = "us-east-1"
REPO = Path(__file__).resolve().parents[1]

StartEmulator = Callable[..., EmulatorServer]

# The SageMaker SDK v2 warns on import that v3 exists; the tests pin v2 on purpose.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "runtimes(*names): the runtimes a tests/api test runs on (default: all)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Only the API tier runs per runtime; elsewhere `runtime` is the fixture below ("process").
    if "runtime" not in metafunc.fixturenames or "api" not in metafunc.definition.path.parts:
        return
    marker = metafunc.definition.get_closest_marker("runtimes")
    names = tuple(marker.args) if marker else RUNTIMES
    metafunc.parametrize("runtime", runtime_params(names), scope="session")


def runtime_params(names: Iterable[str]) -> list[Any]:
    """One pytest param per runtime name, the Docker one marked `docker`."""
    return [
        pytest.param(name, marks=[pytest.mark.docker] if name == "docker" else [], id=name)
        for name in names
    ]


def require_runtime(runtime: str) -> None:
    """Docker: start the engine and build the images if needed; fail loudly if that cannot be
    done, skip loudly only when SAGEMAKER_EMULATOR_SKIP_DOCKER=1 (tests.docker.engine decides)."""
    if runtime == "docker":
        from tests.docker.engine import require_docker

        require_docker()


def boto_kwargs(url: str) -> dict[str, Any]:
    return {
        "endpoint_url": url,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        # No retries: a 5xx must show up in a test, not be papered over.
        "config": Config(retries={"total_max_attempts": 1}),
    }


def _dump_log_on_failure(server: EmulatorServer) -> None:
    text = server.log_text()
    if text:
        print(f"--- emulator log ({server.log_path}) ---\n" + "\n".join(text.splitlines()[-60:]))


@pytest.fixture(scope="session")
def runtime() -> str:
    return "process"


@pytest.fixture
def emulator_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartEmulator]:
    started: list[EmulatorServer] = []

    def start(
        runtime: str = "process",
        data_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> EmulatorServer:
        require_runtime(runtime)
        directory = data_dir or tmp_path_factory.mktemp("emulator-data")
        server = start_emulator(directory, runtime, env=env, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@contextlib.contextmanager
def session_emulator(
    tmp_path_factory: pytest.TempPathFactory, runtime: str, prefix: str = "emulator"
) -> Iterator[EmulatorServer]:
    """A server on `runtime` with a data dir of its own, stopped at the end; the end of its log
    is printed when it had exited with an error."""
    require_runtime(runtime)
    server = start_emulator(tmp_path_factory.mktemp(f"{prefix}-{runtime}"), runtime)
    try:
        yield server
    finally:
        server.stop()
        if server.process.returncode not in (0, None):
            _dump_log_on_failure(server)


@pytest.fixture(scope="session")
def emulator(runtime: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    with session_emulator(tmp_path_factory, runtime) as server:
        yield server


@pytest.fixture
def aws_kwargs(emulator: EmulatorServer) -> dict[str, Any]:
    return boto_kwargs(emulator.url)


@pytest.fixture
def boto_sagemaker(aws_kwargs: dict[str, Any]) -> Any:
    return boto3.client("sagemaker", **aws_kwargs)


@pytest.fixture
def boto_runtime(aws_kwargs: dict[str, Any]) -> Any:
    return boto3.client("sagemaker-runtime", **aws_kwargs)


@pytest.fixture
def boto_s3(aws_kwargs: dict[str, Any]) -> Any:
    return boto3.client("s3", **aws_kwargs)


@pytest.fixture
def boto_logs(aws_kwargs: dict[str, Any]) -> Any:
    return boto3.client("logs", **aws_kwargs)


@pytest.fixture
def boto_sts(aws_kwargs: dict[str, Any]) -> Any:
    return boto3.client("sts", **aws_kwargs)


@pytest.fixture
def boto_iam(aws_kwargs: dict[str, Any]) -> Any:
    return boto3.client("iam", **aws_kwargs)
