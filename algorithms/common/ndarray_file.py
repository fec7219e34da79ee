"""MXNet 1.x NDArray list files (`mx.nd.save` / `mx.nd.load`): the built-ins' `model_algo-1`.

Layout (all little-endian), as MXNet 1.9.1 writes it (src/ndarray/ndarray.cc, dmlc serializer):
`uint64 0x112` list magic, `uint64 0` reserved, `uint64 N`, N arrays, `uint64 M` names (0 for a
list, N for a dict), then M x (`uint64 len`, UTF-8 bytes). One dense array (V2): `uint32
0xF993FAC9`, `int32 stype=0`, shape (`int32 ndim`, ndim x `int64`), context (`int32 dev_type=1`
cpu, `int32 dev_id=0`), `int32 type_flag`, then the C-order data. An ndim of 0 ends the array.

Reading also takes the V1 (`0xF993FAC8`, no stype) and pre-V1 (no magic: `uint32 ndim` then
`uint32` dims) array headers, and V3 (`0xF993FACA`, numpy-shape semantics, where ndim -1 means
"no array" and ndim 0 a scalar). Sparse arrays (stype 1/2) are refused with a clear error.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA

# mshadow type flags (3rdparty/mshadow/mshadow/base.h). 12 (bfloat16) has no numpy type.
_TYPE_FLAGS: dict[int, np.dtype[Any]] = {
    0: np.dtype("<f4"),
    1: np.dtype("<f8"),
    2: np.dtype("<f2"),
    3: np.dtype("u1"),
    4: np.dtype("<i4"),
    5: np.dtype("i1"),
    6: np.dtype("<i8"),
    7: np.dtype("?"),
    8: np.dtype("<i2"),
    9: np.dtype("<u2"),
    10: np.dtype("<u4"),
    11: np.dtype("<u8"),
}
_FLAG_OF_KIND = {(dtype.kind, dtype.itemsize): flag for flag, dtype in _TYPE_FLAGS.items()}
_CPU_CONTEXT = struct.pack("<ii", 1, 0)  # Context: dev_type 1 (cpu), dev_id 0


class NDArrayFileError(ValueError):
    """A file that is not an MXNet NDArray list, or holds what we cannot represent."""


def _type_flag(dtype: np.dtype[Any]) -> int:
    flag = _FLAG_OF_KIND.get((dtype.kind, dtype.itemsize))
    if flag is None:
        raise NDArrayFileError(f"MXNet has no NDArray type for numpy dtype {dtype}")
    return flag


def _encode_array(array: np.ndarray) -> bytes:
    if array.ndim == 0:
        raise NDArrayFileError("MXNet 1.x NDArray files cannot hold a 0-d array; reshape to (1,)")
    flag = _type_flag(array.dtype)
    little = np.ascontiguousarray(array, dtype=_TYPE_FLAGS[flag])
    header = struct.pack("<Iii", V2_MAGIC, 0, array.ndim)
    header += struct.pack(f"<{array.ndim}q", *array.shape)
    return header + _CPU_CONTEXT + struct.pack("<i", flag) + little.tobytes()


def dumps(arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> bytes:
    """The bytes `mx.nd.save` writes for a list, or a dict (names kept in insertion order)."""
    if isinstance(arrays, Mapping):
        names = [str(name) for name in arrays]
        values = [np.asarray(array) for array in arrays.values()]
    else:
        names = []
        values = [np.asarray(array) for array in arrays]
    parts = [struct.pack("<QQQ", LIST_MAGIC, 0, len(values))]
    parts.extend(_encode_array(array) for array in values)
    parts.append(struct.pack("<Q", len(names)))
    for name in names:
        encoded = name.encode("utf-8")
        parts.append(struct.pack("<Q", len(encoded)) + encoded)
    return b"".join(parts)


def save(
    path_or_file: str | Path | IO[bytes], arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray]
) -> None:
    """Write `arrays` (a list, or a dict of named arrays) as `mx.nd.save` does."""
    data = dumps(arrays)
    if isinstance(path_or_file, (str, Path)):
        Path(path_or_file).write_bytes(data)
    else:
        path_or_file.write(data)


class _Cursor:
    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name
        self.pos = 0

    def take(self, count: int, what: str) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise NDArrayFileError(
                f"{self.name}: truncated NDArray file: {what} needs {count} byte(s) at byte "
                f"offset {self.pos}, but the file has {len(self.data)} bytes"
            )
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))


def _decode_array(cursor: _Cursor, index: int) -> np.ndarray:
    start = cursor.pos
    (first,) = cursor.unpack("<I", f"array {index} header")
    numpy_shape = first == V3_MAGIC
    if first in (V2_MAGIC, V3_MAGIC):
        (stype,) = cursor.unpack("<i", f"array {index} storage type")
        if stype != 0:
            raise NDArrayFileError(
                f"{cursor.name}: array {index} at byte offset {start} is sparse (storage type "
                f"{stype}); only dense arrays are supported"
            )
        (ndim,) = cursor.unpack("<i", f"array {index} ndim")
        shape = cursor.unpack(f"<{max(ndim, 0)}q", f"array {index} shape")
    elif first == V1_MAGIC:
        (ndim,) = cursor.unpack("<i", f"array {index} ndim")
        shape = cursor.unpack(f"<{max(ndim, 0)}q", f"array {index} shape")
    else:
        # Before V1 there was no magic: the word is ndim, and dims are uint32.
        ndim = first
        if ndim > 32:
            raise NDArrayFileError(
                f"{cursor.name}: array {index} at byte offset {start} starts with 0x{first:08x}, "
                "which is neither an NDArray magic nor a plausible ndim"
            )
        shape = cursor.unpack(f"<{ndim}I", f"array {index} shape")
    # Legacy shape semantics: ndim 0 is "no array" and nothing follows; in V3 that is ndim -1.
    if (ndim == 0 and not numpy_shape) or ndim < 0:
        return np.zeros((0,), dtype=np.float32)
    cursor.unpack("<ii", f"array {index} context")
    (flag,) = cursor.unpack("<i", f"array {index} type flag")
    dtype = _TYPE_FLAGS.get(flag)
    if dtype is None:
        raise NDArrayFileError(
            f"{cursor.name}: array {index} has type flag {flag}, which numpy cannot represent"
        )
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    data = cursor.take(count * dtype.itemsize, f"array {index} data")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def loads(data: bytes, name: str = "<bytes>") -> list[np.ndarray] | dict[str, np.ndarray]:
    """Parse NDArray list file bytes: a list, or a dict when the file names its arrays."""
    cursor = _Cursor(data, name)
    magic, _reserved = cursor.unpack("<QQ", "the header")
    if magic != LIST_MAGIC:
        raise NDArrayFileError(
            f"{name}: not an MXNet NDArray file (magic 0x{magic:x}, expected 0x{LIST_MAGIC:x})"
        )
    (count,) = cursor.unpack("<Q", "the array count")
    arrays = [_decode_array(cursor, index) for index in range(count)]
    (name_count,) = cursor.unpack("<Q", "the name count")
    if name_count == 0:
        return arrays
    if name_count != count:
        raise NDArrayFileError(f"{name}: {count} arrays but {name_count} names")
    names = []
    for index in range(name_count):
        (length,) = cursor.unpack("<Q", f"name {index} length")
        names.append(cursor.take(length, f"name {index}").decode("utf-8"))
    return dict(zip(names, arrays, strict=True))


def load(path_or_file: str | Path | IO[bytes]) -> list[np.ndarray] | dict[str, np.ndarray]:
    """Read an NDArray list file (what `mx.nd.load` returns, as numpy arrays)."""
    if isinstance(path_or_file, (str, Path)):
        return loads(Path(path_or_file).read_bytes(), str(path_or_file))
    data = path_or_file.read()
    return loads(data, getattr(path_or_file, "name", "<stream>"))


def load_list(path_or_file: str | Path | IO[bytes]) -> list[np.ndarray]:
    """`load` for a file that must hold an unnamed list (the k-means model)."""
    loaded = load(path_or_file)
    if not isinstance(loaded, list):
        raise NDArrayFileError(f"expected an unnamed NDArray list, found names {list(loaded)}")
    return loaded


def load_named(path_or_file: str | Path | IO[bytes]) -> dict[str, np.ndarray]:
    """`load` for a file that must hold named arrays (the PCA model: s, v, mean)."""
    loaded = load(path_or_file)
    if not isinstance(loaded, dict):
        raise NDArrayFileError(f"expected named NDArrays, found an unnamed list of {len(loaded)}")
    return loaded


__all__ = ["NDArrayFileError", "dumps", "load", "load_list", "load_named", "loads", "save"]
