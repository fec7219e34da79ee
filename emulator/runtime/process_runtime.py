"""ProcessRuntime: the built-in algorithms' `train` / `serve` entrypoints as subprocesses.

The unit of work is the same as in a container (`python -m algorithms.<algo> train|serve`), with
the /opt/ml root moved by SAGEMAKER_BASE_DIR and the serving port by SAGEMAKER_BIND_TO_PORT. It can
run only our two algorithms; any other image is reported as ImageNotFound.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from emulator.runtime.base import (
    ClusterSpec,
    ContainerSpec,
    EnvironmentRefused,
    ImageNotFound,
    LogSink,
)
from emulator.runtime.cluster import Cluster
from emulator.runtime.host_environment import child_environment, refused_variables

# The directory that holds the `algorithms` package, so the child finds it from any cwd.
_CODE_ROOT = Path(__file__).resolve().parents[2]
CONTAINER_OPT_ML = "/opt/ml"
HOSTS_ENV = "SAGEMAKER_EMULATOR_HOSTS"
"""`algo-1=127.a.b.1,algo-2=127.a.b.2`: where each host of a several-host job listens (the
process runtime's stand-in for the names a job's Docker network resolves)."""
SCOPE_ENV = "SAGEMAKER_EMULATOR_SCOPE"
"""Set in every child: the emulator's scope (its data dir), so a successor can find orphans."""
ORPHAN_GRACE_SECONDS = 5.0

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Process:
    """One child process with its output pumped line by line into the spec's log sink."""

    def __init__(self, spec: ContainerSpec, extra_env: dict[str, str], scope: str) -> None:
        if spec.algorithm is None:
            raise ImageNotFound(
                f"The process runtime runs only the built-in pca and kmeans algorithms; image "
                f'"{spec.image}" needs the Docker runtime (sagemaker-emulator serve --runtime '
                "docker)."
            )
        refused = refused_variables(spec.environment)
        if refused:
            name, reason = refused[0]
            raise EnvironmentRefused(
                f"The process runtime does not pass the environment variable {name} to the "
                f"algorithm: {reason}, and the algorithm runs on the host. The Docker runtime "
                "accepts it (sagemaker-emulator serve --runtime docker)."
            )
        contract = {**extra_env, "SAGEMAKER_BASE_DIR": str(spec.opt_ml)}
        if scope:
            contract[SCOPE_ENV] = scope
        request_env = {k: v for k, v in spec.environment.items() if k != SCOPE_ENV}
        env = child_environment(request_env, contract, _CODE_ROOT)
        self._host_paths = _host_forms(spec.opt_ml)
        self.spec = spec
        self.popen = subprocess.Popen(
            # -P: not the cwd (the job's tree, which holds request files) on sys.path; -s: no
            # user site-packages (under $HOME) either.
            [sys.executable, "-P", "-s", "-m", f"algorithms.{spec.algorithm}", spec.mode],
            env=env,
            cwd=str(spec.opt_ml),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Same process group as the emulator: whoever kills the emulator's group (a launcher,
            # a terminal's Ctrl-C) takes the children too. A lone `kill -9` of the emulator does
            # not: the next emulator on the data dir stops those (cleanup_orphans).
        )
        self._pump = threading.Thread(
            target=self._read_output, args=(spec.on_log,), name=f"log-{spec.name}", daemon=True
        )
        self._pump.start()

    def _read_output(self, sink: LogSink | None) -> None:
        stdout = self.popen.stdout
        assert stdout is not None
        with stdout:
            for raw in iter(stdout.readline, b""):
                if sink is None:
                    continue
                line = self.container_paths(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
                with contextlib.suppress(Exception):  # A failing sink must not stop the pump.
                    sink(line)

    def container_paths(self, text: str) -> str:
        """`text` with the host tree shown as /opt/ml, as the algorithm would see it in a
        container (and as logs and FailureReasons show it on AWS)."""
        for host in self._host_paths:
            text = text.replace(host, CONTAINER_OPT_ML)
        return text

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        # Let the pump deliver the last lines before the caller reads the logs.
        self._pump.join(timeout=5)
        return code

    def stop(self, grace_seconds: float) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait()
        self._pump.join(timeout=5)


class ProcessTrainingHandle:
    def __init__(self, process: _Process) -> None:
        self._process = process

    def wait(self, timeout: float | None = None) -> int | None:
        return self._process.wait(timeout)

    def stop(self, grace_seconds: float) -> None:
        self._process.stop(grace_seconds)

    def collect(self) -> None:
        """Nothing to copy: the child wrote straight into the host tree. Its failure file names
        host paths where a container's names /opt/ml: rewrite them."""
        failure = self._process.spec.opt_ml / "output" / "failure"
        try:
            text = failure.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        shown = self._process.container_paths(text)
        if shown != text:
            failure.write_text(shown, encoding="utf-8")


class ProcessServingHandle:
    def __init__(self, process: _Process, port: int) -> None:
        self._process = process
        self._url = f"http://127.0.0.1:{port}"

    @property
    def url(self) -> str:
        return self._url

    def is_running(self) -> bool:
        return self._process.popen.poll() is None

    def stop(self, grace_seconds: float) -> None:
        self._process.stop(grace_seconds)


class ProcessRuntime:
    """ContainerRuntime over subprocesses."""

    name = "process"

    def __init__(self, scope: str = "") -> None:
        self.scope = scope
        self._lock = threading.Lock()
        self._live: list[_Process] = []

    def _start(self, spec: ContainerSpec, extra_env: dict[str, str]) -> _Process:
        process = _Process(spec, extra_env, self.scope)
        with self._lock:
            self._live = [p for p in self._live if p.popen.poll() is None]
            self._live.append(process)
        return process

    def start_training(self, spec: ContainerSpec) -> ProcessTrainingHandle:
        return ProcessTrainingHandle(self._start(spec, {}))

    def start_cluster(self, cluster: ClusterSpec) -> Cluster:
        """One subprocess per host. Hosts of a job with several get distinct loopback addresses
        (127.a.b.1..N, a fresh /24 per job: all of 127/8 is loopback on Linux), named to each
        algorithm by HOSTS_ENV (docs/several-instances.md), so they reach one another and bind
        their own address, as containers on a job's network do."""
        extra: dict[str, str] = {}
        if len(cluster.hosts) > 1:
            base = f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}"
            extra[HOSTS_ENV] = ",".join(
                f"{spec.hostname}={base}.{index}" for index, spec in enumerate(cluster.hosts, 1)
            )
        started: list[tuple[str, ProcessTrainingHandle]] = []
        try:
            for spec in cluster.hosts:
                started.append((spec.hostname, ProcessTrainingHandle(self._start(spec, extra))))
        except BaseException:
            for _, handle in started:
                handle.stop(1.0)
            raise
        return Cluster(started)

    def shares_files(self, directory: Path) -> bool:
        """Always: the algorithm runs on this machine, in the job's tree."""
        return True

    def start_serving(self, spec: ContainerSpec) -> ProcessServingHandle:
        port = free_port()
        # Loopback only: a subprocess shares the host's interfaces, unlike a container.
        process = self._start(
            spec, {"SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_BIND_TO_HOST": "127.0.0.1"}
        )
        return ProcessServingHandle(process, port)

    def cleanup_orphans(self) -> None:
        """Stop the children an emulator of the same scope left when it died (Linux /proc)."""
        if not self.scope:
            return
        with self._lock:
            ours = {p.popen.pid for p in self._live}
        orphans = [pid for pid in _pids_with_env(SCOPE_ENV, self.scope) if pid not in ours]
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + ORPHAN_GRACE_SECONDS
        while orphans and time.monotonic() < deadline:
            orphans = [pid for pid in orphans if _running(pid)]
            time.sleep(0.05)
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if orphans:
            log.info("stopped %d orphaned algorithm process(es) of a previous run", len(orphans))

    def close(self) -> None:
        with self._lock:
            live, self._live = self._live, []
        threads = [
            threading.Thread(target=p.stop, args=(5.0,), daemon=True)
            for p in live
            if p.popen.poll() is None
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _host_forms(opt_ml: Path) -> list[str]:
    """The spellings of the host tree a child may print, longest first (a resolved path can be
    longer than the given one, and must be replaced before a prefix of it)."""
    forms = {str(opt_ml), str(opt_ml.resolve())}
    return sorted((f for f in forms if f not in ("", "/")), key=len, reverse=True)


def _pids_with_env(name: str, value: str) -> list[int]:
    """Processes whose environment has name=value (none where there is no /proc)."""
    wanted = f"{name}={value}".encode()
    me = os.getpid()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if wanted in environ.split(b"\0") and int(entry.name) != me:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie child of a dead parent waits for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
