"""Which ContainerRuntime this emulator uses: `--runtime docker|process`, or `auto`.

`auto` takes Docker when an engine answers and the algorithm images exist (building them with
containers/build.sh when they are missing), else the process runtime; either way one log line says
which and why (also shown by /_emulator/health).

A runtime's scope is the data directory: containers (or subprocesses) left by an earlier run of
the same data directory are its orphans; other emulators' on the same machine are not.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from pathlib import Path
from typing import Any, Protocol

from emulator.runtime.base import ContainerRuntime

log = logging.getLogger(__name__)


class RuntimeSettings(Protocol):
    @property
    def runtime(self) -> str: ...

    @property
    def data_dir(self) -> Path: ...


def select_runtime(settings: RuntimeSettings) -> ContainerRuntime:
    choice = settings.runtime
    if choice == "process":
        log.info("runtime: process (asked for with --runtime process)")
        return _process_runtime(settings)
    if choice == "docker":
        runtime = _docker_runtime(settings)
        log.info("runtime: docker (asked for with --runtime docker)")
        return runtime
    reason = _docker_unavailable_reason()
    if reason is None:
        log.info("runtime: docker (auto: a Docker engine answers and the algorithm images exist)")
        return _docker_runtime(settings)
    log.warning("runtime: process (auto: %s)", reason)
    return _process_runtime(settings)


def _process_runtime(settings: RuntimeSettings) -> ContainerRuntime:
    from emulator.runtime.process_runtime import ProcessRuntime

    return ProcessRuntime(scope=runtime_scope(settings.data_dir))


def runtime_scope(data_dir: Path) -> str:
    """The value that ties containers and subprocesses to one data directory."""
    resolved = str(Path(data_dir).expanduser().resolve())
    return hashlib.sha256(resolved.encode()).hexdigest()[:16]


def _docker_runtime(settings: RuntimeSettings) -> ContainerRuntime:
    # Imported lazily: only this path needs the docker SDK and an engine.
    module: Any = importlib.import_module("emulator.runtime.docker_runtime")
    runtime: ContainerRuntime = module.DockerRuntime(scope=runtime_scope(settings.data_dir))
    return runtime


def _docker_unavailable_reason() -> str | None:
    """None when Docker can run our algorithms here, else why not (for the log line)."""
    try:
        module: Any = importlib.import_module("emulator.runtime.docker_runtime")
    except ImportError as exc:
        return f"the Docker runtime is not available ({exc})"
    # The Docker runtime owns the docker SDK (the only importer of `docker`), so it answers.
    probe = getattr(module, "docker_unavailable_reason", None)
    if probe is not None:
        reason: str | None = probe()
        return reason
    try:
        module.DockerRuntime().close()
    except Exception as exc:
        return f"no usable Docker engine ({type(exc).__name__}: {exc})"
    return None
