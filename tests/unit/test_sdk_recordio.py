"""sdk.recordio, the client side's RecordIO-protobuf, byte for byte against SDK v2's functions."""

from __future__ import annotations

import importlib
import io
from typing import Any

import numpy as np
import pytest

from sdk import recordio

sdk_common: Any = importlib.import_module("sagemaker.amazon.common")
scipy_sparse: Any = importlib.import_module("scipy.sparse")

ARRAYS = [
    pytest.param(np.arange(12, dtype=np.float32).reshape(4, 3) / 7, id="float32"),
    pytest.param(np.linspace(-1, 1, 30).reshape(6, 5), id="float64"),
    pytest.param(np.arange(-6, 6, dtype=np.int64).reshape(3, 4), id="int64"),
    pytest.param(np.array([[1e30, -0.0, np.inf]], dtype=np.float32), id="extremes"),
    pytest.param(np.zeros((2, 200), dtype=np.float64), id="wide"),
]
LABELS = [None, np.float32, np.float64, np.int64]


def v2_dense(array: np.ndarray, labels: np.ndarray | None) -> bytes:
    buffer = io.BytesIO()
    sdk_common.write_numpy_to_dense_tensor(buffer, array, labels)
    return buffer.getvalue()


def ours_dense(array: np.ndarray, labels: np.ndarray | None) -> bytes:
    buffer = io.BytesIO()
    recordio.write_numpy_to_dense_tensor(buffer, array, labels)
    return buffer.getvalue()


@pytest.mark.parametrize("array", ARRAYS)
@pytest.mark.parametrize("label_dtype", LABELS, ids=lambda d: "no-labels" if d is None else str(d))
def test_dense_bytes_are_sdk_v2_s(array: np.ndarray, label_dtype: Any) -> None:
    labels = None if label_dtype is None else np.arange(array.shape[0]).astype(label_dtype)
    assert ours_dense(array, labels) == v2_dense(array, labels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("with_labels", [False, True])
def test_sparse_bytes_are_sdk_v2_s(dtype: Any, with_labels: bool) -> None:
    dense = np.array([[0, 1.5, 0, 2], [0, 0, 0, 0], [3, 0, 0, 4.25]]).astype(dtype)
    matrix = scipy_sparse.csr_matrix(dense)
    labels = np.array([1.0, 0.0, 2.0], dtype=np.float32) if with_labels else None
    ours, theirs = io.BytesIO(), io.BytesIO()
    recordio.write_spmatrix_to_sparse_tensor(ours, matrix, labels)
    sdk_common.write_spmatrix_to_sparse_tensor(theirs, matrix, labels)
    assert ours.getvalue() == theirs.getvalue()


def test_sparse_refuses_a_dense_array() -> None:
    with pytest.raises(TypeError):
        recordio.write_spmatrix_to_sparse_tensor(io.BytesIO(), np.zeros((2, 2)))


def test_read_records_reads_what_sdk_v2_wrote() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    records = recordio.read_records(io.BytesIO(v2_dense(array, np.array([5.0, 6.0]))))
    assert [list(r.features["values"].float32_tensor.values) for r in records] == array.tolist()
    assert [list(r.label["values"].float64_tensor.values) for r in records] == [[5.0], [6.0]]
    payloads = list(recordio.read_recordio(io.BytesIO(v2_dense(array, None))))
    assert len(payloads) == 2


def test_serializer_matches_sdk_v2_s_record_serializer() -> None:
    theirs = sdk_common.RecordSerializer()
    ours = recordio.RecordSerializer()
    assert ours.CONTENT_TYPE == theirs.CONTENT_TYPE == "application/x-recordio-protobuf"
    for data in (np.arange(4, dtype=np.float32), np.ones((3, 2))):
        assert ours.serialize(data) == theirs.serialize(data).getvalue()
    with pytest.raises(ValueError):
        ours.serialize(np.zeros((2, 2, 2)))


class _ReadOnly:
    """A body with only read() and close(), as botocore's StreamingBody exposes."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)

    def close(self) -> None:
        self.closed = True


def test_deserializer_reads_a_read_only_body_and_closes_it() -> None:
    body = _ReadOnly(v2_dense(np.ones((3, 2), dtype=np.float32), None))
    deserializer = recordio.RecordDeserializer()
    assert deserializer.ACCEPT == ("application/x-recordio-protobuf",)
    records = deserializer.deserialize(body, "application/x-recordio-protobuf")
    assert len(records) == 3
    assert body.closed
    assert len(deserializer.deserialize(v2_dense(np.ones((1, 2)), None))) == 1
