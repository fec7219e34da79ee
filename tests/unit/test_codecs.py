"""algorithms.common.codecs: request bodies in, response bodies out, the spec's exact formats."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from algorithms.common import codecs, recordio
from algorithms.common.codecs import BadRequest, ResponseShape, UnsupportedMediaType
from algorithms.common.serving import InvocationError


def f32(values: object) -> np.ndarray:
    return np.array(values, dtype=np.float32)


PCA = ResponseShape("projections", ("projection",))
KMEANS = ResponseShape(
    "predictions",
    ("distance_to_cluster", "closest_cluster"),
    scalars=frozenset({"distance_to_cluster", "closest_cluster"}),
    csv_columns=("closest_cluster", "distance_to_cluster"),
)
ROWS = f32([[1.5, 16.0, 14.0, 23.0], [0.0, -1.0, 2.5, 1e-3]])


# --- requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", "1.5,16.0,14,23.0\n0,-1,2.5,0.001\n"),
        ("text/csv; charset=utf-8", "1.5,16.0,14,23.0\r\n0,-1,2.5,0.001"),
        ("text/csv;label_size=0", "1.5,16.0,14,23.0\n0,-1,2.5,0.001\n"),
        ("text/csv;label_size=1", "9,1.5,16.0,14,23.0\n9,0,-1,2.5,0.001\n"),
        (
            "application/json",
            json.dumps({"instances": [{"features": row} for row in ROWS.tolist()]}),
        ),
        (
            "application/json; charset=utf-8",
            json.dumps(
                {"instances": [{"data": {"features": {"values": row}}} for row in ROWS.tolist()]}
            ),
        ),
        (
            "application/json",
            json.dumps(
                {
                    "instances": [
                        {"features": ROWS[0].tolist()},
                        {
                            "data": {
                                "features": {
                                    "keys": [1, 2, 3],
                                    "shape": [4],
                                    "values": [-1, 2.5, 0.001],
                                }
                            }
                        },
                    ]
                }
            ),
        ),
        (
            "application/jsonlines",
            '{"features": [1.5, 16.0, 14, 23.0]}\n\n'
            '{"data": {"features": {"keys": [1, 2, 3], "shape": [4], "values": [-1, 2.5, 0.001]}}}\n',
        ),
        (
            "application/jsonlines",
            '{"data": {"features": {"values": [1.5, 16.0, 14, 23.0]}}}\n'
            '{"features": [0, -1, 2.5, 0.001]}',
        ),
    ],
)
def test_every_request_form(content_type: str, body: str) -> None:
    got = codecs.decode_request(body.encode(), content_type, 4)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ROWS)


def test_recordio_requests_dense_and_sparse() -> None:
    np.testing.assert_array_equal(
        codecs.decode_request(recordio.encode_dense(ROWS), codecs.RECORDIO, 4), ROWS
    )
    np.testing.assert_array_equal(
        codecs.decode_request(recordio.encode_dense(ROWS.astype(np.float64)), codecs.RECORDIO, 4),
        ROWS,
    )


def test_sparse_json_with_feature_dim_and_no_shape() -> None:
    body = json.dumps(
        {"instances": [{"data": {"features": {"keys": [26, 182], "values": [1, 4]}}}]}
    )
    got = codecs.decode_request(body.encode(), codecs.JSON, 200)
    assert got.shape == (1, 200)
    assert got[0, 26] == 1 and got[0, 182] == 4 and got.sum() == 5


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("text/csv", "1,2,3\n", "line 1 has 3 feature column.*feature_dim is 4"),
        ("text/csv", "1,2,x,4\n", "line 1, column 3: could not convert 'x'"),
        ("text/csv;label_size=-1", "1,2,3,4\n", "label_size must be a non-negative integer"),
        ("application/json", "{not json", "not valid JSON"),
        ("application/json", "[[1, 2, 3, 4]]", r"must be an object \{\"instances\""),
        ("application/json", '{"instances": [[1, 2, 3, 4]]}', "instance 0 is not one of"),
        (
            "application/json",
            '{"instances": [{"features": [1, 2, 3]}]}',
            "instance 0 has 3 feature.*feature_dim is 4",
        ),
        (
            "application/json",
            '{"instances": [{"features": ["1", 2, 3, 4]}]}',
            "flat list of numbers",
        ),
        (
            "application/json",
            '{"instances": [{"features": [[1, 2], [3, 4]]}]}',
            "flat list of numbers",
        ),
        (
            "application/json",
            '{"instances": [{"features": [true, 2, 3, 4]}]}',
            "flat list of numbers",
        ),
        (
            "application/json",
            '{"instances": [{"data": {"features": {"keys": [9], "shape": [4], "values": [1]}}}]}',
            r"keys must lie in \[0, 4\)",
        ),
        (
            "application/json",
            '{"instances": [{"data": {"features": {"keys": [1], "shape": [5], "values": [1]}}}]}',
            "has 5 feature.*feature_dim is 4",
        ),
        (
            "application/json",
            '{"instances": [{"data": {"features": {"keys": [1, 2], "shape": [4], "values": [1]}}}]}',
            "2 keys but 1 values",
        ),
        ("application/jsonlines", '{"features": [1, 2, 3, 4]}\n{oops', "line 2 is not valid JSON"),
        ("application/x-recordio-protobuf", "1,2,3,4\n", "bad RecordIO magic"),
        ("text/csv", "  \n", "the request body is empty"),
        ("application/x-recordio-protobuf", "", "the request body is empty"),
        ("application/json", "\xff", "not valid utf-8 text"),
    ],
)
def test_bad_payloads_are_400_with_a_reason(content_type: str, body: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as caught:
        codecs.decode_request(body.encode("latin-1"), content_type, 4)
    assert caught.value.status == 400
    assert caught.value.message.startswith("unable to evaluate payload provided: ")
    assert isinstance(caught.value, InvocationError)


def test_bad_bytes_in_utf8_json_are_400() -> None:
    with pytest.raises(BadRequest, match="not valid utf-8 text"):
        codecs.decode_request(b'{"instances": "\xff"}', "application/json; charset=utf-8", 4)


@pytest.mark.parametrize(
    "content_type", [None, "", "image/jpeg", "application/x-npy", "text/plain"]
)
def test_unsupported_content_types_are_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        codecs.decode_request(b"1,2,3,4", content_type, 4)
    assert caught.value.status == 415
    assert "text/csv" in caught.value.message


def test_empty_instances_give_no_rows() -> None:
    assert codecs.decode_request(b'{"instances": []}', codecs.JSON, 4).shape == (0, 4)


# --- responses ---------------------------------------------------------------------------------

CLUSTERS = {
    "closest_cluster": f32([8, 0]),
    "distance_to_cluster": f32([[7.269891262054443], [23.40593910217285]]),
}
PROJECTIONS = {"projection": f32([[-0.008711372502148151, 0.0019895541481673717]])}


def test_kmeans_json_exactly_as_the_real_service() -> None:
    response = codecs.encode_response(CLUSTERS, "application/json", KMEANS)
    assert response.content_type == "application/json"
    assert response.body == (
        b'{"predictions": [{"distance_to_cluster": 7.269891262054443, "closest_cluster": 8.0}, '
        b'{"distance_to_cluster": 23.40593910217285, "closest_cluster": 0.0}]}'
    )


def test_kmeans_jsonlines_and_csv() -> None:
    lines = codecs.encode_response(CLUSTERS, "application/jsonlines", KMEANS)
    assert lines.content_type == "application/jsonlines"
    assert lines.body == (
        b'{"distance_to_cluster": 7.269891262054443, "closest_cluster": 8.0}\n'
        b'{"distance_to_cluster": 23.40593910217285, "closest_cluster": 0.0}\n'
    )
    csv = codecs.encode_response(CLUSTERS, "text/csv", KMEANS)
    assert csv.content_type == "text/csv"
    assert csv.body == b"8.0,7.269891262054443\n0.0,23.40593910217285\n"


def test_pca_json_exactly_as_the_real_service() -> None:
    response = codecs.encode_response(PROJECTIONS, None, PCA)
    assert response.body == (
        b'{"projections": [{"projection": [-0.008711372502148151, 0.0019895541481673717]}]}'
    )
    lines = codecs.encode_response(PROJECTIONS, "application/jsonlines", PCA)
    assert lines.body == b'{"projection": [-0.008711372502148151, 0.0019895541481673717]}\n'


def test_numbers_are_float32_widened_with_the_shortest_repr() -> None:
    values = f32([[0.1, 1 / 3, 1e-8, 123456.789]])
    body = json.loads(codecs.encode_response({"projection": values}, None, PCA).body)
    written = body["projections"][0]["projection"]
    assert written == [float(np.float32(v)) for v in values[0]]
    assert written[0] == 0.10000000149011612


def test_recordio_responses() -> None:
    response = codecs.encode_response(CLUSTERS, "application/x-recordio-protobuf", KMEANS)
    assert response.content_type == "application/x-recordio-protobuf"
    got = list(recordio.iter_records(io.BytesIO(response.body)))
    assert [list(r.label["closest_cluster"].float32_tensor.values) for r in got] == [[8.0], [0.0]]
    pca = codecs.encode_response(PROJECTIONS, "application/x-recordio-protobuf", PCA)
    (record,) = recordio.iter_records(io.BytesIO(pca.body))
    np.testing.assert_array_equal(
        np.array(record.label["projection"].float32_tensor.values, dtype=np.float32),
        PROJECTIONS["projection"][0],
    )


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("application/jsonlines", "application/jsonlines"),
        ("text/csv", "text/csv"),
        ("text/*", "text/csv"),
        ("application/*", "application/json"),
        ("image/png, application/x-recordio-protobuf", "application/x-recordio-protobuf"),
        ("application/json;q=0.2, text/csv;q=0.9", "text/csv"),
    ],
)
def test_accept_negotiation(accept: str | None, expected: str) -> None:
    assert codecs.choose_response_type(accept, KMEANS) == expected


def test_unsupported_accept_is_415() -> None:
    with pytest.raises(UnsupportedMediaType, match="Accept 'text/csv' is not supported") as caught:
        codecs.encode_response(PROJECTIONS, "text/csv", PCA)
    assert caught.value.status == 415
    with pytest.raises(UnsupportedMediaType):
        codecs.choose_response_type("image/png", KMEANS)
