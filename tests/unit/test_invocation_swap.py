"""A request that picked a variant just before an UpdateEndpoint swap must not reach a container
that is draining: it is routed to what the endpoint serves now (no failed request)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from emulator.services.invocation import InvocationRouter
from emulator.services.live import LiveEndpoint, LiveInstance, LiveVariant
from emulator.workloads.container_client import ConnectionPool


class _Answering(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = self.server.answer  # type: ignore[attr-defined]
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
        self.stopped = False

    @property
    def url(self) -> str:
        return self._url

    def is_running(self) -> bool:
        return not self.stopped

    def stop(self, grace_seconds: float) -> None:
        self.stopped = True


@pytest.fixture
def container() -> Iterator[tuple[str, http.server.ThreadingHTTPServer]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answering)
    server.answer = b"new"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


def _variant(url: str) -> LiveVariant:
    instance = LiveInstance(
        instance_id="i-0",
        handle=_Handle(url),
        pool=ConnectionPool(url),
        log_stream="AllTraffic/i-0",
    )
    return LiveVariant("AllTraffic", "/aws/sagemaker/Endpoints/e", [instance])


def test_a_draining_variant_takes_no_new_request(
    container: tuple[str, http.server.ThreadingHTTPServer],
) -> None:
    url, _ = container
    old = _variant(url)
    old.drain_and_stop(grace_seconds=0)
    assert old.pick() is None
    assert old.instances[0].enter() is False


def test_a_request_racing_a_swap_goes_to_the_new_variants(
    container: tuple[str, http.server.ThreadingHTTPServer],
) -> None:
    url, _ = container
    router = InvocationRouter("us-east-1")
    old_endpoint = LiveEndpoint([_variant("http://127.0.0.1:9")])  # nothing listens there
    router.swap("e", old_endpoint)

    # The race: the request has looked up the old endpoint; the swap and the old variant's drain
    # happen before it counts itself in.
    real_pick = old_endpoint.pick

    def pick_then_swap(target_variant: str | None) -> LiveVariant | None:
        chosen = real_pick(target_variant)
        router.swap("e", LiveEndpoint([_variant(url)]))
        assert chosen is not None
        chosen.drain_and_stop(grace_seconds=0)
        return chosen

    old_endpoint.pick = pick_then_swap  # type: ignore[method-assign]
    result = router.invoke("e", b"1", "text/csv", None, None, None)
    assert result.body == b"new"
    for endpoint in router.close():  # closes the new variant's kept-alive connection
        for variant in endpoint.variants:
            variant.drain_and_stop(grace_seconds=0)
