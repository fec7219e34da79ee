"""RecordIO-protobuf without the SageMaker SDK v2: writers, readers and a serializer pair.

SDK v3 dropped `sagemaker.amazon.common`, the home of `write_numpy_to_dense_tensor`,
`read_records` and the Record serializers that the built-in algorithms' data needs. These are the
same functions, writing the same bytes (tests/sdk/test_recordio_client.py compares them with SDK
v2's), on the encoder the algorithms' containers use (algorithms/common/recordio.py). The
serializer and deserializer have the interface of SDK v3's `sagemaker.core` serializers and
SDK v2's (`serialize(data)`, `CONTENT_TYPE`; `deserialize(stream, content_type)`, `ACCEPT`) without
importing either, so they plug into either SDK's Predictor. docs/recordio.md shows their use.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from algorithms.common import recordio, records

CONTENT_TYPE = "application/x-recordio-protobuf"

Record = records.Record
"""The `aialgs.data.Record` protobuf message (features and label maps of tensors)."""

__all__ = [
    "CONTENT_TYPE",
    "Record",
    "RecordDeserializer",
    "RecordSerializer",
    "read_recordio",
    "read_records",
    "write_numpy_to_dense_tensor",
    "write_spmatrix_to_sparse_tensor",
]


def write_numpy_to_dense_tensor(
    file: IO[bytes], array: np.ndarray, labels: np.ndarray | None = None
) -> None:
    """One Record per row of the 2-D `array` (`features["values"]`) with its label
    (`label["values"]`), as SDK v2's function of that name: float32 -> Float32Tensor,
    float64 -> Float64Tensor, integers -> Int32Tensor."""
    recordio.write_dense(file, array, labels)


def write_spmatrix_to_sparse_tensor(
    file: IO[bytes], array: Any, labels: np.ndarray | None = None
) -> None:
    """One Record per row of a SciPy sparse matrix: the row's non-zero values, their column
    indices as `keys` and the column count as `shape`, as SDK v2's function of that name."""
    if not hasattr(array, "tocsr"):
        raise TypeError("Array must be sparse")
    if len(array.shape) != 2:
        raise ValueError("Array must be a Matrix")
    rows, columns = array.shape
    tensor = _tensor_name(np.dtype(array.dtype))
    label_tensor = None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError("Labels must be a Vector")
        if labels.shape[0] != rows:
            raise ValueError(
                f"Label shape {labels.shape} not compatible with array shape {array.shape}"
            )
        label_tensor = _tensor_name(labels.dtype)
    matrix = array.tocsr()
    record = Record()
    for index in range(rows):
        record.Clear()
        start, stop = matrix.indptr[index], matrix.indptr[index + 1]
        features = getattr(record.features["values"], tensor)
        features.values.extend(matrix.data[start:stop].tolist())
        features.keys.extend(matrix.indices[start:stop].astype(np.uint64).tolist())
        if labels is not None and label_tensor is not None:
            getattr(record.label["values"], label_tensor).values.extend([labels[index].item()])
        features.shape.extend([columns])
        file.write(recordio.frame(record.SerializeToString()))


def read_recordio(file: IO[bytes]) -> Iterator[bytes]:
    """The payload of each record of a RecordIO stream (multi-part records rejoined)."""
    return recordio.iter_payloads(_readable(file))


def read_records(file: IO[bytes]) -> list[Any]:
    """Every Record of a RecordIO-protobuf stream, parsed (as SDK v2's `read_records`)."""
    return list(recordio.iter_records(_readable(file)))


class RecordSerializer:
    """A NumPy array (1-D: one row) to RecordIO-protobuf, for an endpoint's request body."""

    def __init__(self, content_type: str = CONTENT_TYPE) -> None:
        self.content_type = content_type

    @property
    def CONTENT_TYPE(self) -> str:
        return self.content_type

    def serialize(self, data: Any) -> bytes:
        array = np.asarray(data)
        if array.ndim == 1:
            array = array.reshape(1, array.shape[0])
        if array.ndim != 2:
            raise ValueError(f"Expected a 1D or 2D array, but got a {array.ndim}D array instead.")
        buffer = io.BytesIO()
        write_numpy_to_dense_tensor(buffer, array)
        return buffer.getvalue()


class RecordDeserializer:
    """An endpoint's RecordIO-protobuf response to a list of Records (the built-in algorithms'
    predictions: `record.label["projection"].float32_tensor.values`...)."""

    def __init__(self, accept: str = CONTENT_TYPE) -> None:
        self.accept = accept

    @property
    def ACCEPT(self) -> tuple[str, ...]:
        return (self.accept,)

    def deserialize(self, stream: Any, content_type: str | None = None) -> list[Any]:
        """`stream`: a botocore StreamingBody, a binary file or bytes."""
        try:
            if isinstance(stream, bytes | bytearray | memoryview):
                return read_records(io.BytesIO(bytes(stream)))
            return read_records(stream)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()


def _tensor_name(dtype: np.dtype[Any]) -> str:
    if np.issubdtype(dtype, np.integer):
        return "int32_tensor"
    if dtype == np.dtype(np.float64):
        return "float64_tensor"
    if dtype == np.dtype(np.float32):
        return "float32_tensor"
    raise ValueError(f"Unsupported dtype {dtype} on array")


class _Buffered:
    """A stream with only `read` (botocore's StreamingBody) seen through `readinto`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def readinto(self, buffer: memoryview, /) -> int:
        data: bytes = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _readable(file: Any) -> Any:
    return file if hasattr(file, "readinto") else _Buffered(file)
