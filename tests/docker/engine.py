"""Getting a Docker engine and the images for tests; shared by tests/docker and the `docker`
parameter of the runtime fixture in tests/conftest.py.

Docker tests never skip silently: without an engine they fail. Only
SAGEMAKER_EMULATOR_SKIP_DOCKER=1 skips them, with a loud reason.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_ENV = "SAGEMAKER_EMULATOR_SKIP_DOCKER"
OFFLINE_BASE = "sagemaker-emulator/base:bookworm"
BYO_REPOSITORY = "sagemaker-emulator-test/byo"


def skip_requested() -> bool:
    return os.environ.get(SKIP_ENV) == "1"


@functools.cache
def _prepare() -> str | None:
    """Start an engine if none answers and build the algorithm images (cached: seconds when
    nothing changed); the error text, or None when all is ready."""
    for command in (["bash", "scripts/docker-engine.sh"], ["bash", "containers/build.sh"]):
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return None


def require_docker() -> None:
    """Make the engine and the algorithm images ready, or skip loudly (opt-out) or fail."""
    if skip_requested():
        pytest.skip(
            f"!!! {SKIP_ENV}=1: Docker tests SKIPPED on request; the Docker runtime is NOT tested !!!"
        )
    error = _prepare()
    if error is not None:
        pytest.fail(f"No Docker engine / images (set {SKIP_ENV}=1 to skip, loudly):\n{error}")


@functools.cache
def build_byo_image() -> str:
    """The bring-your-own test image, built offline FROM the base the algorithm images use.

    Tagged by the hash of its sources: checkouts with different test images share the engine
    without one build retagging another's image under the same name."""
    context = Path(__file__).parent / "byo"
    digest = hashlib.sha256()
    for path in sorted(p for p in context.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    image = f"{BYO_REPOSITORY}:{digest.hexdigest()[:12]}"
    base = OFFLINE_BASE
    inspect = subprocess.run(["docker", "image", "inspect", base], capture_output=True, check=False)
    if inspect.returncode != 0:
        base = "python:3.11-slim"
    subprocess.run(
        ["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", image, "."],
        cwd=context,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        capture_output=True,
        check=True,
    )
    return image
