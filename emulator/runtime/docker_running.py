"""One started container: its output pumped line by line, its waiter, its removal when it ends,
and the training and serving handles the services hold."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import docker.errors
from docker.models.containers import Container

from emulator.runtime.base import ContainerSpec, LogSink
from emulator.runtime.docker_archive import copy_out
from emulator.runtime.docker_engine import OPT_ML

log = logging.getLogger(__name__)


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


class Running:
    """One started container: its log pump, its waiter, and its removal when it ends."""

    def __init__(
        self,
        remove: Callable[[Container], None],
        container: Container,
        spec: ContainerSpec,
        network: str | None,
        copy_back: bool = True,
    ) -> None:
        self._remove = remove
        self.container = container
        self.spec = spec
        self.network = network
        """The network the emulator reaches a serving container on (None: training)."""
        self.copy_back = copy_back
        """Copy a training container's model/ and output/ out when it exits (not when /opt/ml
        is a bind mount: they are on the host already)."""
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
            if self.spec.mode == "train" and self.copy_back:
                # The job ends here: copy its results out now, so the container can go at once
                # whatever the caller does next.
                copy_out(self.container, f"{OPT_ML}/model", self.spec.opt_ml)
                copy_out(self.container, f"{OPT_ML}/output", self.spec.opt_ml)
        except Exception as exc:
            self.copy_error = exc
        finally:
            try:
                self._remove(self.container)
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
    def __init__(self, running: Running) -> None:
        self._running = running

    @property
    def container_id(self) -> str:
        return str(self._running.container.id)

    def wait(self, timeout: float | None = None) -> int | None:
        return self._running.wait(timeout)

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
    def __init__(self, running: Running, url: str) -> None:
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
