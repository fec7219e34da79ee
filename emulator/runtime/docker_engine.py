"""The Docker engine itself: a checked client, whether it answers, the built-in algorithm images,
and the labels and names every Docker module of the runtime shares."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Final

import docker
import docker.errors

from emulator.runtime.images import ALGORITHMS, local_image

log = logging.getLogger(__name__)

LABEL_PREFIX: Final = "sagemaker-emulator"
LABEL_MANAGED: Final = f"{LABEL_PREFIX}.managed"
LABEL_SCOPE: Final = f"{LABEL_PREFIX}.scope"
LABEL_INSTANCE: Final = f"{LABEL_PREFIX}.instance"
LABEL_MODE: Final = f"{LABEL_PREFIX}.mode"

LABEL_NETWORK: Final = f"{LABEL_PREFIX}.network"
"""On a serving container with a network of its own: that network (removed with it)."""

NETWORK_ENV: Final = "SAGEMAKER_EMULATOR_DOCKER_NETWORK"
SERVING_NETWORK: Final = f"{LABEL_PREFIX}-serving"
SERVING_INTERNAL_NETWORK: Final = f"{LABEL_PREFIX}-serving-internal"
_NO_ICC: Final = {"com.docker.network.bridge.enable_icc": "false"}
SERVING_PORT: Final = 8080
OPT_ML: Final = "/opt/ml"

# What a container's first line of defence against a hung engine call is; streams (logs, wait)
# run without a timeout, as docker-py sets them up.
_API_TIMEOUT: Final = 120


class DockerUnavailable(RuntimeError):
    """No Docker engine answers."""


def docker_client(timeout: float = 5.0) -> docker.DockerClient:
    """A client of the engine named by the environment (DOCKER_HOST, else the local socket),
    checked with a ping; DockerUnavailable when none answers."""
    try:
        client = docker.from_env(timeout=int(max(timeout, 1)), max_pool_size=64)
        client.ping()
    except Exception as exc:  # docker-py raises DockerException or requests' errors here.
        raise DockerUnavailable(f"no Docker engine answers: {exc}") from exc
    client.api.timeout = _API_TIMEOUT
    return client


def engine_answers(timeout: float = 5.0) -> bool:
    try:
        docker_client(timeout).close()
    except DockerUnavailable:
        return False
    return True


def missing_algorithm_images(client: docker.DockerClient | None = None) -> list[str]:
    """The local tags of built-in algorithm images the engine does not have."""
    own = client is None
    client = client or docker_client()
    try:
        missing = []
        for algorithm in ALGORITHMS:
            try:
                client.images.get(local_image(algorithm))
            except docker.errors.ImageNotFound:
                missing.append(local_image(algorithm))
        return missing
    finally:
        if own:
            client.close()


def build_algorithm_images(timeout: float = 900) -> str | None:
    """Run containers/build.sh from this checkout; None on success, else why it could not."""
    script = Path(__file__).resolve().parents[2] / "containers" / "build.sh"
    if not script.is_file():
        return f"the algorithm images are missing and there is no {script} to build them"
    log.info("building the algorithm images with %s (first time: about a minute)", script)
    try:
        done = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"building the algorithm images failed: {exc}"
    if done.returncode != 0:
        return f"building the algorithm images failed: {done.stderr.strip()[-500:]}"
    return None


def docker_unavailable_reason(build: bool = True) -> str | None:
    """None when Docker can run the built-in algorithms here (building their images first if
    they are missing and `build`), else why not: what `--runtime auto` logs when it falls back."""
    try:
        client = docker_client()
    except DockerUnavailable as exc:
        return str(exc)
    try:
        missing = missing_algorithm_images(client)
        if missing and build:
            error = build_algorithm_images()
            if error is not None:
                return error
            missing = missing_algorithm_images(client)
        if missing:
            return f"the algorithm images {', '.join(missing)} are missing (containers/build.sh)"
        return None
    finally:
        client.close()
