"""The SageMaker SDK's RecordIO-protobuf helpers, with types.

Tests write and read records with the SDK's own code, not ours, so that a mistake shared by our
encoder and decoder cannot hide. The SDK ships py.typed but leaves these functions unannotated;
this module states their types once instead of an ignore at every call. It imports the SDK
inside the functions: importing it takes seconds, and most tests never need it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any, cast

import numpy as np

_Write = Callable[[IO[bytes], np.ndarray, "np.ndarray | None"], None]
# The SDK's Record protobuf messages: its generated module has no type stubs.
_Read = Callable[[IO[bytes]], list[Any]]


def write_dense_tensor(matrix: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """`matrix` (and `labels`) as RecordIO-protobuf records, as the SDK's record_set() writes."""
    from sagemaker import serializer_utils

    write = cast(_Write, serializer_utils.write_numpy_to_dense_tensor)
    buffer = io.BytesIO()
    write(buffer, matrix, labels)
    return buffer.getvalue()


def read_records(body: bytes) -> list[Any]:
    """The SDK's Record messages in a RecordIO-protobuf body (`.features`, `.label` maps)."""
    from sagemaker import serializer_utils

    read = cast(_Read, serializer_utils.read_records)
    return read(io.BytesIO(body))
