"""Running docker-compose.yml in tests: which compose tool this machine has, and a running
stack on a free port."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.docker.engine import ROOT


@functools.cache
def compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) where present, else Debian's `docker-compose` (1.29)."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    project: str
    url: str
    command: list[str]
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, "-p", self.project, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def logs(self) -> str:
        done = self.run("logs", "--no-color", "emulator")
        return done.stdout + done.stderr


@contextmanager
def compose_stack(command: list[str]) -> Iterator[Stack]:
    """`compose up -d` with the images built beforehand (containers/build.sh --emulator), on a
    free port; `compose down -v` afterwards, whatever happened."""
    port = free_port()
    env = {**os.environ, "SAGEMAKER_EMULATOR_PORT": str(port)}
    stack = Stack(f"sme-test-{uuid.uuid4().hex[:6]}", f"http://127.0.0.1:{port}", command, env)
    up = stack.run("up", "-d")
    try:
        if up.returncode != 0:
            raise RuntimeError(f"compose up failed:\n{up.stdout}\n{up.stderr}")
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(stack.url + "/_emulator/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the emulator never answered:\n" + stack.logs()) from None
            time.sleep(0.2)
        yield stack
    finally:
        stack.run("down", "-v", "--timeout", "30")
