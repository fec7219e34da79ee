"""The stdlib inference server: routes, keep-alive, errors that leave it serving."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from algorithms.common.serving import InvocationError, Response, Server, make_server


def _echo(body: bytes, content_type: str | None, accept: str | None) -> Response:
    if body == b"bad":
        raise InvocationError("unable to evaluate payload provided: bad", 400)
    if body == b"type":
        raise InvocationError("unsupported", 415)
    if body == b"boom":
        raise RuntimeError("exploded")
    return Response(body[::-1] + f"|{content_type}|{accept}".encode(), "application/x-test")


@pytest.fixture
def server() -> Iterator[Server]:
    srv = make_server(_echo, host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


def _conn(srv: Server) -> http.client.HTTPConnection:
    host, port = srv.server_address[:2]
    return http.client.HTTPConnection(str(host), int(port), timeout=10)


def _post(conn: http.client.HTTPConnection, body: bytes, **headers: str) -> tuple[int, bytes, str]:
    conn.request("POST", "/invocations", body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read(), resp.getheader("Content-Type") or ""


def test_ping_and_execution_parameters(server: Server) -> None:
    conn = _conn(server)
    conn.request("GET", "/ping")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"")
    conn.request("GET", "/execution-parameters")
    resp = conn.getresponse()
    params = json.loads(resp.read())
    assert resp.status == 200
    assert params["BatchStrategy"] == "MULTI_RECORD" and params["MaxPayloadInMB"] == 6
    assert params["MaxConcurrentTransforms"] >= 1
    conn.close()


def test_many_requests_on_one_keep_alive_connection(server: Server) -> None:
    conn = _conn(server)
    for i in range(50):
        status, body, ctype = _post(
            conn, f"row{i}".encode(), **{"Content-Type": "text/csv", "Accept": "application/json"}
        )
        assert status == 200
        assert body == f"row{i}".encode()[::-1] + b"|text/csv|application/json"
        assert ctype == "application/x-test"
    conn.close()


def test_errors_answer_4xx_or_500_and_the_server_keeps_serving(server: Server) -> None:
    conn = _conn(server)
    status, body, ctype = _post(conn, b"bad", **{"Content-Type": "text/csv"})
    assert status == 400 and body.startswith(b"unable to evaluate payload provided")
    assert ctype.startswith("text/plain")
    status, _, _ = _post(conn, b"type", **{"Content-Type": "text/csv"})
    assert status == 415
    status, body, _ = _post(conn, b"boom", **{"Content-Type": "text/csv"})
    assert status == 500 and b"exploded" in body
    # Same connection still works after every error.
    assert _post(conn, b"ok", **{"Content-Type": "text/csv"})[0] == 200
    conn.close()


def test_unknown_paths_are_404(server: Server) -> None:
    conn = _conn(server)
    conn.request("GET", "/nope")
    resp = conn.getresponse()
    assert resp.status == 404
    resp.read()
    conn.request("POST", "/elsewhere", body=b"x")
    resp = conn.getresponse()
    assert resp.status == 404
    resp.read()
    assert _post(conn, b"ok")[0] == 200
    conn.close()


def test_missing_headers_and_chunked_bodies(server: Server) -> None:
    conn = _conn(server)
    status, body, _ = _post(conn, b"abc")
    assert (status, body) == (200, b"cba|None|None")
    conn.request("POST", "/invocations", body=iter([b"ab", b"cd"]), encode_chunked=True)
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"dcba|None|None")
    conn.close()


def test_concurrent_connections(server: Server) -> None:
    results: list[int] = []

    def worker() -> None:
        conn = _conn(server)
        for _ in range(20):
            results.append(_post(conn, b"x")[0])
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 160


def test_serving_loads_the_model_of_any_host(tmp_path: Path) -> None:
    """An artifact of several hosts may hold model_algo-2 only: serving finds it."""
    from algorithms.common import ndarray_file
    from algorithms.kmeans.predict import load_model

    centres = np.arange(6, dtype=np.float32).reshape(3, 2)
    ndarray_file.save(tmp_path / "model_algo-2", [centres])
    ndarray_file.save(tmp_path / "model_algo-10", [centres + 1])
    np.testing.assert_array_equal(load_model(tmp_path), centres)
