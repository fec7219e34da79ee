"""RecordIO-protobuf: the Amazon algorithms' training and inference format.

Framing (dmlc-core recordio, as the SDK writes it): per record a little-endian `uint32` magic
0xCED7230A, a `uint32` whose low 29 bits are the payload length and top 3 bits the cflag
(0 whole, 1 first part, 2 middle part, 3 last part), the payload, then zero padding to 4 bytes.
dmlc's writer splits a payload wherever the magic occurs at a 4-aligned offset and its reader
rejoins the parts with the magic put back; the SDK never splits. We read both and write cflag 0.

The payload is an `aialgs.data.Record` (see record.proto). Reading has two paths:

* the fast path: once a record is found to be a plain dense float32/float64 row (the bytes the
  SDK's `write_numpy_to_dense_tensor` writes, optionally with a scalar label), every following
  record of the same layout has the same byte length and the same bytes outside its numbers. A
  whole run of such records is viewed as one (rows, stride) byte matrix, every magic, length and
  protobuf tag byte is checked against the template in one vectorised comparison, and the numbers
  are taken with one strided copy. No Python object is made per record.
* the general path: anything else (sparse keys/shape, int32 values, multi-part records, a record
  that breaks the run) is parsed with protobuf, still batch by batch.

Errors are `RecordIOError` (a ValueError) naming the file and the byte offset.
"""

from __future__ import annotations

import io
import math
import os
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
from google.protobuf.message import DecodeError

from algorithms.common import records

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LENGTH_MASK = (1 << 29) - 1
MAX_RECORD_BYTES = _LENGTH_MASK
"""The length field has 29 bits, so a record payload must be smaller than 2**29 bytes."""

_CHUNK_BYTES = 1 << 22
"""Read granularity: big enough that the per-read Python cost vanishes, small enough to stream."""
_MAX_READ_AHEAD = 1 << 26
"""The fast path reads at most this much at once (a block of rows); bigger batches are joined."""
_GENERAL_PATH_MAX_ROWS = 4096
"""The general path hands back at most this many rows at a time, so batches stay bounded."""

# Protobuf wire tags of the fields the layouts below write (field number << 3 | wire type 2).
_TAG_FEATURES = 0x0A  # Record.features = 1
_TAG_LABEL = 0x12  # Record.label = 2
_TAG_ENTRY_KEY = 0x0A  # MapEntry.key = 1
_TAG_ENTRY_VALUE = 0x12  # MapEntry.value = 2
_TAG_TENSOR_VALUES = 0x0A  # *Tensor.values = 1 (packed)
_TENSOR_FIELD_TAG = {"float32": 0x12, "float64": 0x1A, "int32": 0x3A}  # Value.<x>_tensor = 2/3/7
_TENSOR_ITEMSIZE = {"float32": 4, "float64": 8}


class _Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class RecordIOError(ValueError):
    """Input that is not valid RecordIO-protobuf, or not what the caller asked for."""


# --- framing ------------------------------------------------------------------------------------


def _padding(length: int) -> int:
    return (-length) & 3


def frame(payload: bytes) -> bytes:
    """One RecordIO record (cflag 0) around `payload`, padded to 4 bytes, as the SDK writes it."""
    if len(payload) > MAX_RECORD_BYTES:
        raise RecordIOError(
            f"a RecordIO record must be smaller than 2**29 bytes, not {len(payload)}"
        )
    return struct.pack("<II", MAGIC, len(payload)) + payload + b"\0" * _padding(len(payload))


# --- byte layouts of simple records -------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _tensor_entry_prefix(map_tag: int, key: str, tensor: str, data_len: int) -> bytes:
    """The bytes of `map[key] = Value{<tensor>: {values: <data_len bytes>}}` before the numbers.

    This is how protobuf serialises one map entry whose tensor has only packed `values` (no keys,
    no shape): the numbers are the entry's last bytes, so an entry is this prefix + the data.
    """
    key_bytes = key.encode()
    tensor_body = 1 + len(_varint(data_len)) + data_len
    value_body = 1 + len(_varint(tensor_body)) + tensor_body
    entry_body = 1 + len(_varint(len(key_bytes))) + len(key_bytes)
    entry_body += 1 + len(_varint(value_body)) + value_body
    return b"".join(
        [
            bytes([map_tag]),
            _varint(entry_body),
            bytes([_TAG_ENTRY_KEY]),
            _varint(len(key_bytes)),
            key_bytes,
            bytes([_TAG_ENTRY_VALUE]),
            _varint(value_body),
            bytes([_TENSOR_FIELD_TAG[tensor]]),
            _varint(tensor_body),
            bytes([_TAG_TENSOR_VALUES]),
            _varint(data_len),
        ]
    )


