"""The ContainerRuntime protocol: how the services run a `train` or `serve` unit of work.

Two implementations sit behind it: DockerRuntime (the real thing) and ProcessRuntime (the same
algorithm entrypoints as subprocesses). The services never know which one runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

LogSink = Callable[[str], None]
"""Called once per line of container output (stdout and stderr), as the line arrives."""


class ImageNotFound(Exception):
    """The image named by a job or model does not exist in this runtime."""


class EnvironmentRefused(ImageNotFound):
    """The runtime will not run this container with its environment (the message says which
    variable and why). An ImageNotFound so that the services fail the job or endpoint with a
    ClientError the same way: the container cannot run here as asked."""


@dataclass(frozen=True)
class ContainerSpec:
    """One container to run under the SageMaker container contract."""

    mode: Literal["train", "serve"]
    image: str
    """The image as the request named it (an ECR URI of pca/kmeans, or a local image)."""
    algorithm: str | None
    """'pca' or 'kmeans' when the image is one of our built-ins, else None (bring your own)."""
    opt_ml: Path
    """Host directory holding the /opt/ml tree (input/config, input/data, model, output)."""
    environment: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    """Identify the job or endpoint that owns the container (used for cleanup)."""
    name: str = ""
    """A readable name: the job name, or <endpoint>-<variant>."""
    cpus: float | None = None
    memory_bytes: int | None = None
    network_isolation: bool = False
    on_log: LogSink | None = None
    hostname: str = "algo-1"
    """The host this container is in its cluster (algo-1..N): the name the others reach it by."""


@dataclass(frozen=True)
class ClusterSpec:
    """The hosts of one training job, algo-1..N in order (docs/several-instances.md): one
    ContainerSpec per host, each with its own /opt/ml tree, environment and log sink. The runtime
    makes every host reachable by its name from the others, and from nothing outside."""

    name: str
    hosts: tuple[ContainerSpec, ...]


class TrainingHandle(Protocol):
    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the container exits; its exit code, or None if the timeout passed."""

    def stop(self, grace_seconds: float) -> None:
        """SIGTERM, then kill after grace_seconds (real SageMaker: `docker stop -t 120`)."""

    def collect(self) -> None:
        """Make the container's /opt/ml/model and /opt/ml/output visible under spec.opt_ml.

        A no-op where /opt/ml is shared with the host; a copy-out where it is not.
        """


class ClusterHandle(TrainingHandle, Protocol):
    @property
    def failed_host(self) -> str | None:
        """The first host that exited with a non-zero code, once `wait` has returned it."""


class ServingHandle(Protocol):
    @property
    def url(self) -> str:
        """Base URL the emulator reaches the container at, e.g. http://127.0.0.1:49153."""

    def is_running(self) -> bool: ...

    def stop(self, grace_seconds: float) -> None: ...


class ContainerRuntime(Protocol):
    name: str
    """'docker' or 'process': shown in /_emulator/health and the startup log."""

    def start_training(self, spec: ContainerSpec) -> TrainingHandle: ...

    def start_cluster(self, cluster: ClusterSpec) -> ClusterHandle:
        """Start every host of a training job; one handle for all of them."""

    def start_serving(self, spec: ContainerSpec) -> ServingHandle: ...

    def shares_files(self, directory: Path) -> bool:
        """Whether what runs here sees the files and FIFOs under `directory` of this machine
        as they are (no copy in or out): Pipe mode's FIFOs need it."""

    def cleanup_orphans(self) -> None:
        """Remove containers left by an emulator that died (called once at start)."""

    def close(self) -> None:
        """Stop and remove everything this runtime started."""
