"""InvokeEndpoint: route a request to a serving container of the endpoint and relay its answer.

The hot path of the emulator. It takes no service-wide lock: the live endpoints are an immutable
snapshot per endpoint, swapped atomically by hosting (UpdateEndpoint), and each container has a
pool of keep-alive HTTP/1.1 connections with TCP_NODELAY.
"""

from __future__ import annotations

import bisect
import http.client
import itertools
import random
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from emulator.aws.arns import ACCOUNT_ID
from emulator.aws.errors import ModelError, ServiceUnavailableRuntime, ValidationError
from emulator.runtime.base import ServingHandle

INVOCATION_TIMEOUT_SECONDS = 60.0
"""The container must answer /invocations within 60 s (docs/sagemaker-facts.md#inference-container)."""

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"


@dataclass(frozen=True)
class InvokeResult:
    body: bytes
    content_type: str
    invoked_production_variant: str
    custom_attributes: str | None = None


CONNECT_TIMEOUT_SECONDS = 2.0
"""A container must accept a socket within 250 ms (docs/sagemaker-facts.md#inference-container); one
that takes 2 s is gone (a killed Docker container takes its bridge address with it, and a connect
to it hangs)."""


class ContainerUnreachable(ConnectionError):
    """The container did not accept a connection: it is down, not slow."""


class _NoDelayConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, timeout: float, connect_timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        try:
            self.sock = socket.create_connection((self.host, self.port), self._connect_timeout)
        except TimeoutError as exc:
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
        """One request; `timeout` replaces the pool's answer timeout for this request only."""
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

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _set_timeout(conn: _NoDelayConnection, timeout: float) -> None:
    conn.timeout = timeout
    if conn.sock is not None:
        conn.sock.settimeout(timeout)


@dataclass
class LiveVariant:
    """One production variant's running container."""

    name: str
    weight: float
    handle: ServingHandle
    pool: ConnectionPool
    log_group: str
    root: Path | None = None
    """The variant's host /opt/ml tree, removed once the container has stopped."""
    in_flight: int = 0
    retired: bool = False
    """Set when the variant starts draining: it takes no new request from then on."""
    _counter_lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> bool:
        """Count a request in; False once the variant drains (the caller picks again)."""
        with self._counter_lock:
            if self.retired:
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self._counter_lock:
            self.in_flight -= 1

    def drain_and_stop(self, grace_seconds: float, drain_seconds: float = 60.0) -> None:
        """Wait for requests already sent to this container, then stop it."""
        with self._counter_lock:
            self.retired = True
        deadline = time.monotonic() + drain_seconds
        while self.in_flight > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.pool.close()
        self.handle.stop(grace_seconds)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


class LiveEndpoint:
    """The variants an endpoint serves right now; immutable once built."""

    def __init__(self, variants: list[LiveVariant], asynchronous: bool = False) -> None:
        self.variants = tuple(variants)
        self.asynchronous = asynchronous
        """An endpoint with an AsyncInferenceConfig: it takes asynchronous invocations only."""
        self._by_name = {v.name: v for v in variants}
        weights = [max(v.weight, 0.0) for v in variants]
        if sum(weights) <= 0:
            weights = [1.0] * len(variants)
        self._cumulative = list(itertools.accumulate(weights))
        self._rng = random.Random()

    def pick(self, target_variant: str | None) -> LiveVariant | None:
        if target_variant:
            return self._by_name.get(target_variant)
        if len(self.variants) == 1:
            return self.variants[0]
        # Traffic split by variant weight, as the real service routes.
        point = self._rng.random() * self._cumulative[-1]
        return self.variants[bisect.bisect_right(self._cumulative, point)]


