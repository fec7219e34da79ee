"""Whether containers of the engine see this machine's files, and the bind mounts of /opt/ml.

Where they do (the emulator on the engine's host with its local socket), a job's /opt/ml tree is
bind-mounted: /opt/ml read-write, /opt/ml/input over it read-only. Channels are then read where
staging wrote them, the model is written where the upload reads it, and Pipe mode's FIFOs, made
on the host, are opened in the container. Nothing is copied.

Where they do not (the emulator in a container beside the engine, as docker-compose.yml runs it,
or a remote engine), a path of ours names nothing the engine can mount, and the tree travels by
archive (docker_archive).

The answer is not guessed from the socket's name: a probe container (created, never started)
gets a folder of ours bind-mounted, and the token written there is read back through the engine.
$SAGEMAKER_EMULATOR_DOCKER_STAGING = mount | archive overrides the probe (archive is also how the
benchmark measures the copy it replaces).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Final

import docker
import docker.errors
from docker.types import Mount

from emulator.runtime.docker_engine import LABEL_MANAGED, OPT_ML

log = logging.getLogger(__name__)

STAGING_ENV: Final = "SAGEMAKER_EMULATOR_DOCKER_STAGING"
_PROBE_DIR: Final = "/sagemaker-emulator-probe"


def staging_override() -> bool | None:
    """True (mount), False (archive) or None (probe), from $SAGEMAKER_EMULATOR_DOCKER_STAGING."""
    value = os.environ.get(STAGING_ENV, "").strip().lower()
    if value == "mount":
        return True
    if value == "archive":
        return False
    if value not in ("", "auto"):
        log.warning("%s=%r is neither mount, archive nor auto: probing", STAGING_ENV, value)
    return None


def _probe_image(client: docker.DockerClient, preferred: str) -> str | None:
    try:
        client.images.get(preferred)
        return preferred
    except docker.errors.DockerException:
        pass
    try:
        images = client.images.list()
    except docker.errors.DockerException:
        return None
    for image in images:
        if image.tags:
            return str(image.tags[0])
    return None


def engine_sees(client: docker.DockerClient, directory: Path, image: str) -> bool:
    """Whether a bind mount of `directory` (a folder of this machine) shows the engine what this
    process wrote there."""
    chosen = _probe_image(client, image)
    if chosen is None:
        return False
    token = uuid.uuid4().hex
    probe = directory / f".mount-probe-{token[:8]}"
    container = None
    try:
        probe.mkdir(parents=True)
        (probe / "token").write_text(token, encoding="utf-8")
        container = client.containers.create(
            chosen,
            command=["true"],
            labels={LABEL_MANAGED: "true"},
            network_mode="none",
            # A Mount, not `volumes`: an engine that lacks the source refuses it rather than
            # creating an empty folder of that name on its own machine.
            mounts=[Mount(_PROBE_DIR, str(probe.resolve()), type="bind", read_only=True)],
        )
        # A created container's mounts are in place for an archive read; nothing runs.
        chunks, _stat = container.get_archive(f"{_PROBE_DIR}/token")
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            member = tar.extractfile("token")
            seen = member.read().decode() if member is not None else ""
        return seen == token
    except (docker.errors.DockerException, OSError, tarfile.TarError, KeyError) as exc:
        log.info("the Docker engine does not see %s (%s): copying /opt/ml by archive", probe, exc)
        return False
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except docker.errors.DockerException as exc:
                log.debug("could not remove the probe container: %s", exc)
        shutil.rmtree(probe, ignore_errors=True)


def opt_ml_mounts(opt_ml: Path, mode: str) -> list[Mount]:
    """docker create's `mounts` for a container's /opt/ml tree.

    Training: the tree read-write (model/, output/ and anything else the algorithm writes), and
    input/ over it read-only, as channels are data the job must not change. Serving: the tree
    read-write, as a model server may unpack or cache files next to its model."""
    root = opt_ml.resolve()
    # An image may run as another user than ours: the folders it writes are open to all, as the
    # archive copy makes them.
    for folder in (root, root / "model", root / "output", root / "output" / "data"):
        if folder.is_dir():
            folder.chmod(0o777)
    mounts = [Mount(OPT_ML, str(root), type="bind")]
    if mode == "train" and (root / "input").is_dir():
        mounts.append(Mount(f"{OPT_ML}/input", str(root / "input"), type="bind", read_only=True))
    return mounts
