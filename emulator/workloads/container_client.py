"""The host side of the serving contract: HTTP to a serving container.

Hosting and batch transform both reach their containers through this module: a keep-alive
connection pool (TCP_NODELAY, a short connect timeout that tells "down" from "slow"), the wait
for `GET /ping` after a start, and the `GET /execution-parameters` question.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from emulator.runtime.base import ServingHandle

INVOCATION_TIMEOUT_SECONDS = 60.0
"""The container must answer /invocations within 60 s (docs/sagemaker-facts.md#inference-container)."""

CONNECT_TIMEOUT_SECONDS = 2.0
"""A container must accept a socket within 250 ms (docs/sagemaker-facts.md#inference-container); one
that takes 2 s is gone (a killed Docker container takes its bridge address with it, and a connect
to it hangs)."""

PING_TIMEOUT_SECONDS = 240.0
"""A container must pass /ping within 4 minutes of its start (docs/sagemaker-facts.md#inference-container)."""

_PING_INTERVAL_SECONDS = 0.02


class DeployError(Exception):
    """A container could not be brought up; the message says why (an endpoint's FailureReason,
    a transform job's)."""


class ContainerUnreachable(ConnectionError):
    """The container did not accept a connection: it is down, not slow. Nothing of the request
    was sent, so another instance may take it."""


class _NoDelayConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, timeout: float, connect_timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        try:
            self.sock = socket.create_connection((self.host, self.port), self._connect_timeout)
        except OSError as exc:  # refused, timed out, no route: no byte of the request left
            raise ContainerUnreachable(f"{self.host}:{self.port} accepted no connection") from exc
        # Once connected, the invocation's own timeout applies to the answer.
        self.sock.settimeout(self.timeout)
        # http.client may write headers and body in two sends; without TCP_NODELAY the second one
        # waits for a delayed ACK (~40 ms on Linux).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class ConnectionPool:
    """Keep-alive connections to one container, shared by the request threads."""

    def __init__(
        self,
        url: str,
        timeout: float = INVOCATION_TIMEOUT_SECONDS,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._timeout = timeout
        self._connect_timeout = min(connect_timeout, timeout)
        self._idle: list[_NoDelayConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def _acquire(self) -> tuple[_NoDelayConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        connection = _NoDelayConnection(
            self._host, self._port, timeout=self._timeout, connect_timeout=self._connect_timeout
        )
        return connection, False

    def _release(self, conn: _NoDelayConnection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request; `timeout` replaces the pool's answer timeout for this request only.

        Raises ContainerUnreachable when no connection could be made (nothing was sent)."""
        for attempt in range(2):
            conn, reused = self._acquire()
            if timeout is not None:
                _set_timeout(conn, timeout)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except TimeoutError:
                conn.close()
                raise
            except ContainerUnreachable:
                conn.close()
                raise
            except (OSError, http.client.HTTPException):
                conn.close()
                # A kept-alive connection the container closed meanwhile: retry once on a new one.
                if reused and attempt == 0:
                    continue
                raise
            if response.will_close:
                conn.close()
            else:
                if timeout is not None:
                    _set_timeout(conn, self._timeout)
                self._release(conn)
            return response.status, response.headers, data
        raise AssertionError("unreachable")

    def stream(
        self, path: str, body: bytes, headers: dict[str, str], read_size: int = 64 * 1024
    ) -> StreamedAnswer:
        """A POST whose answer is read as it arrives, on a connection of its own (closed with
        the answer: a stream cut short leaves nothing reusable).

        Raises ContainerUnreachable when no connection could be made (nothing was sent)."""
        conn = _NoDelayConnection(
            self._host, self._port, timeout=self._timeout, connect_timeout=self._connect_timeout
        )
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        return StreamedAnswer(conn, response, read_size)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class StreamedAnswer:
    """A container's answer being read: status and headers now, the body chunk by chunk."""

    def __init__(
        self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse, read_size: int
    ) -> None:
        self._conn = conn
        self._response = response
        self._read_size = read_size
        self.status = response.status
        self.headers = response.headers

    def chunks(self) -> Iterator[bytes]:
        """The body as the container sends it. A connection the container closes before the
        end raises http.client.IncompleteRead (or OSError); a silent container, TimeoutError."""
        while True:
            chunk = self._response.read1(self._read_size)
            if not chunk:
                if self._response.length:  # a Content-Length answer cut short
                    raise http.client.IncompleteRead(b"", self._response.length)
                return
            yield chunk

    def read_all(self) -> bytes:
        return self._response.read()

    def close(self) -> None:
        self._conn.close()


def _set_timeout(conn: _NoDelayConnection, timeout: float) -> None:
    conn.timeout = timeout
    if conn.sock is not None:
        conn.sock.settimeout(timeout)


def ping(url: str, timeout: float = 2.0) -> bool:
    """One GET /ping: True when the container answers 200."""
    pool = ConnectionPool(url, timeout=timeout)
    try:
        status, _, _ = pool.request("GET", "/ping", None, {})
        return status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        pool.close()


def wait_for_ping(
    handle: ServingHandle,
    failure: str,
    tail: collections.deque[str],
    abandoned: Callable[[], str | None],
) -> None:
    """Poll GET /ping until it answers 200 (within 4 minutes of the start on SageMaker:
    docs/sagemaker-facts.md#inference-container).

    Raises DeployError with `failure` (plus the last log lines if the container exited), or with
    what `abandoned` returns once the caller no longer wants the container.
    """
    pool = ConnectionPool(handle.url, timeout=2.0)
    deadline = time.monotonic() + PING_TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline:
            if not handle.is_running():
                time.sleep(0.1)  # let the last log lines arrive
                last = " | ".join(tail)[-600:]
                raise DeployError(f"{failure} The container exited. Last log lines: {last}")
            reason = abandoned()
            if reason is not None:
                raise DeployError(reason)
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _, _ = pool.request("GET", "/ping", None, {})
                if status == 200:
                    return
            time.sleep(_PING_INTERVAL_SECONDS)
    finally:
        pool.close()
    raise DeployError(failure)


def execution_parameters(url: str) -> dict[str, Any]:
    """The container's GET /execution-parameters answer; {} unless it answers 200 with JSON
    (the SDK's local mode also uses it only on a 200)."""
    pool = ConnectionPool(url, timeout=2.0)
    try:
        with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
            status, _, body = pool.request("GET", "/execution-parameters", None, {})
            answer = json.loads(body) if status == 200 else {}
            return answer if isinstance(answer, dict) else {}
    finally:
        pool.close()
    return {}