class InvocationRouter:
    """Endpoint name -> LiveEndpoint, and the InvokeEndpoint call itself."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._live: dict[str, LiveEndpoint] = {}

    def get(self, name: str) -> LiveEndpoint | None:
        return self._live.get(name)

    def items(self) -> list[tuple[str, LiveEndpoint]]:
        return list(self._live.items())

    def swap(self, name: str, endpoint: LiveEndpoint | None) -> LiveEndpoint | None:
        """Atomically replace what an endpoint serves; returns the previous variants."""
        old = self._live.get(name)
        if endpoint is None:
            self._live.pop(name, None)
        else:
            self._live[name] = endpoint
        return old

    def _enter_variant(
        self,
        endpoint_name: str,
        target_variant: str | None,
        status_of: Callable[[str], str | None] | None,
        asynchronous: bool,
    ) -> LiveVariant:
        """The variant to send to, already counted in. A variant picked just as an update swaps
        it out is draining and refuses: pick again from what the endpoint serves now."""
        while True:
            endpoint = self._live.get(endpoint_name)
            if endpoint is None:
                state = status_of(endpoint_name) if status_of is not None else None
                if state is None:
                    raise ValidationError(
                        f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found."
                    )
                raise ValidationError(
                    f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is not in service "
                    f"(status: {state})."
                )
            if endpoint.asynchronous and not asynchronous:
                raise ValidationError(
                    f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is an asynchronous "
                    "inference endpoint: it can only receive asynchronous invocations "
                    "(InvokeEndpointAsync)."
                )
            if asynchronous and not endpoint.asynchronous:
                raise ValidationError(
                    f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is not an asynchronous "
                    "inference endpoint: it has no AsyncInferenceConfig (use InvokeEndpoint)."
                )
            variant = endpoint.pick(target_variant)
            if variant is None:
                raise ValidationError(
                    f'The target variant "{target_variant}" does not exist on endpoint '
                    f"{endpoint_name}."
                )
            if variant.enter():
                return variant
            if self._live.get(endpoint_name) is endpoint:
                # Retired but still current: the endpoint is being deleted or revived.
                raise ServiceUnavailableRuntime(
                    f"Endpoint {endpoint_name} is changing; retry the request."
                )

    def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None,
        target_variant: str | None,
        status_of: Callable[[str], str | None] | None = None,
        timeout: float | None = None,
        asynchronous: bool = False,
    ) -> InvokeResult:
        """Send one request to a variant. `timeout` (seconds) replaces the 60 s answer timeout
        (asynchronous invocations allow up to an hour); `asynchronous` says the request comes
        from the asynchronous queue, which only an asynchronous endpoint takes."""
        variant = self._enter_variant(endpoint_name, target_variant, status_of, asynchronous)
        # SageMaker passes on only the headers InvokeEndpoint supports
        # (docs/sagemaker-facts.md#inference-container).
        headers: dict[str, str] = {}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        if custom_attributes:
            headers[CUSTOM_ATTRIBUTES_HEADER] = custom_attributes
        try:
            status, response_headers, data = variant.pool.request(
                "POST", "/invocations", body, headers, timeout
            )
        except TimeoutError as exc:
            raise ModelError(
                f"Your invocation timed out while waiting for a response from container "
                f"{variant.name}. Review the latency metrics for each container in Amazon "
                "CloudWatch, resolve the issue, and try again.",
                408,
                "",
                self._log_group_arn(variant.log_group),
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ServiceUnavailableRuntime(
                f"The container of variant {variant.name} of endpoint {endpoint_name} is not "
                f"reachable ({type(exc).__name__})."
            ) from exc
        finally:
            variant.leave()
        if status >= 400:
            message = data.decode("utf-8", errors="replace")
            kind = "client" if status < 500 else "server"
            raise ModelError(
                f'Received {kind} error ({status}) from primary with message "{message}". '
                f"See https://{self._region}.console.aws.amazon.com/cloudwatch/home?region="
                f"{self._region}#logEventViewer:group={variant.log_group} in account "
                f"{ACCOUNT_ID} for more information.",
                status,
                message,
                self._log_group_arn(variant.log_group),
            )
        return InvokeResult(
            body=data,
            content_type=response_headers.get("Content-Type", "application/octet-stream"),
            invoked_production_variant=variant.name,
            custom_attributes=response_headers.get(CUSTOM_ATTRIBUTES_HEADER),
        )

    def _log_group_arn(self, group: str) -> str:
        return f"arn:aws:logs:{self._region}:{ACCOUNT_ID}:log-group:{group}"

    def close(self) -> list[LiveEndpoint]:
        live = list(self._live.values())
        self._live.clear()
        return live
