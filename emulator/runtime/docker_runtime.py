"""DockerRuntime: `train` / `serve` units of work as Docker containers (the only `docker` user).

The /opt/ml tree travels by archive, not by bind mount: it is copied into a created container
before it starts (put_archive) and model/ and output/ are copied back after it exits
(get_archive). That works the same whether the emulator runs on the engine's host or in a
container beside it (docker compose), where a bind mount of a path inside the emulator's own
container would name a directory the engine cannot see.

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

Every container carries labels naming the emulator that started it (scope = one data directory,
instance = one run of the emulator) and its owner (the services' labels), so one emulator removes
what it started on stop/close and what a crashed run of the same data directory left behind.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Final

import docker
import docker.errors
from docker.models.containers import Container

from emulator.runtime.base import ClusterSpec, ContainerSpec, ImageNotFound, LogSink, Usage
from emulator.runtime.cluster import Cluster
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


def _container_name(spec: ContainerSpec) -> str:
    # Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; a suffix keeps a restarted job unique.
    readable = re.sub(r"[^a-zA-Z0-9_.-]", "-", spec.name or spec.mode)[:60]
    return f"{LABEL_PREFIX}-{readable}-{uuid.uuid4().hex[:6]}"


# --- archives in and out ------------------------------------------------------------------------


class _QueueWriter(io.RawIOBase):
    """A write-only file whose writes go, bounded, to a queue that a generator drains."""

    def __init__(self, chunks: queue.Queue[bytes | BaseException | None]) -> None:
        self._chunks = chunks

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        payload = bytes(data)
        if payload:
            self._chunks.put(payload)
        return len(payload)


def _reset_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Root-owned inside the container, as the real service stages /opt/ml. Directories are
    # writable by all so an image that runs as another user can still write model/ and output/.
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if info.isdir():
        info.mode = 0o777
    return info


def _opt_ml_archive(opt_ml: Path) -> Iterator[bytes]:
    """A tar stream of the host tree as /opt/ml, produced by a thread with bounded memory, so a
    multi-GiB channel streams into the container instead of being built in memory."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)

    def produce() -> None:
        try:
            with tarfile.open(fileobj=_QueueWriter(chunks), mode="w|", bufsize=1 << 20) as tar:
                opt = tarfile.TarInfo("opt")
                opt.type = tarfile.DIRTYPE
                opt.mode = 0o755
                tar.addfile(opt)
                tar.add(str(opt_ml), arcname="opt/ml", filter=_reset_owner)
            chunks.put(None)
        except BaseException as exc:  # Handed to the consumer, which raises it.
            chunks.put(exc)

    threading.Thread(target=produce, name="optml-archive", daemon=True).start()
    while True:
        chunk = chunks.get()
        if chunk is None:
            return
        if isinstance(chunk, BaseException):
            raise chunk
        yield chunk


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (what get_archive returns)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _copy_out(container: Container, path: str, destination: Path) -> bool:
    """Extract the container's `path` (a directory) under `destination`; False if it is absent."""
    try:
        chunks, _stat = container.get_archive(path, chunk_size=1 << 20)
    except docker.errors.NotFound:
        return False
    try:
        with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as tar:
            for member in tar:
                _extract_member(tar, member, destination)
    finally:
        # Read the response to its end whatever happened: the engine holds the container's lock
        # until it has written the whole archive, and a removal would wait for it.
        for _ in chunks:
            pass
    return True


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path) -> None:
    """Plain files and directories only, inside `destination`: the archive comes from code we do
    not control (bring your own container). Written out by hand because tarfile's extraction
    filters need Python 3.11.4 and Debian bookworm's python3 is 3.11.2."""
    parts = PurePosixPath(member.name).parts
    if member.name.startswith("/") or ".." in parts or not parts:
        log.warning("skipping %r from %s: outside the tree", member.name, destination)
        return
    target = destination.joinpath(*parts)
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
    elif member.isfile():
        target.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        assert source is not None  # a regular file always has content
        with source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    else:
        log.warning("skipping %r from %s: not a file or directory", member.name, destination)


# --- log streaming ------------------------------------------------------------------------------


