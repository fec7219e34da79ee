"""algorithms.common.recordio: framing, the fast and general decoding paths, errors."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from algorithms.common import recordio, records
from algorithms.common.recordio import RecordIOError

MAGIC = struct.pack("<I", 0xCED7230A)


def dmlc_frames(payload: bytes) -> bytes:
    """What dmlc-core's RecordIOWriter writes: split where the magic sits at a 4-aligned offset.

    Parts before a split get cflag 1 (first) or 2 (middle), the last part cflag 3 (or 0 when
    nothing was split); the magic itself is dropped and the reader puts it back.
    """
    out = bytearray()
    start = 0
    cflag_next = 1
    for index in range(0, len(payload) - 3, 4):
        if payload[index : index + 4] == MAGIC:
            part = payload[start:index]
            out += MAGIC + struct.pack("<I", (cflag_next << 29) | len(part)) + part
            cflag_next = 2
            start = index + 4
    last = payload[start:]
    cflag = 0 if cflag_next == 1 else 3
    out += MAGIC + struct.pack("<I", (cflag << 29) | len(last)) + last + bytes(-len(last) & 3)
    return bytes(out)


def write(path: Path, *chunks: bytes) -> Path:
    path.write_bytes(b"".join(chunks))
    return path


def read_all(paths: list[Path], batch_size: int = 7, feature_dim: int | None = None) -> np.ndarray:
    batches = list(recordio.iter_dense_batches(paths, batch_size, feature_dim))
    for batch in batches[:-1]:
        assert batch.shape[0] == batch_size
    assert all(batch.dtype == np.float32 for batch in batches)
    return np.concatenate(batches)


def sparse_record(keys: list[int], values: list[float], shape: list[int] | None) -> bytes:
    record = records.Record()
    tensor = record.features["values"].float32_tensor
    tensor.values.extend(values)
    tensor.keys.extend(keys)
    if shape is not None:
        tensor.shape.extend(shape)
    return recordio.frame(record.SerializeToString())


# --- bytes ---------------------------------------------------------------------------------------


def test_dense_float32_row_bytes_match_the_spec() -> None:
    # sagemaker-spec.md section 5, VERIFIED bytes of the row [1.0, 2.0].
    expected = bytes.fromhex("0a23d7ce180000000a160a0676616c756573120c120a0a080000803f00000040")
    assert recordio.encode_dense(np.array([[1.0, 2.0]], dtype=np.float32)) == expected


def test_kmeans_response_record_bytes_match_the_spec() -> None:
    payload = bytes.fromhex(
        "121b0a0f636c6f736573745f636c7573746572120812060a0400000040"
        "121f0a1364697374616e63655f746f5f636c7573746572120812060a040000803e"
    )
    body = recordio.encode_label_records(
        {"distance_to_cluster": np.array([[0.25]]), "closest_cluster": np.array([2.0])}
    )
    assert body == recordio.frame(payload)
    assert len(body) % 4 == 0 and body.endswith(b"\0\0")


def test_frame_pads_to_four_bytes_with_zeros() -> None:
    for length in range(9):
        framed = recordio.frame(b"\x01" * length)
        assert len(framed) % 4 == 0
        assert framed[:8] == MAGIC + struct.pack("<I", length)
        assert framed[8 + length :] == bytes(len(framed) - 8 - length)


def test_encode_dense_refuses_what_the_sdk_refuses() -> None:
    with pytest.raises(ValueError, match="Matrix"):
        recordio.encode_dense(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="Unsupported dtype"):
        recordio.encode_dense(np.zeros((2, 2), np.float16))
    with pytest.raises(ValueError, match="Vector"):
        recordio.encode_dense(np.zeros((2, 2), np.float32), np.zeros((2, 1), np.float32))
    with pytest.raises(ValueError, match="not compatible"):
        recordio.encode_dense(np.zeros((2, 2), np.float32), np.zeros(3, np.float32))


def test_write_dense_streams_the_same_bytes() -> None:
    matrix = np.random.default_rng(0).normal(size=(1000, 3)).astype(np.float32)
    labels = np.arange(1000, dtype=np.float64)
    buffer = io.BytesIO()
    recordio.write_dense(buffer, matrix, labels, chunk_rows=97)
    assert buffer.getvalue() == recordio.encode_dense(matrix, labels)


# --- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("label_dtype", [None, np.float32, np.float64, np.int64])
def test_round_trip_every_tensor_type(
    tmp_path: Path, dtype: type, label_dtype: type | None
) -> None:
    rng = np.random.default_rng(1)
    matrix: np.ndarray = (rng.normal(size=(50, 5)) * 1000).astype(dtype)
    labels: np.ndarray | None = (
        None if label_dtype is None else (rng.normal(size=50) * 300).astype(label_dtype)
    )
    path = write(tmp_path / "data.pbr", recordio.encode_dense(matrix, labels))
    np.testing.assert_array_equal(read_all([path]), matrix.astype(np.float32))
    np.testing.assert_array_equal(
        recordio.decode_matrix(path.read_bytes(), 5), matrix.astype(np.float32)
    )
    payloads = list(recordio.iter_payloads(io.BytesIO(path.read_bytes())))
    assert len(payloads) == 50


def test_batches_run_across_files_and_are_new_arrays(tmp_path: Path) -> None:
    matrix = np.arange(300, dtype=np.float32).reshape(100, 3)
    paths = [
        write(tmp_path / "a.pbr", recordio.encode_dense(matrix[:33])),
        write(tmp_path / "b.pbr", recordio.encode_dense(matrix[33:34])),
        write(tmp_path / "c.pbr", b""),
        write(tmp_path / "d.pbr", recordio.encode_dense(matrix[34:])),
    ]
    batches = list(recordio.iter_dense_batches(paths, 10, 3))
    assert [batch.shape[0] for batch in batches] == [10] * 10
    np.testing.assert_array_equal(np.concatenate(batches), matrix)
    batches[0][:] = -1  # writing one batch must not touch another
    assert batches[1].min() >= 0


def test_small_read_buffers_cross_record_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 64-byte buffer and read-ahead force every record and run to straddle reads, and the
    # one big record to grow the buffer.
    monkeypatch.setattr(recordio, "_CHUNK_BYTES", 64)
    monkeypatch.setattr(recordio, "_MAX_READ_AHEAD", 64)
    rng = np.random.default_rng(2)
    small = rng.normal(size=(40, 7)).astype(np.float32)
    big = rng.normal(size=(1, 7)).astype(np.float32)
    path = write(
        tmp_path / "x.pbr",
        recordio.encode_dense(small[:20]),
        sparse_record([0, 6], [1.0, 2.0], [7]),
        recordio.encode_dense(small[20:]),
        dmlc_frames(recordio.encode_dense(big)[8:]),
    )
    expected = np.concatenate([small[:20], [[1, 0, 0, 0, 0, 0, 2]], small[20:], big])
    for batch_size in (1, 3, 64):
        np.testing.assert_array_equal(read_all([path], batch_size), expected)


def test_mixed_file_switches_between_fast_and_general_paths(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    dense32 = rng.normal(size=(25, 4)).astype(np.float32)
    dense64 = rng.normal(size=(5, 4))
    ints = rng.integers(-5, 5, size=(5, 4))
    path = write(
        tmp_path / "mixed.pbr",
        recordio.encode_dense(dense32[:10]),
        sparse_record([1, 3], [5.0, 6.0], [4]),
        sparse_record([2], [7.0], None),  # no shape: feature_dim gives the width
        recordio.encode_dense(dense64),
        recordio.encode_dense(ints),
        recordio.encode_dense(dense32[10:], np.arange(15, dtype=np.float32)),
    )
    expected = np.concatenate(
        [dense32[:10], [[0, 5, 0, 6], [0, 0, 7, 0]], dense64, ints, dense32[10:]]
    ).astype(np.float32)
    np.testing.assert_array_equal(read_all([path], 4, feature_dim=4), expected)


def test_multi_part_records_are_rejoined_with_the_magic(tmp_path: Path) -> None:
    # The float whose bits are the magic lands on an aligned offset: dmlc splits the record there.
    magic_float = np.frombuffer(MAGIC, dtype="<f4")[0]
    rows = np.array(
        [[magic_float, 1.0, magic_float, magic_float], [2.0, 3.0, 4.0, 5.0]], dtype=np.float32
    )
    framed = b"".join(
        dmlc_frames(recordio.encode_dense(row[None])[8:].rstrip(b"\0")) for row in rows
    )
    # Sanity: the writer did split (cflag 1 on the first part).
    assert struct.unpack_from("<I", framed, 4)[0] >> 29 == 1
    path = write(tmp_path / "parts.pbr", framed)
    got = read_all([path], 2)
    np.testing.assert_array_equal(got.view(np.uint32), rows.view(np.uint32))


def test_padding_after_odd_payloads(tmp_path: Path) -> None:
    matrix: np.ndarray = np.ones((3, 2), dtype=np.float32)
    labels: np.ndarray = np.array([1, 300, -2], dtype=np.int64)  # varints of 1, 2 and 10 bytes
    body = recordio.encode_dense(matrix, labels)
    lengths = []
    offset = 0
    while offset < len(body):
        length = struct.unpack_from("<I", body, offset + 4)[0]
        lengths.append(length)
        offset += 8 + length + (-length & 3)
    assert offset == len(body)
    assert any(length % 4 for length in lengths)
    np.testing.assert_array_equal(read_all([write(tmp_path / "p.pbr", body)]), matrix)


# --- errors ------------------------------------------------------------------------------------


def test_bad_magic_names_the_file_and_offset(tmp_path: Path) -> None:
    good = recordio.encode_dense(np.ones((3, 2), np.float32))
    path = write(tmp_path / "bad.pbr", good, b"\x01\x02\x03\x04" + good[4:])
    with pytest.raises(
        RecordIOError, match=rf"bad\.pbr, byte offset {len(good)}: bad RecordIO magic 0x04030201"
    ):
        read_all([path])


def test_csv_sent_as_recordio_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path / "train.csv", b"1.0,2.0\n3.0,4.0\n")
    with pytest.raises(RecordIOError, match="is this really application/x-recordio-protobuf"):
        read_all([path])


@pytest.mark.parametrize("cut", [3, 9, 30])
def test_truncated_record(tmp_path: Path, cut: int) -> None:
    good = recordio.encode_dense(np.ones((2, 4), np.float32))
    record_len = len(good) // 2
    path = write(tmp_path / "cut.pbr", good[: record_len + cut])
    with pytest.raises(
        RecordIOError, match=rf"cut\.pbr, byte offset {record_len}: truncated RecordIO"
    ):
        read_all([path])


def test_multi_part_out_of_sequence(tmp_path: Path) -> None:
    path = write(tmp_path / "seq.pbr", MAGIC + struct.pack("<I", (2 << 29) | 4) + b"abcd")
    with pytest.raises(
        RecordIOError, match="byte offset 0: RecordIO multi-part record out of sequence"
    ):
        read_all([path])


def test_payload_that_is_not_a_record(tmp_path: Path) -> None:
    path = write(tmp_path / "junk.pbr", recordio.frame(b"\xff\xff\xff"))
    with pytest.raises(RecordIOError, match=r"not a valid aialgs\.data\.Record"):
        read_all([path])


def test_width_mismatch_names_record_offset(tmp_path: Path) -> None:
    first = recordio.encode_dense(np.ones((2, 3), np.float32))
    path = write(tmp_path / "w.pbr", first, recordio.encode_dense(np.ones((1, 4), np.float32)))
    with pytest.raises(
        RecordIOError,
        match=rf"w\.pbr, byte offset {len(first)}: record has 4 features, but feature_dim is 3",
    ):
        read_all([path], feature_dim=3)
    with pytest.raises(RecordIOError, match="4 features, but the first record had 3"):
        read_all([path])
    with pytest.raises(
        RecordIOError,
        match="request body, byte offset 0: record has 3 features, but feature_dim is 5",
    ):
        recordio.decode_matrix(path.read_bytes(), 5)


def test_sparse_errors() -> None:
    with pytest.raises(RecordIOError, match="key 9, outside its dimension 4"):
        recordio.decode_matrix(sparse_record([9], [1.0], [4]), 4)
    with pytest.raises(RecordIOError, match="no shape and feature_dim is not known"):
        recordio.decode_matrix(sparse_record([1], [1.0], None), None)
    record = records.Record()
    record.features["other"].float32_tensor.values.append(1.0)
    with pytest.raises(RecordIOError, match=r"no features\['values'\] \(features: other\)"):
        recordio.decode_matrix(recordio.frame(record.SerializeToString()), None)


@pytest.mark.parametrize(
    ("keys", "values"), [([1], [1.0]), ([], [])], ids=["sparse", "all-zero-row"]
)
def test_unreasonable_sparse_shape_is_refused_before_allocating(
    keys: list[int], values: list[float]
) -> None:
    huge = sparse_record(keys, values, [10**12])
    with pytest.raises(
        RecordIOError,
        match=r"record has shape \[1000000000000\], 1000000000000 features, but feature_dim is 34",
    ):
        recordio.decode_matrix(huge, 34)
    # Nothing fixes the width: the first record's shape alone must fit in memory.
    with pytest.raises(RecordIOError, match=r"shape \[1000000000000\]: a dense row of .* GiB"):
        recordio.decode_matrix(huge, None)
    # A product that would wrap around in uint64 (2**64 -> 0) is not a zero-width row.
    with pytest.raises(RecordIOError, match=r"shape \[4294967296, 4294967296\]"):
        recordio.decode_matrix(sparse_record(keys, values, [2**32, 2**32]), None)


def test_decode_matrix_of_empty_body() -> None:
    assert recordio.decode_matrix(b"", 6).shape == (0, 6)


def test_label_records_round_trip() -> None:
    projection = np.random.default_rng(4).normal(size=(6, 3)).astype(np.float32)
    body = recordio.encode_label_records({"projection": projection})
    got = [
        list(record.label["projection"].float32_tensor.values)
        for record in recordio.iter_records(io.BytesIO(body))
    ]
    np.testing.assert_array_equal(np.array(got, dtype=np.float32), projection)
    assert all(len(record.features) == 0 for record in recordio.iter_records(io.BytesIO(body)))


def test_dense_runs_parse_one_record_not_one_per_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[int] = []
    real_parse = recordio._parse

    def counting_parse(payload: bytes, reader: object, offset: int) -> object:
        parsed.append(offset)
        return real_parse(payload, reader, offset)  # type: ignore[arg-type]

    monkeypatch.setattr(recordio, "_parse", counting_parse)
    matrix = np.random.default_rng(5).normal(size=(20_000, 10)).astype(np.float32)
    path = write(tmp_path / "dense.pbr", recordio.encode_dense(matrix))
    np.testing.assert_array_equal(read_all([path], 5000), matrix)
    assert parsed == [0]
