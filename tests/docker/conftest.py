"""Fixtures of the Docker tier: an engine, the images, a DockerRuntime per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.runtime.docker_runtime import DockerRuntime
from tests.docker.engine import build_byo_image, require_docker


@pytest.fixture(scope="session")
def docker_ready() -> None:
    require_docker()


@pytest.fixture
def docker_runtime(docker_ready: None) -> Iterator[DockerRuntime]:
    # A scope of its own: parallel tests and other emulators on this engine are left alone.
    runtime = DockerRuntime(scope=f"test-{uuid.uuid4().hex[:8]}")
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture(scope="session")
def byo_image(docker_ready: None) -> str:
    return build_byo_image()


@pytest.fixture
def opt_ml(tmp_path: Path) -> Path:
    root = tmp_path / "opt_ml"
    for sub in ("input/config", "input/data", "model", "output/data"):
        (root / sub).mkdir(parents=True)
    return root