def _pump_logs(container: Container, sink: LogSink | None) -> None:
    """Deliver the container's output to `sink` one line at a time as it arrives; returns when
    the container's output ends (it exited or was removed)."""
    pending = b""

    def emit(raw: bytes) -> None:
        if sink is None:
            return
        with contextlib.suppress(Exception):  # A failing sink must not stop the pump.
            sink(raw.decode("utf-8", errors="replace").rstrip("\r"))

    try:
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                emit(line)
    except Exception as exc:  # The container went away under the stream: its output ends.
        log.debug("log stream of %s ended: %s", container.name, exc)
    if pending:
        emit(pending)


# --- handles ------------------------------------------------------------------------------------


class _Running:
    """One started container: its log pump, its waiter, and its removal when it ends."""

    def __init__(
        self,
        runtime: DockerRuntime,
        container: Container,
        spec: ContainerSpec,
        network: str | None,
    ) -> None:
        self.runtime = runtime
        self.container = container
        self.spec = spec
        self.network = network
        """The network the emulator reaches a serving container on (None: training)."""
        self.exit_code: int | None = None
        self.copy_error: BaseException | None = None
        self.done = threading.Event()
        self._stopping = threading.Lock()
        self._pump = threading.Thread(
            target=_pump_logs, args=(container, spec.on_log), name=f"log-{spec.name}", daemon=True
        )

    def start(self) -> None:
        self._pump.start()
        threading.Thread(target=self._wait, name=f"wait-{self.spec.name}", daemon=True).start()

    def _wait(self) -> None:
        code = 137
        try:
            code = int(self.container.wait(timeout=None).get("StatusCode", 137))
        except Exception as exc:  # Removed under us (close, or a user's docker rm).
            log.debug("wait on %s ended: %s", self.container.name, exc)
        # The caller reads the logs once wait() returns: let the pump deliver the last lines.
        self._pump.join(timeout=10)
        try:
            if self.spec.mode == "train":
                # The job ends here: copy its results out now, so the container can go at once
                # whatever the caller does next.
                _copy_out(self.container, f"{OPT_ML}/model", self.spec.opt_ml)
                _copy_out(self.container, f"{OPT_ML}/output", self.spec.opt_ml)
        except Exception as exc:
            self.copy_error = exc
        finally:
            try:
                self.runtime._remove(self.container)
            except Exception as exc:  # Never leave a waiter of this handle blocked.
                log.warning("could not remove container %s: %s", self.container.name, exc)
            self.exit_code = code
            self.done.set()

    def wait(self, timeout: float | None) -> int | None:
        if not self.done.wait(timeout):
            return None
        return self.exit_code

    def stop(self, grace_seconds: float) -> None:
        with self._stopping:
            if not self.done.is_set():
                # docker stop: SIGTERM (to the container's init, which forwards it), then SIGKILL
                # after the grace period.
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    self.container.stop(timeout=max(0, round(grace_seconds)))
        # The waiter copies out and removes; give it time to finish.
        self.done.wait(timeout=30)


class DockerTrainingHandle:
    def __init__(self, running: _Running) -> None:
        self._running = running

    @property
    def container_id(self) -> str:
        return str(self._running.container.id)

    def wait(self, timeout: float | None = None) -> int | None:
        return self._running.wait(timeout)

    def usage(self) -> Usage | None:
        return _usage(self._running)

    def stop(self, grace_seconds: float) -> None:
        self._running.stop(grace_seconds)

    def collect(self) -> None:
        """model/ and output/ were copied to spec.opt_ml when the container exited; wait for
        that copy and raise its error, if any."""
        self._running.done.wait()
        if self._running.copy_error is not None:
            raise RuntimeError(
                f"could not copy /opt/ml/model and /opt/ml/output out of the training container: "
                f"{self._running.copy_error}"
            ) from self._running.copy_error


class DockerServingHandle:
    def __init__(self, running: _Running, url: str) -> None:
        self._running = running
        self._url = url

    @property
    def url(self) -> str:
        return self._url

    @property
    def container_id(self) -> str:
        return str(self._running.container.id)

    def is_running(self) -> bool:
        return not self._running.done.is_set()

    def stop(self, grace_seconds: float) -> None:
        self._running.stop(grace_seconds)

    def usage(self) -> Usage | None:
        return _usage(self._running)


