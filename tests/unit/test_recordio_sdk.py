"""recordio against the real SageMaker SDK 2.x: what it writes we read, what we write it reads."""

from __future__ import annotations

import importlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from algorithms.common import recordio, records

# The SDK and scipy have no type stubs: reach them as Any.
sdk_common: Any = importlib.import_module("sagemaker.amazon.common")
sdk_record_pb2: Any = importlib.import_module("sagemaker.amazon.record_pb2")
sdk_deserializers: Any = importlib.import_module("sagemaker.base_deserializers")
sdk_serializers: Any = importlib.import_module("sagemaker.base_serializers")
scipy_sparse: Any = importlib.import_module("scipy.sparse")

DTYPES = [np.float32, np.float64, np.int64]
LABEL_DTYPES = [None, np.float32, np.float64, np.int64]


def sdk_dense(matrix: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    buffer = io.BytesIO()
    sdk_common.write_numpy_to_dense_tensor(buffer, matrix, labels)
    return buffer.getvalue()


def sdk_sparse(matrix: Any, labels: np.ndarray | None = None) -> bytes:
    buffer = io.BytesIO()
    sdk_common.write_spmatrix_to_sparse_tensor(buffer, matrix, labels)
    return buffer.getvalue()


def sample(dtype: type, rows: int = 40, cols: int = 6, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).normal(size=(rows, cols)) * 100
    return values.astype(dtype)


def values_of(value: Any) -> list[float]:
    kind = value.WhichOneof("value")
    return list(getattr(value, kind).values)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label_dtype", LABEL_DTYPES)
def test_encode_dense_is_byte_identical_to_the_sdk(dtype: type, label_dtype: type | None) -> None:
    matrix = sample(dtype)
    labels = None if label_dtype is None else sample(label_dtype, cols=1)[:, 0]
    assert recordio.encode_dense(matrix, labels) == sdk_dense(matrix, labels)


def test_encode_dense_is_byte_identical_for_wide_rows_and_special_values() -> None:
    # Widths whose varint lengths need 1, 2 and 3 bytes, and values protobuf must copy raw.
    for width in (1, 31, 32, 33, 4095, 5000):
        matrix = sample(np.float32, rows=3, cols=width, seed=width)
        assert recordio.encode_dense(matrix) == sdk_dense(matrix), width
    special = np.array([[0.0, -0.0, np.inf, -np.inf, 1e-45, 3.4e38]], dtype=np.float32)
    assert recordio.encode_dense(special) == sdk_dense(special)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("label_dtype", LABEL_DTYPES)
def test_we_read_what_the_sdk_writes_dense(
    tmp_path: Path, dtype: type, label_dtype: type | None
) -> None:
    matrix = sample(dtype)
    labels = None if label_dtype is None else sample(label_dtype, cols=1)[:, 0]
    path = tmp_path / "matrix_0.pbr"
    path.write_bytes(sdk_dense(matrix, labels))
    batches = list(recordio.iter_dense_batches([path], 16, 6))
    np.testing.assert_array_equal(np.concatenate(batches), matrix.astype(np.float32))
    np.testing.assert_array_equal(
        recordio.decode_matrix(path.read_bytes(), 6), matrix.astype(np.float32)
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_we_read_what_the_sdk_writes_sparse(tmp_path: Path, dtype: type) -> None:
    dense = sample(dtype, rows=30, cols=50, seed=7)
    dense[np.random.default_rng(8).random(dense.shape) < 0.8] = 0
    dense[3] = 0  # an all-zero row: no keys, no values, only the shape
    matrix = scipy_sparse.csr_matrix(dense)
    labels = np.arange(30, dtype=np.float32)
    path = tmp_path / "sparse.pbr"
    path.write_bytes(sdk_sparse(matrix, labels))
    batches = list(recordio.iter_dense_batches([path], 8, 50))
    np.testing.assert_array_equal(np.concatenate(batches), dense.astype(np.float32))
    np.testing.assert_array_equal(
        recordio.decode_matrix(path.read_bytes(), 50), dense.astype(np.float32)
    )


def test_sdk_read_records_reads_what_we_write() -> None:
    matrix = sample(np.float32, rows=25)
    labels = np.arange(25, dtype=np.float32)
    got = sdk_common.read_records(io.BytesIO(recordio.encode_dense(matrix, labels)))
    assert len(got) == 25
    for row, label, record in zip(matrix, labels, got, strict=True):
        assert isinstance(record, sdk_record_pb2.Record)
        np.testing.assert_array_equal(values_of(record.features["values"]), row)
        assert values_of(record.label["values"]) == [label]


def test_sdk_record_deserializer_reads_our_responses() -> None:
    projection = sample(np.float32, rows=5, cols=3)
    distance = np.array([[0.5], [1.5], [2.5], [3.5], [4.5]], dtype=np.float32)
    cluster = np.array([0, 1, 2, 1, 0], dtype=np.float32)
    kmeans_body = recordio.encode_label_records(
        {"distance_to_cluster": distance, "closest_cluster": cluster}
    )
    pca_body = recordio.encode_label_records({"projection": projection})
    deserializer = sdk_deserializers.RecordDeserializer()
    kmeans = deserializer.deserialize(io.BytesIO(kmeans_body), recordio_content_type())
    pca = deserializer.deserialize(io.BytesIO(pca_body), recordio_content_type())
    assert [values_of(r.label["closest_cluster"]) for r in kmeans] == [[c] for c in cluster]
    assert [values_of(r.label["distance_to_cluster"]) for r in kmeans] == distance.tolist()
    np.testing.assert_array_equal(
        np.array([values_of(r.label["projection"]) for r in pca], dtype=np.float32), projection
    )


def recordio_content_type() -> str:
    return "application/x-recordio-protobuf"


@pytest.mark.parametrize("dtype", DTYPES)
def test_decode_matrix_reads_the_sdk_record_serializer(dtype: type) -> None:
    serializer = sdk_serializers.RecordSerializer()
    assert recordio_content_type() == serializer.CONTENT_TYPE
    matrix = sample(dtype, rows=4, cols=7)
    body = serializer.serialize(matrix).read()
    np.testing.assert_array_equal(recordio.decode_matrix(body, 7), matrix.astype(np.float32))
    # one row given as a vector becomes a 1 x d request
    one = serializer.serialize(matrix[0]).read()
    np.testing.assert_array_equal(recordio.decode_matrix(one, 7), matrix[:1].astype(np.float32))


def test_our_messages_and_the_sdks_live_in_one_process() -> None:
    ours = records.Record()
    ours.features["values"].float64_tensor.values.extend([1.5, 2.5])
    ours.uid = "row-1"
    theirs = sdk_record_pb2.Record()
    theirs.ParseFromString(ours.SerializeToString())
    assert list(theirs.features["values"].float64_tensor.values) == [1.5, 2.5]
    assert theirs.uid == "row-1"
    back = records.Record()
    back.ParseFromString(theirs.SerializeToString())
    assert back == ours
    assert type(back) is not sdk_record_pb2.Record
    assert records.Record.DESCRIPTOR.full_name == sdk_record_pb2.Record.DESCRIPTOR.full_name
