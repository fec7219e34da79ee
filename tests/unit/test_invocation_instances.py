"""Routing among the instances of a variant, over real HTTP servers standing in for containers:
least outstanding requests spreads concurrent requests, RANDOM reaches every instance, and a
request that cannot connect to an instance goes to another one (no failed request)."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from emulator.services.invocation import InvocationRouter
from emulator.services.live import RANDOM, LiveEndpoint, LiveInstance, LiveVariant
from emulator.workloads.container_client import ConnectionPool


class _Answering(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server = self.server
        gate: threading.Event = server.gate  # type: ignore[attr-defined]
        gate.wait(10)  # hold the request until the test lets the answers go
        body = server.answer  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Handle:
    def __init__(self, url: str) -> None:
        self._url = url

    @property
    def url(self) -> str:
        return self._url

    def is_running(self) -> bool:
        return True

    def stop(self, grace_seconds: float) -> None:
        pass


@pytest.fixture
def containers() -> Iterator[list[tuple[str, http.server.ThreadingHTTPServer]]]:
    servers = []
    for i in range(3):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answering)
        server.answer = f"i-{i}".encode()  # type: ignore[attr-defined]
        server.gate = threading.Event()  # type: ignore[attr-defined]
        server.gate.set()  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((f"http://127.0.0.1:{server.server_address[1]}", server))
    try:
        yield servers
    finally:
        for _, server in servers:
            server.gate.set()  # type: ignore[attr-defined]
            server.shutdown()
            server.server_close()


def _instance(url: str, n: int) -> LiveInstance:
    return LiveInstance(f"i-{n}", _Handle(url), ConnectionPool(url), f"AllTraffic/i-{n}")


def _router(urls: list[str], strategy: str | None = None) -> InvocationRouter:
    instances = [_instance(url, n) for n, url in enumerate(urls)]
    variant = LiveVariant("AllTraffic", "/aws/sagemaker/Endpoints/e", instances)
    if strategy is not None:
        variant.routing_strategy = strategy
    router = InvocationRouter("us-east-1")
    router.swap("e", LiveEndpoint([variant]))
    return router


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the state never came"
        time.sleep(0.005)


def _invoke(router: InvocationRouter) -> str:
    return router.invoke("e", b"1", "text/csv", None, None, None).body.decode()


def test_least_outstanding_requests_spreads_concurrent_requests(
    containers: list[tuple[str, http.server.ThreadingHTTPServer]],
) -> None:
    for _, server in containers:
        server.gate.clear()  # type: ignore[attr-defined]
    router = _router([url for url, _ in containers])
    live = router.get("e")
    assert live is not None
    instances = live.variants[0].instances
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = []
        for sent in range(1, 7):
            futures.append(pool.submit(_invoke, router))
            # One at a time: each request is held in flight before the next one picks.
            _until(lambda n=sent: sum(i.in_flight for i in instances) == n)  # type: ignore[misc]
        # Six requests held: two on each instance, none idle while another has three.
        assert sorted(i.in_flight for i in instances) == [2, 2, 2]
        for _, server in containers:
            server.gate.set()  # type: ignore[attr-defined]
        answers = Counter(f.result() for f in futures)
    assert answers == {"i-0": 2, "i-1": 2, "i-2": 2}


def test_random_reaches_every_instance(
    containers: list[tuple[str, http.server.ThreadingHTTPServer]],
) -> None:
    router = _router([url for url, _ in containers], RANDOM)
    answers = Counter(_invoke(router) for _ in range(90))
    assert set(answers) == {"i-0", "i-1", "i-2"}


def test_an_instance_that_accepts_no_connection_is_skipped(
    containers: list[tuple[str, http.server.ThreadingHTTPServer]],
) -> None:
    with socket.socket() as s:  # a port nothing listens on: a dead process's
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    url, _ = containers[0]
    router = _router([dead, url])
    answers = Counter(_invoke(router) for _ in range(20))
    assert answers == {"i-0": 20}  # every request answered (by the live server), none failed
    live = router.get("e")
    assert live is not None
    dead_instance = live.variants[0].instances[0]
    assert dead_instance.unreachable  # out of rotation until the monitor looked at it
    assert live.instance_count() == 1