def _usage(running: _Running) -> Usage | None:
    """From the engine's stats of the container (one sample, no wait for a second one)."""
    if running.done.is_set():
        return None
    try:
        stats = running.container.stats(stream=False, one_shot=True)
        cpu_ns = stats["cpu_stats"]["cpu_usage"]["total_usage"]
        memory = stats["memory_stats"]
        # What `docker stats` shows: the page cache it may drop is not counted.
        cache = memory.get("stats", {}).get("inactive_file", 0)
        return Usage(cpu_ns / 1e9, int(memory["usage"]) - int(cache), int(memory["limit"]))
    except (docker.errors.DockerException, OSError, KeyError, TypeError, ValueError):
        return None


# --- the runtime --------------------------------------------------------------------------------


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
        self.network = network or os.environ.get(NETWORK_ENV) or self._own_network()
        # Container addresses are reachable from the emulator only where the engine runs in this
        # machine's network namespace (Linux, local socket; not Docker Desktop's VM, not rootless).
        self._local_bridge = (
            sys.platform == "linux"
            and str(self.client.api.base_url).startswith("http+docker://localhost")
            and not info.get("SecurityOptions", []).count("name=rootless")
        )
        self._lock = threading.Lock()
        self._live: dict[str, _Running] = {}

    # -- where the emulator runs -----------------------------------------------------------------

    def _own_network(self) -> str | None:
        """The first network of the container this emulator runs in, or None on the host."""
        if not Path("/.dockerenv").exists():
            return None
        try:
            me = self.client.containers.get(socket.gethostname())
        except docker.errors.DockerException:
            return None
        networks = me.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
        return next(iter(networks), None)

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
        network = self._job_network(cluster.name, internal=isolated)
        started: list[tuple[str, DockerTrainingHandle]] = []
        try:
            for spec in cluster.hosts:
                running = self._start(spec, cluster_network=network)
                started.append((spec.hostname, DockerTrainingHandle(running)))
        except BaseException:
            for _, handle in started:
                handle.stop(1.0)
            self._remove_network(network)
            raise
        return Cluster(started, on_end=lambda: self._remove_network(network))

    def _job_network(self, job: str, internal: bool) -> str:
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

    def start_serving(self, spec: ContainerSpec) -> DockerServingHandle:
        running = self._start(spec)
        try:
            url = self._serving_url(running.container, running.network)
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
        # Networks of their own that a crash left without their container.
        with contextlib.suppress(docker.errors.DockerException):
            for network in self.client.networks.list(
                filters={"label": [f"{LABEL_SCOPE}={self.scope}"]}
            ):
                if network.attrs.get("Labels", {}).get(LABEL_INSTANCE) != self.instance:
                    self._remove_network(network.name)

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
            self._remove_network(own_network)

    def _remove_network(self, name: str) -> None:
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

    def _network_options(self, spec: ContainerSpec, name: str) -> tuple[dict[str, Any], str | None]:
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
            self._remove_network(container_name)
            raise
        return container_name

    def _start(self, spec: ContainerSpec, cluster_network: str | None = None) -> _Running:
        image = self._image(spec)
        name = _container_name(spec)
        if cluster_network is not None:
            # A host of a several-host job: its job's network, joined below under its host name.
            network_options: dict[str, Any] = {"network": cluster_network}
            network: str | None = None
        else:
            network_options, network = self._network_options(spec, name)
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
                **network_options,
                **self._limits(spec),
            )
        except BaseException:
            if LABEL_NETWORK in labels:
                self._remove_network(labels[LABEL_NETWORK])
            raise
        try:
            if cluster_network is not None:
                # The other hosts find this one by its host name: an alias on the job's network.
                job_network = self.client.networks.get(cluster_network)
                job_network.disconnect(container)
                job_network.connect(container, aliases=[spec.hostname])
            # "/" exists in every image; /opt/ml may not (bring your own container).
            container.put_archive("/", _opt_ml_archive(spec.opt_ml))
            container.start()
        except BaseException:
            self._remove(container)
            raise
        running = _Running(self, container, spec, network)
        with self._lock:
            self._live[str(container.id)] = running
        # Only now: the waiter removes the container from _live when it exits.
        running.start()
        log.info("started %s container %s (%s)", spec.mode, container.name, image)
        return running

    def _serving_url(self, container: Container, network: str | None) -> str:
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
