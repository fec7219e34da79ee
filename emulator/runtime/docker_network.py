"""The Docker networks of the runtime's containers, and where the emulator reaches a serving one.

Serving containers answer only the emulator, never another container:
- the emulator on the host: every serving container is on a network of ours whose bridge forbids
  traffic between its containers (enable_icc=false; Docker drops traffic between different bridge
  networks anyway) and publishes 8080 on 127.0.0.1 only. The host reaches the container's bridge
  address directly; other containers reach neither it nor the loopback port.
- the emulator in a container (compose): each serving container gets a network of its own, which
  the emulator's container joins and leaves with it. Training containers stay on the emulator's
  network ($SAGEMAKER_EMULATOR_DOCKER_NETWORK, or the emulator container's own, found by its
  hostname).
What this does not cover: processes on the Docker host itself, which can open the loopback port
or the bridge address anyway; and, with Docker engines before 28, a machine on the host's LAN
that routes the bridge subnet through the host (Docker 28 drops such traffic).
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import uuid
from pathlib import Path
from typing import Any, Final

import docker
import docker.errors
from docker.models.containers import Container

from emulator.runtime.base import ContainerSpec
from emulator.runtime.docker_engine import (
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_NETWORK,
    LABEL_PREFIX,
    LABEL_SCOPE,
    SERVING_INTERNAL_NETWORK,
    SERVING_NETWORK,
    SERVING_PORT,
)

log = logging.getLogger(__name__)

_NO_ICC: Final = {"com.docker.network.bridge.enable_icc": "false"}


def own_network(client: docker.DockerClient) -> str | None:
    """The first network of the container this emulator runs in, or None on the host."""
    if not Path("/.dockerenv").exists():
        return None
    try:
        me = client.containers.get(socket.gethostname())
    except docker.errors.DockerException:
        return None
    networks = me.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
    return next(iter(networks), None)


def _routable(address: str, timeout: float = 0.5) -> bool:
    """Whether this process can reach `address` directly. Called before the server in the
    container listens: a refused connection proves the route as well as an accepted one."""
    try:
        with socket.create_connection((address, SERVING_PORT), timeout=timeout):
            return True
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


class DockerNetworks:
    """The networks one runtime creates, joins and removes."""

    def __init__(
        self,
        client: docker.DockerClient,
        scope: str,
        instance: str,
        network: str | None,
        local_bridge: bool,
    ) -> None:
        """network: the network the emulator shares with its containers when it runs in a
        container itself (None: on the host); local_bridge: container addresses are reachable
        from here (the engine runs in this machine's network namespace)."""
        self.client = client
        self.scope = scope
        self.instance = instance
        self.network = network
        self._local_bridge = local_bridge
        self._lock = threading.Lock()

    def job_network(self, job: str, internal: bool) -> str:
        readable = re.sub(r"[^a-zA-Z0-9_.-]", "-", job)[:40]
        name = f"{LABEL_PREFIX}-job-{readable}-{uuid.uuid4().hex[:6]}"
        self.client.networks.create(
            name,
            driver="bridge",
            internal=internal,
            labels={LABEL_MANAGED: "true", LABEL_SCOPE: self.scope, LABEL_INSTANCE: self.instance},
            check_duplicate=True,
        )
        return name

    def remove_orphans(self) -> None:
        """Networks of their own that a crash left without their container."""
        with contextlib.suppress(docker.errors.DockerException):
            for network in self.client.networks.list(
                filters={"label": [f"{LABEL_SCOPE}={self.scope}"]}
            ):
                if network.attrs.get("Labels", {}).get(LABEL_INSTANCE) != self.instance:
                    self.remove(network.name)

    def remove(self, name: str) -> None:
        """Leave (the emulator in a container joined it) and remove a serving container's own
        network."""
        try:
            network = self.client.networks.get(name)
        except docker.errors.DockerException:
            return
        if self.network:
            with contextlib.suppress(docker.errors.DockerException):
                network.disconnect(socket.gethostname(), force=True)
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException as exc:
            log.warning("could not remove network %s: %s", name, exc)

    def options(self, spec: ContainerSpec, name: str) -> tuple[dict[str, Any], str | None]:
        """docker create's network options, and the network a serving container is reached on."""
        if spec.mode == "train":
            if spec.network_isolation:
                # EnableNetworkIsolation: no network at all (the real service's training
                # containers get no outbound access; ours never need one).
                return {"network_mode": "none"}, None
            return ({"network": self.network} if self.network else {}), None
        if self.network:
            # In a container: a network of this container alone, which the emulator joins.
            # Internal (no route out) under network isolation.
            network = self._own_serving_network(name, internal=spec.network_isolation)
            return {"network": network, "labels": {LABEL_NETWORK: network}}, network
        if spec.network_isolation:
            # Internal: no route out; the host still reaches the container's address on it.
            return {"network": self._shared_network(SERVING_INTERNAL_NETWORK, True)}, (
                SERVING_INTERNAL_NETWORK
            )
        options = {
            "network": self._shared_network(SERVING_NETWORK, False),
            "ports": {f"{SERVING_PORT}/tcp": ("127.0.0.1", None)},
        }
        return options, SERVING_NETWORK

    def _shared_network(self, name: str, internal: bool) -> str:
        """A bridge network of ours whose containers cannot reach one another (created once
        per engine, shared by every emulator on it)."""
        with self._lock:
            try:
                self.client.networks.get(name)
            except docker.errors.NotFound:
                try:
                    self.client.networks.create(
                        name,
                        driver="bridge",
                        internal=internal,
                        options=_NO_ICC,
                        labels={LABEL_MANAGED: "true"},
                        check_duplicate=True,
                    )
                except docker.errors.APIError as exc:
                    # Another emulator on this engine created it meanwhile.
                    if exc.status_code != 409:
                        raise
        return name

    def _own_serving_network(self, container_name: str, internal: bool) -> str:
        network = self.client.networks.create(
            container_name,
            driver="bridge",
            internal=internal,
            labels={
                LABEL_MANAGED: "true",
                LABEL_SCOPE: self.scope,
                LABEL_INSTANCE: self.instance,
            },
            check_duplicate=True,
        )
        try:
            network.connect(socket.gethostname())
        except docker.errors.DockerException:
            self.remove(container_name)
            raise
        return container_name

    def join_as_host(self, network_name: str, container: Container, hostname: str) -> None:
        """A host of a several-host job: the other hosts find it by its host name, an alias on
        the job's network."""
        job_network = self.client.networks.get(network_name)
        job_network.disconnect(container)
        job_network.connect(container, aliases=[hostname])

    def serving_url(self, container: Container, network: str | None) -> str:
        container.reload()
        settings = container.attrs.get("NetworkSettings", {})
        address = (settings.get("Networks") or {}).get(network or "", {}).get("IPAddress")
        if self.network or network == SERVING_INTERNAL_NETWORK:
            # Nothing is published: the address on the network is the only way in.
            if not address:
                raise RuntimeError(f"container {container.name} has no address on {network}")
            return f"http://{address}:{SERVING_PORT}"
        if address and self._local_bridge and _routable(address):
            # On a Linux host the bridge address is one kernel hop away; the published port goes
            # through docker-proxy, which adds ~0.1 ms to every invocation and a long p99 tail.
            return f"http://{address}:{SERVING_PORT}"
        bindings = (settings.get("Ports") or {}).get(f"{SERVING_PORT}/tcp") or []
        if not bindings:
            raise RuntimeError(f"container {container.name} published no port for {SERVING_PORT}")
        return f"http://127.0.0.1:{bindings[0]['HostPort']}"