@dataclass(frozen=True)
class _Layout:
    """A framed record made of tensor entries: fixed bytes with holes where the numbers go.

    `template` is the whole framed record (magic, length word, payload, padding) with zeros in
    the holes; `holes` are (offset, length) of each entry's numbers within it, in entry order.
    """

    template: bytes
    holes: tuple[tuple[int, int], ...]

    @property
    def stride(self) -> int:
        return len(self.template)

    def fixed_ranges(self) -> list[tuple[int, int]]:
        ranges, start = [], 0
        for offset, length in self.holes:
            if offset > start:
                ranges.append((start, offset))
            start = offset + length
        if start < self.stride:
            ranges.append((start, self.stride))
        return ranges


def _layout(entries: Sequence[tuple[int, str, str, int]]) -> _Layout:
    """Layout of a record holding `entries` = (map tag, key, tensor type, data bytes) in order."""
    parts: list[bytes] = []
    holes: list[tuple[int, int]] = []
    offset = 8
    for map_tag, key, tensor, data_len in entries:
        prefix = _tensor_entry_prefix(map_tag, key, tensor, data_len)
        parts.append(prefix)
        parts.append(bytes(data_len))
        holes.append((offset + len(prefix), data_len))
        offset += len(prefix) + data_len
    payload = b"".join(parts)
    return _Layout(frame(payload), tuple(holes))


# --- writing ------------------------------------------------------------------------------------


def _sdk_tensor_type(dtype: np.dtype[Any]) -> str:
    """The SDK's `_resolve_type`: int64 -> Int32Tensor, float64 -> Float64, float32 -> Float32.

    int32 is accepted too (the SDK refuses it, but the meaning is unambiguous).
    """
    if dtype == np.dtype(np.int64) or dtype == np.dtype(np.int32):
        return "int32"
    if dtype == np.dtype(np.float64):
        return "float64"
    if dtype == np.dtype(np.float32):
        return "float32"
    raise ValueError(f"Unsupported dtype {dtype} on array")


def _set_tensor(value: Any, tensor: str, values: Any) -> None:
    getattr(value, f"{tensor}_tensor").values.extend(values)


def _encode_dense_general(
    matrix: np.ndarray, labels: np.ndarray | None, tensor: str, label_tensor: str | None
) -> bytes:
    """Record by record through protobuf: the SDK's own method, for what the fast path skips."""
    out = io.BytesIO()
    record = records.Record()
    for index, row in enumerate(matrix):
        record.Clear()
        _set_tensor(record.features["values"], tensor, row.tolist())
        if labels is not None and label_tensor is not None:
            _set_tensor(record.label["values"], label_tensor, [labels[index].item()])
        out.write(frame(record.SerializeToString()))
    return out.getvalue()


def _fill_layout(layout: _Layout, arrays: Sequence[np.ndarray]) -> bytes:
    """Framed records, one per row: the template broadcast, then each array copied in its hole."""
    rows = arrays[0].shape[0]
    out = np.empty((rows, layout.stride), dtype=np.uint8)
    template = np.frombuffer(layout.template, dtype=np.uint8)
    for start, end in layout.fixed_ranges():
        out[:, start:end] = template[start:end]
    for (offset, length), array in zip(layout.holes, arrays, strict=True):
        little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        out[:, offset : offset + length] = little.reshape(rows, -1).view(np.uint8)
    return out.tobytes()


