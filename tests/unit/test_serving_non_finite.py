"""Every answer of the real PCA and k-means inference apps is valid JSON, whatever the numbers.

NaN, ±Infinity and numbers beyond float32's range (1e39) in a request are a bad payload (400
with the algorithms' "unable to evaluate payload provided" body and the reason); finite inputs
whose results overflow float32 are refused the same way instead of answering bare tokens.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from algorithms.common import recordio
from algorithms.common.serving import Invoker, Server, make_server
from algorithms.kmeans.predict import KMeansPredictor
from algorithms.pca.fit import PcaModel
from algorithms.pca.predict import PcaPredictor

CENTRES = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]], dtype=np.float32)
PCA = PcaModel(
    s=np.array([1.0, 2.0], dtype=np.float32),
    v=np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=np.float32),
    mean=np.array([[-3e38, 0.0, 0.0]], dtype=np.float32),
)


def _serve(invoke: Invoker) -> Iterator[Server]:
    srv = make_server(invoke, host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


@pytest.fixture(scope="module")
def kmeans() -> Iterator[Server]:
    yield from _serve(KMeansPredictor(CENTRES).invoke)


@pytest.fixture(scope="module")
def pca() -> Iterator[Server]:
    yield from _serve(PcaPredictor(PCA).invoke)


def _post(srv: Server, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        headers = {"Content-Type": content_type, "Accept": accept}
        conn.request("POST", "/invocations", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp.getheader("Content-Type") or ""
    finally:
        conn.close()


def _strict_json(payload: bytes) -> object:
    def refuse(token: str) -> object:
        raise AssertionError(f"bare {token} in a JSON answer: {payload!r}")

    return json.loads(payload, parse_constant=refuse)


BAD_NUMBERS = ["nan", "inf", "-inf", "1e39", "-1e39"]
JSON_TOKENS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _bodies(number: str) -> list[tuple[bytes, str]]:
    token = JSON_TOKENS.get(number, number)
    return [
        (f"1,{number},3\n".encode(), "text/csv"),
        (f'{{"instances": [{{"features": [1, {token}, 3]}}]}}'.encode(), "application/json"),
        (
            f'{{"features": [1, 2, 3]}}\n{{"features": [1, {token}, 3]}}\n'.encode(),
            "application/jsonlines",
        ),
    ]


@pytest.mark.parametrize("number", BAD_NUMBERS)
@pytest.mark.parametrize("accept", ["application/json", "application/jsonlines"])
def test_non_finite_features_are_a_bad_payload(
    kmeans: Server, pca: Server, number: str, accept: str
) -> None:
    for srv in (kmeans, pca):
        for body, content_type in _bodies(number):
            status, payload, _ = _post(srv, body, content_type, accept)
            assert status == 400, (content_type, payload)
            text = payload.decode()
            assert text.startswith("unable to evaluate payload provided: record "), text
            assert "feature 1" in text and "finite" in text, text


def test_non_finite_recordio_features_are_a_bad_payload(kmeans: Server) -> None:
    rows = np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 3.0]], dtype=np.float32)
    status, payload, _ = _post(
        kmeans, recordio.encode_dense(rows), "application/x-recordio-protobuf", "application/json"
    )
    assert status == 400
    assert b"record 1, feature 1 reads as nan" in payload


@pytest.mark.parametrize(
    "accept",
    ["application/json", "application/jsonlines", "text/csv", "application/x-recordio-protobuf"],
)
def test_results_that_overflow_float32_are_refused_not_written_as_tokens(
    kmeans: Server, pca: Server, accept: str
) -> None:
    # Finite features, but 3e38 - (-3e38) overflows float32: the k-means distance and the PCA
    # projection (x - mean) would be infinite.
    status, payload, _ = _post(kmeans, b"-3e38,3e38,3e38\n", "text/csv", accept)
    assert status == 400, payload
    assert b"distance_to_cluster of record 0 is not a finite float32 number" in payload
    status, payload, _ = _post(pca, b"3e38,0,0\n", "text/csv", accept)
    assert status == 400, payload
    assert b"projection of record 0 is not a finite float32 number" in payload


@pytest.mark.parametrize("accept", ["application/json", "application/jsonlines"])
def test_large_finite_values_still_answer_strict_json(
    kmeans: Server, pca: Server, accept: str
) -> None:
    for srv in (kmeans, pca):
        status, payload, ctype = _post(srv, b"1e30,-1e30,3.4e38\n", "text/csv", accept)
        assert (status, ctype) == (200, accept), payload
        for line in payload.decode().splitlines():
            _strict_json(line.encode())
