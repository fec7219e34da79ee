"""The SageMaker Python SDK 3.x (`.venv-v3`) against a real emulator, on each runtime.

SDK 3 cannot share a venv with the 2.x SDK the dev venv pins, so each flow is a script under
`flows/` run by `.venv-v3/bin/python` (built by scripts/v3-venv.sh), in the environment
`sdk.env.prepare` (what `notebook-env` does) sets up: unchanged SDK 3 code, finding the emulator
through AWS_ENDPOINT_URL, the SDK defaults file and the notebook metadata file. A flow checks what
it can itself and prints one JSON line last; the test reads it and the flow's printed logs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sdk import env as sm_env
from sdk.launcher import EmulatorServer
from tests.conftest import RUNTIMES, require_runtime, runtime_params, session_emulator
from tests.sdk3.flows.common import RESULT_MARK

REPO = Path(__file__).resolve().parents[2]
FLOWS = Path(__file__).resolve().parent / "flows"
REGION = "us-east-1"


def v3_python() -> Path:
    """The SDK 3 venv's python; fails the calling test (never skips) when it is missing."""
    override = os.environ.get("SAGEMAKER_EMULATOR_V3_PYTHON")
    python = Path(override) if override else REPO / ".venv-v3" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} does not exist: build it with scripts/v3-venv.sh")
    return python


def _runtimes() -> list[Any]:
    """Both runtimes; SAGEMAKER_EMULATOR_SDK_RUNTIME names one when only that one should run."""
    explicit = os.environ.get("SAGEMAKER_EMULATOR_SDK_RUNTIME")
    return runtime_params([explicit] if explicit else RUNTIMES)


@pytest.fixture(scope="session", params=_runtimes())
def runtime_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    require_runtime(name)
    return name


@pytest.fixture(scope="session")
def emulator(
    runtime_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorServer]:
    with session_emulator(tmp_path_factory, runtime_name, "sdk3") as server:
        yield server


@dataclass
class Flows:
    """Runs flow scripts in the SDK 3 venv, in an environment prepared for one emulator."""

    url: str
    runtime: str
    bucket: str
    environ: dict[str, str]
    work: Path

    def run(self, flow: str, *args: str, timeout: float = 600) -> tuple[dict[str, Any], str]:
        """Run `flows/<flow>.py args`; return its result (JSON after the mark), and all it printed.

        A flow that exits non-zero fails the test with what it printed.
        """
        completed = subprocess.run(
            [str(v3_python()), str(FLOWS / f"{flow}.py"), *args],
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.environ,
            check=False,
        )
        printed = completed.stdout + completed.stderr
        if completed.returncode != 0:
            pytest.fail(
                f"flow {flow} failed (exit {completed.returncode}):\n{printed[-12000:]}",
                pytrace=False,
            )
        marked = [
            line.removeprefix(RESULT_MARK)
            for line in completed.stdout.splitlines()
            if line.startswith(RESULT_MARK)
        ]
        assert marked, f"flow {flow} printed no result:\n{printed[-4000:]}"
        result: dict[str, Any] = json.loads(marked[-1])
        return result, printed


@pytest.fixture(scope="session")
def flows(
    emulator: EmulatorServer, runtime_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flows]:
    """The notebook environment for this runtime's emulator, with a HOME of its own.

    The SDK defaults file and the undo record live in a temporary state dir; HOME points at a
    temporary folder, so nothing the SDK writes (its ~/.config, ~/.sagemaker) lands in the real
    home. The notebook metadata file is the real /opt/ml/metadata one (the SDK reads no other);
    `undo` puts back whatever was there.
    """
    state_dir = tmp_path_factory.mktemp(f"sdk3-env-{runtime_name}")
    home = tmp_path_factory.mktemp(f"sdk3-home-{runtime_name}")
    work = tmp_path_factory.mktemp(f"sdk3-work-{runtime_name}")
    prepared = sm_env.prepare(emulator.url, region=REGION, state_dir=state_dir)
    environ = dict(os.environ)
    prepared.apply(environ)
    environ.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            # The flows import this checkout's `sdk` (the RecordIO writer), not an installed one.
            "PYTHONPATH": str(REPO),
            "PYTHONDONTWRITEBYTECODE": "1",
            "SAGEMAKER_EMULATOR_REGION": REGION,
            "SAGEMAKER_EMULATOR_RUNTIME": runtime_name,
        }
    )
    try:
        yield Flows(emulator.url, runtime_name, prepared.bucket, environ, work)
    finally:
        sm_env.undo(state_dir)


__all__ = ["Flows", "v3_python"]
