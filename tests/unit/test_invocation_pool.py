"""The keep-alive pool to a serving container: a container that vanished is unreachable, not slow.

Regression: a Docker container that was killed takes its bridge address with it, so a new
connection to it hangs until the socket timeout; that surfaced as an invocation timeout
(ModelError) instead of the runtime's ServiceUnavailable, and only after the full 60 s.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from emulator.workloads.container_client import ConnectionPool, ContainerUnreachable


@pytest.fixture
def never_accepting() -> Iterator[str]:
    """A loopback listener whose accept queue is full: new SYNs are dropped, connect() hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the backlog (its real size is backlog + 1 on Linux)
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_a_connect_that_hangs_is_unreachable_not_a_timeout(never_accepting: str) -> None:
    pool = ConnectionPool(never_accepting, timeout=30.0, connect_timeout=0.3)
    with pytest.raises(ContainerUnreachable) as caught:
        pool.request("GET", "/ping", None, {})
    assert not isinstance(caught.value, TimeoutError)
    pool.close()


def test_a_refused_connect_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pool = ConnectionPool(f"http://127.0.0.1:{port}", connect_timeout=0.3)
    with pytest.raises(OSError) as caught:
        pool.request("GET", "/ping", None, {})
    assert not isinstance(caught.value, TimeoutError)
    pool.close()