def encode_dense(matrix: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """RecordIO-protobuf for a 2-D array, byte-identical to the SDK's `write_numpy_to_dense_tensor`.

    One Record per row with `features["values"]` holding the row (and `label["values"]` the row's
    label as one scalar), the tensor type from the dtype as the SDK maps it. float32/float64 rows
    with float labels (or none) are written by template + strided copy; int rows or int labels
    (varint-encoded, so of varying length) go through protobuf.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError("Array must be a Matrix")
    tensor = _sdk_tensor_type(matrix.dtype)
    label_tensor = None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError("Labels must be a Vector")
        if labels.shape[0] != matrix.shape[0]:
            raise ValueError(
                f"Label shape {labels.shape} not compatible with array shape {matrix.shape}"
            )
        label_tensor = _sdk_tensor_type(labels.dtype)
    rows, width = matrix.shape
    if rows == 0:
        return b""
    if width == 0 or tensor == "int32" or label_tensor == "int32":
        return _encode_dense_general(matrix, labels, tensor, label_tensor)
    entries = [(_TAG_FEATURES, "values", tensor, width * _TENSOR_ITEMSIZE[tensor])]
    arrays = [matrix]
    if labels is not None and label_tensor is not None:
        entries.append((_TAG_LABEL, "values", label_tensor, _TENSOR_ITEMSIZE[label_tensor]))
        arrays.append(labels)
    return _fill_layout(_layout(entries), arrays)


def write_dense(
    file: IO[bytes], matrix: np.ndarray, labels: np.ndarray | None = None, chunk_rows: int = 65536
) -> None:
    """`encode_dense` into a binary file, a chunk of rows at a time (bounded extra memory)."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError("Array must be a Matrix")
    for start in range(0, matrix.shape[0], chunk_rows):
        stop = start + chunk_rows
        file.write(encode_dense(matrix[start:stop], None if labels is None else labels[start:stop]))


def encode_label_records(columns: Mapping[str, np.ndarray]) -> bytes:
    """Inference responses: one Record per row, `label[name].float32_tensor.values = row`.

    Each column is (n, m) (or (n,), read as m = 1) and is written as float32. `features` stays
    empty, as in the real responses. The entries are written in sorted key order, as the real
    service does (its k-means record has `closest_cluster` before `distance_to_cluster`).
    """
    if not columns:
        raise ValueError("encode_label_records needs at least one column")
    names = sorted(columns)
    arrays = []
    for name in names:
        array = np.asarray(columns[name], dtype=np.float32)
        arrays.append(array.reshape(array.shape[0], -1))
    rows = arrays[0].shape[0]
    if any(array.shape[0] != rows for array in arrays):
        raise ValueError("every label column must have the same number of rows")
    if rows == 0:
        return b""
    if any(array.shape[1] == 0 for array in arrays):
        record = records.Record()
        out = io.BytesIO()
        for index in range(rows):
            record.Clear()
            for name, array in zip(names, arrays, strict=True):
                record.label[name].float32_tensor.values.extend(array[index].tolist())
            out.write(frame(record.SerializeToString()))
        return out.getvalue()
    entries = [
        (_TAG_LABEL, name, "float32", 4 * array.shape[1])
        for name, array in zip(names, arrays, strict=True)
    ]
    return _fill_layout(_layout(entries), arrays)


# --- reading: framing ---------------------------------------------------------------------------


class _Reader:
    """Buffered reader of one RecordIO stream that knows each byte's offset in its file.

    The buffer is a bytearray that is never resized (only replaced when it must grow), so numpy
    views over it stay valid while we compare and copy out of them.
    """

    def __init__(self, stream: _Readable | None, name: str, data: bytes = b"") -> None:
        self.stream = stream
        self.name = name
        self.buf: bytearray | bytes = bytearray(_CHUNK_BYTES) if stream is not None else data
        self.base = 0  # file offset of buf[0]
        self.pos = 0
        self.end = 0 if stream is not None else len(data)
        self.eof = stream is None

    @classmethod
    def over_bytes(cls, data: bytes, name: str) -> _Reader:
        """A reader over bytes already in memory: no copy, no reads."""
        return cls(None, name, data)

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def available(self) -> int:
        return self.end - self.pos

    def fill(self, need: int) -> int:
        """Make at least `need` bytes available from `pos` unless the stream ends; say how many."""
        if self.end - self.pos >= need or self.eof:
            return self.end - self.pos
        assert self.stream is not None and isinstance(self.buf, bytearray)
        tail = self.end - self.pos
        if len(self.buf) < need:
            grown = bytearray(max(need, 2 * len(self.buf)))
            grown[:tail] = self.buf[self.pos : self.end]
            self.buf = grown
        elif self.pos:
            self.buf[:tail] = self.buf[self.pos : self.end]
        self.base += self.pos
        self.pos, self.end = 0, tail
        view = memoryview(self.buf)
        try:
            while self.end < len(self.buf):
                count = self.stream.readinto(view[self.end :])
                if not count:
                    self.eof = True
                    break
                self.end += count
                if self.end - self.pos >= need and self.end >= _CHUNK_BYTES // 2:
                    break
        finally:
            view.release()
        return self.end - self.pos

    def error(self, message: str, offset: int | None = None) -> RecordIOError:
        where = self.offset if offset is None else offset
        return RecordIOError(f"{self.name}, byte offset {where}: {message}")

    def next_payload(self) -> tuple[int, bytes, bool] | None:
        """The next record: (offset, payload, was multi-part), or None at the end of the stream."""
        start = self.offset
        parts: list[bytes] = []
        while True:
            have = self.fill(8)
            if have == 0 and not parts:
                return None
            if have < 8:
                raise self.error(
                    f"truncated RecordIO header: {have} byte(s) where a record needs 8"
                )
            magic, word = struct.unpack_from("<II", self.buf, self.pos)
            if magic != MAGIC:
                raise self.error(
                    f"bad RecordIO magic 0x{magic:08x} (expected 0x{MAGIC:08x}; is this really "
                    "application/x-recordio-protobuf?)"
                )
            length, cflag = word & _LENGTH_MASK, word >> 29
            padded = length + _padding(length)
            if self.fill(8 + padded) < 8 + padded:
                raise self.error(
                    f"truncated RecordIO record: the header announces {length} bytes but only "
                    f"{max(0, self.available() - 8)} follow"
                )
            data = bytes(self.buf[self.pos + 8 : self.pos + 8 + length])
            if cflag > 3:
                raise self.error(f"invalid RecordIO cflag {cflag}")
            if (cflag in (0, 1)) != (not parts):
                raise self.error(f"RecordIO multi-part record out of sequence (cflag {cflag})")
            self.pos += 8 + padded
            parts.append(data)
            if cflag in (0, 3):
                # dmlc split the payload where the magic stood; put it back between the parts.
                return start, _MAGIC_BYTES.join(parts), len(parts) > 1


def iter_payloads(stream: _Readable, name: str = "<stream>") -> Iterator[bytes]:
    """The record payloads of a RecordIO stream, multi-part records rejoined."""
    reader = _Reader(stream, name)
    while (item := reader.next_payload()) is not None:
        yield item[1]


def iter_records(stream: _Readable, name: str = "<stream>") -> Iterator[Any]:
    """The `aialgs.data.Record` messages of a RecordIO stream."""
    reader = _Reader(stream, name)
    while (item := reader.next_payload()) is not None:
        offset, payload, _ = item
        yield _parse(payload, reader, offset)


def _parse(payload: bytes, reader: _Reader, offset: int) -> Any:
    record = records.Record()
    try:
        record.ParseFromString(payload)
    except DecodeError as exc:
        raise reader.error(f"record is not a valid aialgs.data.Record ({exc})", offset) from exc
    return record


# --- reading: records to rows -------------------------------------------------------------------


@dataclass(frozen=True)
class _DenseRun:
    """The fast path's template: the layout of a plain dense record, and its numbers' dtype."""

    layout: _Layout
    dtype: np.dtype[Any]
    width: int


def _tensor_of(value: Any) -> tuple[str, Any] | None:
    kind = value.WhichOneof("value")
    if kind is None or kind == "bytes":
        return None
    return kind.removesuffix("_tensor"), getattr(value, kind)


def _dense_run_for(record: Any, payload: bytes) -> _DenseRun | None:
    """The template for records laid out like this one, if it is a plain dense float row.

    Plain means: `features` is only "values" with float32/float64 values and no keys or shape;
    `label` is empty or only "values" (dense, any tensor type); no uid/metadata/configuration.
    The template is accepted only if our layout of those entries reproduces the payload exactly,
    so records from a writer that orders or encodes fields differently take the general path.
    """
    if len(record.features) != 1 or "values" not in record.features:
        return None
    if record.HasField("uid") or record.HasField("metadata") or record.HasField("configuration"):
        return None
    found = _tensor_of(record.features["values"])
    if found is None or found[0] not in _TENSOR_ITEMSIZE:
        return None
    tensor_type, tensor = found
    if len(tensor.keys) or len(tensor.shape) or not len(tensor.values):
        return None
    width = len(tensor.values)
    entries = [(_TAG_FEATURES, "values", tensor_type, width * _TENSOR_ITEMSIZE[tensor_type])]
    if len(record.label):
        if len(record.label) != 1 or "values" not in record.label:
            return None
        label = _tensor_of(record.label["values"])
        if label is None or len(label[1].keys) or len(label[1].shape) or not len(label[1].values):
            return None
        label_type, label_tensor = label
        if label_type == "int32":
            data_len = len(b"".join(_varint(v & 0xFFFFFFFFFFFFFFFF) for v in label_tensor.values))
        else:
            data_len = len(label_tensor.values) * _TENSOR_ITEMSIZE[label_type]
        entries.append((_TAG_LABEL, "values", label_type, data_len))
    layout = _layout(entries)
    if layout.stride != 8 + len(payload) + _padding(len(payload)):
        return None
    framed = np.frombuffer(frame(payload), dtype=np.uint8)
    template = np.frombuffer(layout.template, dtype=np.uint8)
    for start, end in layout.fixed_ranges():
        if not np.array_equal(framed[start:end], template[start:end]):
            return None
    dtype = np.dtype("<f4") if tensor_type == "float32" else np.dtype("<f8")
    return _DenseRun(layout, dtype, width)


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _declared_width(
    tensor: Any, reader: _Reader, offset: int, check: Callable[[int, str], None] | None
) -> int:
    """A sparse record's dense width from its ``shape``, vetted before anything is allocated.

    The product is taken in Python integers (a uint64 product would wrap); a width that is not
    the expected one, or whose dense float32 row alone would not fit in this machine's memory,
    is the record's fault and is reported with its shape.
    """
    shape = [int(d) for d in tensor.shape]
    dim = math.prod(shape)
    if check is not None:
        check(dim, f"shape {shape}, ")
    memory = _physical_memory()
    if memory is not None and dim * 4 > memory:
        raise reader.error(
            f"sparse record has shape {shape}: a dense row of {dim} float32 features needs "
            f"{dim * 4 / 2**30:.3g} GiB, more than this machine's {memory / 2**30:.3g} GiB "
            "of memory",
            offset,
        )
    return dim


def _row_of(
    record: Any,
    reader: _Reader,
    offset: int,
    width: int | None,
    check: Callable[[int, str], None] | None = None,
) -> np.ndarray:
    """A record's features as one float32 row (dense, or sparse keys/shape scattered).

    ``check(width, detail)`` vets a sparse record's declared width before its row is allocated.
    """
    if "values" not in record.features:
        names = sorted(record.features) or ["none"]
        raise reader.error(
            f"record has no features['values'] (features: {', '.join(names)})", offset
        )
    found = _tensor_of(record.features["values"])
    if found is None:
        raise reader.error("features['values'] holds no numeric tensor", offset)
    _, tensor = found
    values = np.asarray(tensor.values, dtype=np.float32)
    if not len(tensor.keys):
        if len(tensor.shape) and not len(values):
            # The SDK's sparse writer gives an all-zero row no keys and no values, only a shape.
            return np.zeros(_declared_width(tensor, reader, offset, check), np.float32)
        return values
    keys = np.asarray(tensor.keys, dtype=np.uint64)
    if len(keys) != len(values):
        raise reader.error(f"sparse record has {len(keys)} keys but {len(values)} values", offset)
    if len(tensor.shape):
        dim = _declared_width(tensor, reader, offset, check)
    elif width is not None:
        dim = width
    else:
        raise reader.error("sparse record has no shape and feature_dim is not known", offset)
    if len(keys) and int(keys.max()) >= dim:
        raise reader.error(
            f"sparse record has key {int(keys.max())}, outside its dimension {dim}", offset
        )
    row = np.zeros(dim, dtype=np.float32)
    row[keys.astype(np.intp)] = values
    return row


class _RowSource:
    """Rows of float32 from a sequence of RecordIO streams, in blocks of at most `max_rows`."""

    def __init__(self, feature_dim: int | None) -> None:
        self.width = feature_dim
        self.fixed_by_caller = feature_dim is not None

    def _check_width(self, row_width: int, reader: _Reader, offset: int, detail: str = "") -> None:
        if self.width is None:
            self.width = row_width
        elif row_width != self.width:
            expected = (
                f"feature_dim is {self.width}"
                if self.fixed_by_caller
                else f"the first record had {self.width}"
            )
            raise reader.error(f"record has {detail}{row_width} features, but {expected}", offset)

    def _expect(self, reader: _Reader, offset: int) -> Callable[[int, str], None] | None:
        """A sparse record's width must match before its row is allocated."""
        if self.width is None:
            return None
        return lambda width, detail: self._check_width(width, reader, offset, detail)

    def blocks(self, reader: _Reader, max_rows: int) -> Iterator[np.ndarray]:
        run: _DenseRun | None = None
        while True:
            if run is not None:
                block = self._fast(reader, run, max_rows)
                if block is not None:
                    yield block
                    continue
                run = None
            rows: list[np.ndarray] = []
            while len(rows) < min(max_rows, _GENERAL_PATH_MAX_ROWS) and run is None:
                item = reader.next_payload()
                if item is None:
                    break
                offset, payload, multipart = item
                record = _parse(payload, reader, offset)
                row = _row_of(record, reader, offset, self.width, self._expect(reader, offset))
                self._check_width(len(row), reader, offset)
                rows.append(row)
                if not multipart:
                    run = _dense_run_for(record, payload)
            if not rows:
                return
            yield np.stack(rows)

    @staticmethod
    def _fast(reader: _Reader, run: _DenseRun, max_rows: int) -> np.ndarray | None:
        """As many rows as match `run` from the reader's position (up to max_rows), or None."""
        stride = run.layout.stride
        # Read ahead at most _MAX_READ_AHEAD, however many rows were asked for.
        want = min(stride * max_rows, max(_MAX_READ_AHEAD, stride))
        count = min(max_rows, reader.fill(want) // stride)
        if count == 0:
            return None
        matrix = np.frombuffer(reader.buf, dtype=np.uint8, count=count * stride, offset=reader.pos)
        matrix = matrix.reshape(count, stride)
        template = np.frombuffer(run.layout.template, dtype=np.uint8)
        good = np.ones(count, dtype=bool)
        for start, end in run.layout.fixed_ranges():
            good &= (matrix[:, start:end] == template[start:end]).all(axis=1)
        if not good.all():
            count = int(np.argmin(good))
            if count == 0:
                return None
        offset, _ = run.layout.holes[0]
        numbers: np.ndarray = np.ndarray(
            (count, run.width),
            dtype=run.dtype,
            buffer=reader.buf,
            offset=reader.pos + offset,
            strides=(stride, run.dtype.itemsize),
        )
        block = numbers.astype(np.float32)  # a copy: the buffer is reused for the next read
        del numbers, matrix
        reader.pos += count * stride
        return block


def rebatch(blocks: Iterator[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """Exactly `batch_size` rows per batch (the last may be shorter); blocks pass through whole."""
    pending: list[np.ndarray] = []
    have = 0
    for block in blocks:
        if not pending and block.shape[0] == batch_size:
            yield block
            continue
        pending.append(block)
        have += block.shape[0]
        while have >= batch_size:
            joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield joined[:batch_size]
            rest = joined[batch_size:]
            pending = [rest] if rest.shape[0] else []
            have = rest.shape[0]
    if have:
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]


def iter_dense_batches(
    paths: Sequence[Path | str], batch_size: int, feature_dim: int | None
) -> Iterator[np.ndarray]:
    """float32 (rows, feature_dim) mini-batches from RecordIO-protobuf files, streamed in order.

    Every batch has `batch_size` rows except the last; batches run across file boundaries.
    Sparse records are scattered into dense rows. With `feature_dim` None the first record fixes
    the width. Each yielded array is new (safe to keep). Raises RecordIOError.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    source = _RowSource(feature_dim)

    def blocks() -> Iterator[np.ndarray]:
        for path in paths:
            with open(path, "rb", buffering=0) as stream:
                yield from source.blocks(_Reader(stream, str(path)), batch_size)

    yield from rebatch(blocks(), batch_size)


def decode_matrix(payload: bytes, feature_dim: int | None) -> np.ndarray:
    """An inference request body (RecordIO-protobuf, dense or sparse) as float32 (n, d).

    An empty body gives (0, feature_dim or 0). A row whose width is not feature_dim raises
    RecordIOError saying which record and what width it had.
    """
    source = _RowSource(feature_dim)
    reader = _Reader.over_bytes(payload, "request body")
    blocks = list(source.blocks(reader, 65536))
    if not blocks:
        return np.zeros((0, feature_dim or 0), dtype=np.float32)
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
