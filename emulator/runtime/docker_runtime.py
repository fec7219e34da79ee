"""DockerRuntime: `train` / `serve` units of work as Docker containers.

The Docker modules of the runtime, one job each: docker_engine (the client, the images, the
labels), docker_network (networks and serving addresses), docker_archive (the /opt/ml tree in and
out by archive), docker_running (a started container's logs, waiter and handles) and this one,
which creates and starts containers and removes what it started.

Every container carries labels naming the emulator that started it (scope = one data directory,
instance = one run of the emulator) and its owner (the services' labels), so one emulator removes
what it started on stop/close and what a crashed run of the same data directory left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from emulator.runtime.base import ClusterSpec, ContainerSpec, ImageNotFound
from emulator.runtime.cluster import Cluster
from emulator.runtime.docker_archive import opt_ml_archive
from emulator.runtime.docker_engine import (
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_MODE,
    LABEL_NETWORK,
    LABEL_PREFIX,
    LABEL_SCOPE,
    NETWORK_ENV,
    SERVING_INTERNAL_NETWORK,
    SERVING_NETWORK,
    DockerUnavailable,
    docker_client,
    docker_unavailable_reason,
    engine_answers,
)
from emulator.runtime.docker_mounts import engine_sees, opt_ml_mounts, staging_override
from emulator.runtime.docker_network import DockerNetworks, own_network
from emulator.runtime.docker_running import DockerServingHandle, DockerTrainingHandle, Running
from emulator.runtime.images import local_image

__all__ = [
    "LABEL_INSTANCE",
    "LABEL_SCOPE",
    "SERVING_INTERNAL_NETWORK",
    "SERVING_NETWORK",
    "DockerRuntime",
    "DockerServingHandle",
    "DockerTrainingHandle",
    "DockerUnavailable",
    "docker_client",
    "docker_unavailable_reason",
    "engine_answers",
]

log = logging.getLogger(__name__)


def _container_name(spec: ContainerSpec) -> str:
    # Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; a suffix keeps a restarted job unique.
    readable = re.sub(r"[^a-zA-Z0-9_.-]", "-", spec.name or spec.mode)[:60]
    return f"{LABEL_PREFIX}-{readable}-{uuid.uuid4().hex[:6]}"


class DockerRuntime:
    """ContainerRuntime over a Docker engine."""

    name = "docker"

    def __init__(
        self,
        *,
        scope: str = "default",
        network: str | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        """scope: one emulator data directory (orphans of the same scope are removed at start);
        network: the Docker network the emulator shares with its containers when it runs in a
        container itself (None: $SAGEMAKER_EMULATOR_DOCKER_NETWORK, else detected)."""
        self.client = client or docker_client()
        self.scope = scope
        self.instance = uuid.uuid4().hex[:12]
        info = self.client.info()
        self._host_cpus = float(info.get("NCPU") or os.cpu_count() or 1)
        self._host_memory = int(info.get("MemTotal") or 0)
        # tini as PID 1 forwards SIGTERM to the entrypoint; a Python PID 1 would ignore it and
        # every stop would wait for the kill.
        self._init = bool(info.get("InitBinary"))
        self.network = network or os.environ.get(NETWORK_ENV) or own_network(self.client)
        # Container addresses are reachable from the emulator only where the engine runs in this
        # machine's network namespace (Linux, local socket; not Docker Desktop's VM, not rootless).
        local_bridge = (
            sys.platform == "linux"
            and str(self.client.api.base_url).startswith("http+docker://localhost")
            and not info.get("SecurityOptions", []).count("name=rootless")
        )
        self.networks = DockerNetworks(
            self.client, self.scope, self.instance, self.network, local_bridge
        )
        self._lock = threading.Lock()
        self._live: dict[str, Running] = {}
        self._mounts = staging_override()
        self._probe_lock = threading.Lock()

    # -- ContainerRuntime ------------------------------------------------------------------------

    def start_training(self, spec: ContainerSpec) -> DockerTrainingHandle:
        return DockerTrainingHandle(self._start(spec))

    def start_cluster(self, cluster: ClusterSpec) -> Cluster:
        """One container per host. Several hosts share a network of the job's own, on which each
        is reachable by its host name (algo-N); under network isolation that network is internal
        (no route out), as one host gets no network at all."""
        if len(cluster.hosts) == 1:
            spec = cluster.hosts[0]
            return Cluster([(spec.hostname, self.start_training(spec))])
        isolated = any(spec.network_isolation for spec in cluster.hosts)
        network = self.networks.job_network(cluster.name, internal=isolated)
        started: list[tuple[str, DockerTrainingHandle]] = []
        try:
            for spec in cluster.hosts:
                running = self._start(spec, cluster_network=network)
                started.append((spec.hostname, DockerTrainingHandle(running)))
        except BaseException:
            for _, handle in started:
                handle.stop(1.0)
            self.networks.remove(network)
            raise
        return Cluster(started, on_end=lambda: self.networks.remove(network))

    def shares_files(self, directory: Path) -> bool:
        """Whether containers see the files under `directory` of this machine (bind mounts and
        FIFOs work); probed once (docker_mounts), unless the setting says."""
        with self._probe_lock:
            if self._mounts is None:
                self._mounts = engine_sees(self.client, directory, local_image("pca"))
                log.info(
                    "Docker staging: %s",
                    "bind mounts of /opt/ml" if self._mounts else "archive copies of /opt/ml",
                )
            return self._mounts

    def start_serving(self, spec: ContainerSpec) -> DockerServingHandle:
        running = self._start(spec)
        try:
            url = self.networks.serving_url(running.container, running.network)
        except Exception:
            running.stop(0)
            raise
        return DockerServingHandle(running, url)

    def cleanup_orphans(self) -> None:
        """Remove containers of this scope that an earlier run of the emulator left behind."""
        for container in self._containers({LABEL_SCOPE: self.scope}):
            if container.labels.get(LABEL_INSTANCE) != self.instance:
                log.info("removing orphan container %s", container.name)
                self._remove(container)
        self.networks.remove_orphans()

    def close(self) -> None:
        with self._lock:
            live = list(self._live.values())
        threads = [
            threading.Thread(target=running.stop, args=(5.0,), daemon=True) for running in live
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Anything of this run still there (a start that failed half-way).
        for container in self._containers({LABEL_INSTANCE: self.instance}):
            self._remove(container)

    # -- internals -------------------------------------------------------------------------------

    def _containers(self, labels: dict[str, str]) -> list[Container]:
        filters = [LABEL_MANAGED + "=true", *(f"{k}={v}" for k, v in labels.items())]
        try:
            found: list[Container] = self.client.containers.list(
                all=True, filters={"label": filters}
            )
        except docker.errors.DockerException as exc:
            log.warning("could not list containers: %s", exc)
            return []
        return found

    def _remove(self, container: Container) -> None:
        with self._lock:
            self._live.pop(str(container.id), None)
        with contextlib.suppress(docker.errors.NotFound):
            try:
                container.remove(force=True)
            except docker.errors.APIError as exc:
                # "removal already in progress" is a success for us.
                if "already in progress" not in str(exc):
                    log.warning("could not remove container %s: %s", container.name, exc)
        own_network = (container.labels or {}).get(LABEL_NETWORK)
        if own_network:
            self.networks.remove(own_network)

    def _image(self, spec: ContainerSpec) -> str:
        image = local_image(spec.algorithm) if spec.algorithm else spec.image
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            if spec.algorithm:
                raise ImageNotFound(
                    f'The image "{image}" of the built-in {spec.algorithm} algorithm (for '
                    f'"{spec.image}") is not in the local Docker engine; build it with '
                    "containers/build.sh."
                ) from None
            raise ImageNotFound(
                f'The image "{spec.image}" does not exist in the local Docker engine.'
            ) from None
        return image

    def _limits(self, spec: ContainerSpec) -> dict[str, Any]:
        limits: dict[str, Any] = {}
        if spec.cpus:
            limits["nano_cpus"] = int(min(spec.cpus, self._host_cpus) * 1e9)
        if spec.memory_bytes:
            memory = spec.memory_bytes
            if self._host_memory:
                memory = min(memory, self._host_memory)
            limits["mem_limit"] = memory
        return limits

    def _start(self, spec: ContainerSpec, cluster_network: str | None = None) -> Running:
        image = self._image(spec)
        name = _container_name(spec)
        if cluster_network is not None:
            # A host of a several-host job: its job's network, joined below under its host name.
            network_options: dict[str, Any] = {"network": cluster_network}
            network: str | None = None
        else:
            network_options, network = self.networks.options(spec, name)
        labels = {
            **network_options.pop("labels", {}),
            **spec.labels,
            LABEL_MANAGED: "true",
            LABEL_SCOPE: self.scope,
            LABEL_INSTANCE: self.instance,
            LABEL_MODE: spec.mode,
        }
        # The container's /opt/ml is /opt/ml: a root moved for the process runtime must not leak.
        environment = {k: v for k, v in spec.environment.items() if k != "SAGEMAKER_BASE_DIR"}
        mounted = self.shares_files(spec.opt_ml.parent)
        mounts = opt_ml_mounts(spec.opt_ml, spec.mode) if mounted else None
        try:
            container: Container = self.client.containers.create(
                image,
                command=[spec.mode],
                name=name,
                labels=labels,
                environment=environment,
                init=self._init or None,
                detach=True,
                hostname=spec.hostname,
                mounts=mounts,
                **network_options,
                **self._limits(spec),
            )
        except BaseException:
            if LABEL_NETWORK in labels:
                self.networks.remove(labels[LABEL_NETWORK])
            raise
        try:
            if cluster_network is not None:
                self.networks.join_as_host(cluster_network, container, spec.hostname)
            if not mounted:
                # "/" exists in every image; /opt/ml may not (bring your own container).
                container.put_archive("/", opt_ml_archive(spec.opt_ml))
            container.start()
        except BaseException:
            self._remove(container)
            raise
        running = Running(self._remove, container, spec, network, copy_back=not mounted)
        with self._lock:
            self._live[str(container.id)] = running
        # Only now: the waiter removes the container from _live when it exits.
        running.start()
        log.info("started %s container %s (%s)", spec.mode, container.name, image)
        return running
