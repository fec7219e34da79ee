"""Start and stop a real `sagemaker-emulator serve` subprocess on a free port.

Used by the tests and the pytest plugin. It never imports `emulator`: it runs the console script
(or `python -m emulator`) and talks to the server over HTTP only, as any client would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

HEALTH_PATH = "/_emulator/health"


class EmulatorStartError(RuntimeError):
    """The server exited or did not answer its health check in time (message has its log tail)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def serve_command(python: str | None = None) -> list[str]:
    """The console script beside the interpreter if installed, else `python -m emulator`."""
    interpreter = python or sys.executable
    script = Path(interpreter).with_name("sagemaker-emulator")
    if script.exists():
        return [str(script)]
    found = shutil.which("sagemaker-emulator") if python is None else None
    return [found] if found else [interpreter, "-m", "emulator"]


def get_health(url: str, timeout: float = 2.0) -> dict[str, Any]:
    with urllib.request.urlopen(url.rstrip("/") + HEALTH_PATH, timeout=timeout) as response:
        health: dict[str, Any] = json.loads(response.read())
        return health


@dataclass
class EmulatorServer:
    """A running emulator process; a context manager that stops it on exit."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    data_dir: Path
    runtime: str
    log_path: Path
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (the emulator stops its containers), then SIGKILL after `timeout` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap_group()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the server, as a crash would: it gets no chance to flush or clean up."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reap_group()

    def _reap_group(self) -> None:
        # Children the server left (subprocess containers) would outlive a test: end them too.
        # The server ran in its own session, so its process group holds only its descendants.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(
    data_dir: Path | str,
    runtime: str = "process",
    *,
    host: str | None = "127.0.0.1",
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    extra_args: list[str] | None = None,
    python: str | None = None,
    log_path: Path | str | None = None,
    timeout: float = 60.0,
) -> EmulatorServer:
    """Start `sagemaker-emulator serve` and return once GET /_emulator/health answers.

    host=None leaves --host out, so the server binds its default (loopback)."""
    connect_host = host or "127.0.0.1"
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = Path(log_path) if log_path else data_dir.parent / f"{data_dir.name}.emulator.log"
    attempts = 1 if port is not None else 3
    last_error: EmulatorStartError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port(connect_host)
        command = [
            *serve_command(python),
            "serve",
            *(["--host", host] if host else []),
            "--port",
            str(chosen),
            "--data-dir",
            str(data_dir),
            "--runtime",
            runtime,
            *(extra_args or []),
        ]
        child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        with log_file.open("ab") as log_stream:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_stream,
                stderr=subprocess.STDOUT,
                env=child_env,
                start_new_session=True,
            )
        server = EmulatorServer(process, connect_host, chosen, data_dir, runtime, log_file)
        try:
            server.health = _wait_healthy(server, timeout)
            return server
        except EmulatorStartError as exc:
            server.kill()
            last_error = exc
            if "address already in use" not in server.log_text().lower():
                break
    assert last_error is not None
    raise last_error


def _wait_healthy(server: EmulatorServer, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.is_running():
            raise EmulatorStartError(
                f"the emulator exited with code {server.process.returncode} before answering "
                f"{HEALTH_PATH}; log {server.log_path}:\n{_tail(server.log_text())}"
            )
        try:
            return get_health(server.url, timeout=1.0)
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            time.sleep(0.05)
    raise EmulatorStartError(
        f"the emulator did not answer {HEALTH_PATH} within {timeout:.0f} s; "
        f"log {server.log_path}:\n{_tail(server.log_text())}"
    )


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])
