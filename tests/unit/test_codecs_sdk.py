"""codecs against the SageMaker SDK 2.x serializers and deserializers users plug into predictors."""

from __future__ import annotations

import importlib
import io
from typing import Any

import numpy as np
import pytest

from algorithms.common import codecs

serializers: Any = importlib.import_module("sagemaker.serializers")
deserializers: Any = importlib.import_module("sagemaker.deserializers")

KMEANS = codecs.ResponseShape(
    "predictions",
    ("distance_to_cluster", "closest_cluster"),
    scalars=frozenset({"distance_to_cluster", "closest_cluster"}),
    csv_columns=("closest_cluster", "distance_to_cluster"),
)
PCA = codecs.ResponseShape("projections", ("projection",))
ROWS = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)


def as_bytes(payload: Any) -> bytes:
    if isinstance(payload, io.IOBase):
        payload = payload.read()
    return payload.encode() if isinstance(payload, str) else bytes(payload)


@pytest.mark.parametrize(
    ("serializer", "data"),
    [
        ("CSVSerializer", ROWS),
        ("RecordSerializer", ROWS),
        ("RecordSerializer", ROWS.astype(np.float64)),
        ("JSONSerializer", {"instances": [{"features": row} for row in ROWS.tolist()]}),
        ("JSONLinesSerializer", [{"features": row} for row in ROWS.tolist()]),
        (
            "JSONLinesSerializer",
            [{"data": {"features": {"values": row}}} for row in ROWS.tolist()],
        ),
    ],
)
def test_sdk_serializers_decode(serializer: str, data: Any) -> None:
    instance = getattr(serializers, serializer)()
    body = as_bytes(instance.serialize(data))
    got = codecs.decode_request(body, instance.CONTENT_TYPE, 5)
    # CSV and JSON carry decimal text of the float32 values widened to double; they round-trip.
    np.testing.assert_array_equal(got, ROWS)


def test_sdk_json_deserializer_reads_kmeans_and_pca() -> None:
    clusters = {
        "closest_cluster": np.array([3, 0], dtype=np.float32),
        "distance_to_cluster": np.array([0.25, 1.5], dtype=np.float32),
    }
    deserializer = deserializers.JSONDeserializer()
    accept = deserializer.ACCEPT[0]
    response = codecs.encode_response(clusters, accept, KMEANS)
    got = deserializer.deserialize(io.BytesIO(response.body), response.content_type)
    assert got == {
        "predictions": [
            {"distance_to_cluster": 0.25, "closest_cluster": 3.0},
            {"distance_to_cluster": 1.5, "closest_cluster": 0.0},
        ]
    }
    response = codecs.encode_response({"projection": ROWS[:, :2]}, accept, PCA)
    got = deserializer.deserialize(io.BytesIO(response.body), response.content_type)
    projections = [item["projection"] for item in got["projections"]]
    np.testing.assert_array_equal(np.array(projections, dtype=np.float32), ROWS[:, :2])


def test_sdk_jsonlines_and_csv_deserializers() -> None:
    clusters = {
        "closest_cluster": np.array([1, 2], dtype=np.float32),
        "distance_to_cluster": np.array([3.0, 0.5], dtype=np.float32),
    }
    lines = deserializers.JSONLinesDeserializer()
    response = codecs.encode_response(clusters, lines.ACCEPT[0], KMEANS)
    assert lines.deserialize(io.BytesIO(response.body), response.content_type) == [
        {"distance_to_cluster": 3.0, "closest_cluster": 1.0},
        {"distance_to_cluster": 0.5, "closest_cluster": 2.0},
    ]
    csv = deserializers.CSVDeserializer()
    response = codecs.encode_response(clusters, csv.ACCEPT[0], KMEANS)
    assert csv.deserialize(io.BytesIO(response.body), response.content_type) == [
        ["1.0", "3.0"],
        ["2.0", "0.5"],
    ]
