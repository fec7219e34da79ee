"""algorithms.common.ndarray_file: the MXNet 1.x NDArray list format, without MXNet."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from algorithms.common import ndarray_file
from algorithms.common.ndarray_file import NDArrayFileError

# sagemaker-spec.md section 6: a k-means model of 3 centroids in 2 dimensions, verified against
# mx.nd.save of MXNet 1.9.1.
KMEANS_3X2 = (
    bytes.fromhex(
        "1201000000000000"
        "0000000000000000"
        "0100000000000000"
        "c9fa93f9"
        "00000000"
        "02000000"
        "0300000000000000"
        "0200000000000000"
        "01000000"
        "00000000"
        "00000000"
    )
    + np.arange(6, dtype="<f4").tobytes()
    + bytes(8)
)


def as_list(loaded: list[np.ndarray] | dict[str, np.ndarray]) -> list[np.ndarray]:
    assert isinstance(loaded, list)
    return loaded


def test_kmeans_list_bytes_match_the_spec() -> None:
    centroids = np.arange(6, dtype=np.float32).reshape(3, 2)
    data = ndarray_file.dumps([centroids])
    assert len(data) == 96
    assert data == KMEANS_3X2


def test_named_form_writes_names_in_insertion_order() -> None:
    data = ndarray_file.dumps(
        {
            "s": np.ones(2, np.float32),
            "v": np.ones((3, 2), np.float32),
            "mean": np.ones((1, 3), np.float32),
        }
    )
    tail = struct.pack("<Q", 3) + b"".join(
        struct.pack("<Q", len(n)) + n for n in (b"s", b"v", b"mean")
    )
    assert data.endswith(tail)
    loaded = ndarray_file.loads(data)
    assert isinstance(loaded, dict)
    assert list(loaded) == ["s", "v", "mean"]
    assert loaded["v"].shape == (3, 2)


@pytest.mark.parametrize(
    "dtype", ["float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool", "int16"]
)
def test_round_trip_every_dtype(dtype: str) -> None:
    array = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype)
    (loaded,) = as_list(ndarray_file.loads(ndarray_file.dumps([array])))
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def test_non_contiguous_and_big_endian_inputs_are_written_in_c_order_little_endian() -> None:
    array = np.arange(12, dtype=">f4").reshape(3, 4).T
    (loaded,) = as_list(ndarray_file.loads(ndarray_file.dumps([array])))
    np.testing.assert_array_equal(loaded, array)
    assert ndarray_file.dumps([array]) == ndarray_file.dumps([np.ascontiguousarray(array, "<f4")])


def test_save_and_load_paths_and_files(tmp_path: Path) -> None:
    path = tmp_path / "model_algo-1"
    ndarray_file.save(path, [np.eye(3, dtype=np.float32)])
    assert path.read_bytes()[:8] == struct.pack("<Q", 0x112)
    (loaded,) = ndarray_file.load_list(path)
    np.testing.assert_array_equal(loaded, np.eye(3))
    buffer = io.BytesIO()
    ndarray_file.save(buffer, {"x": np.zeros(2, np.float64)})
    buffer.seek(0)
    loaded_dict = ndarray_file.load_named(buffer)
    assert loaded_dict["x"].dtype == np.float64


def test_zero_sized_dimension_round_trips() -> None:
    (loaded,) = as_list(ndarray_file.loads(ndarray_file.dumps([np.zeros((0, 3), np.float32)])))
    assert loaded.shape == (0, 3)


def test_reads_v1_headers() -> None:
    array = np.arange(6, dtype="<f4").reshape(2, 3)
    record = struct.pack("<Ii2q", 0xF993FAC8, 2, 2, 3) + struct.pack("<iii", 1, 0, 0)
    data = struct.pack("<QQQ", 0x112, 0, 1) + record + array.tobytes() + struct.pack("<Q", 0)
    (loaded,) = as_list(ndarray_file.loads(data))
    np.testing.assert_array_equal(loaded, array)


def test_reads_pre_v1_headers() -> None:
    array = np.arange(4, dtype="<f8").reshape(4, 1)
    record = struct.pack("<I2I", 2, 4, 1) + struct.pack("<iii", 1, 0, 1)
    data = struct.pack("<QQQ", 0x112, 0, 1) + record + array.tobytes() + struct.pack("<Q", 0)
    (loaded,) = as_list(ndarray_file.loads(data))
    np.testing.assert_array_equal(loaded, array)


def test_reads_v3_scalar_and_none() -> None:
    scalar = struct.pack("<Iii", 0xF993FACA, 0, 0) + struct.pack("<iii", 1, 0, 0)
    scalar += np.float32(2.5).tobytes()
    none = struct.pack("<Iii", 0xF993FACA, 0, -1)
    data = struct.pack("<QQQ", 0x112, 0, 2) + scalar + none + struct.pack("<Q", 0)
    first, second = as_list(ndarray_file.loads(data))
    assert first.shape == () and float(first) == 2.5
    assert second.size == 0


def test_v2_ndim_zero_is_an_empty_array() -> None:
    data = struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<Iii", 0xF993FAC9, 0, 0)
    data += struct.pack("<Q", 0)
    (loaded,) = as_list(ndarray_file.loads(data))
    assert loaded.size == 0


def test_errors_are_clear() -> None:
    with pytest.raises(NDArrayFileError, match="not an MXNet NDArray file"):
        ndarray_file.loads(b"PK\x03\x04" + bytes(20), "model.zip")
    with pytest.raises(NDArrayFileError, match=r"truncated .* array 0 data"):
        ndarray_file.loads(KMEANS_3X2[:-20])
    with pytest.raises(NDArrayFileError, match="sparse"):
        ndarray_file.loads(
            struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<Ii", 0xF993FAC9, 2) + bytes(64)
        )
    with pytest.raises(NDArrayFileError, match="0-d"):
        ndarray_file.dumps([np.array(1.0, dtype=np.float32)])
    with pytest.raises(NDArrayFileError, match="expected named NDArrays"):
        ndarray_file.load_named(io.BytesIO(KMEANS_3X2))
    with pytest.raises(NDArrayFileError, match="expected an unnamed NDArray list"):
        ndarray_file.load_list(io.BytesIO(ndarray_file.dumps({"s": np.ones(1, np.float32)})))
    with pytest.raises(NDArrayFileError, match="no NDArray type"):
        ndarray_file.dumps([np.zeros(2, np.complex64)])
