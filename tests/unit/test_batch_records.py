"""Batch transform's data path: splitting objects into records, packing requests, assembling."""

from __future__ import annotations

import io

import numpy as np
import pytest

from algorithms.common.recordio import RecordIOError, encode_dense, frame, iter_payloads
from emulator.services.batch_records import (
    MEGABYTE,
    PayloadTooLarge,
    assemble,
    iter_records,
    pack_requests,
)


def test_line_records_keep_one_newline_each_and_skip_blank_lines() -> None:
    body = io.BytesIO(b"1,2\n\n3,4\r\n5,6")
    assert list(iter_records(body, "Line", "x")) == [b"1,2\n", b"3,4\r\n", b"5,6\n"]


def test_none_is_the_whole_object() -> None:
    data = b'{"instances": []}'
    assert list(iter_records(io.BytesIO(data), "None", "x")) == [data]


def test_recordio_records_are_whole_and_reframed() -> None:
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    body = encode_dense(matrix)
    records = list(iter_records(io.BytesIO(body), "RecordIO", "x"))
    assert len(records) == 4
    # Each record is a valid stream by itself, and together they are the original bytes.
    assert all(len(list(iter_payloads(io.BytesIO(r)))) == 1 for r in records)
    assert b"".join(records) == body


def test_multi_part_recordio_record_comes_back_as_one() -> None:
    magic = frame(b"")[:4]
    head, tail = b"abcde", b"fg"
    # cflag 1 (first part) then 3 (last part), as dmlc writes a payload that contains the magic.
    stream = (
        magic + (len(head) | (1 << 29)).to_bytes(4, "little") + head + b"\0" * (-len(head) % 4)
    ) + (magic + (len(tail) | (3 << 29)).to_bytes(4, "little") + tail + b"\0" * (-len(tail) % 4))
    (record,) = iter_records(io.BytesIO(stream), "RecordIO", "x")
    assert list(iter_payloads(io.BytesIO(record))) == [head + magic + tail]


def test_broken_recordio_is_an_error_naming_the_object() -> None:
    with pytest.raises(RecordIOError, match="s3://b/k"):
        list(iter_records(io.BytesIO(b"not recordio at all"), "RecordIO", "s3://b/k"))


def test_unknown_split_type() -> None:
    with pytest.raises(ValueError, match="TFRecord"):
        list(iter_records(io.BytesIO(b""), "TFRecord", "x"))


def test_single_record_sends_one_record_per_request() -> None:
    assert list(pack_requests([b"a\n", b"b\n"], "SingleRecord", 6)) == [b"a\n", b"b\n"]


def test_multi_record_fills_requests_up_to_the_payload_limit() -> None:
    record = b"x" * (MEGABYTE // 3)
    bodies = list(pack_requests([record] * 7, "MultiRecord", 1))
    assert [len(b) // len(record) for b in bodies] == [3, 3, 1]
    assert b"".join(bodies) == record * 7


def test_zero_means_no_payload_limit() -> None:
    record = b"x" * MEGABYTE
    assert list(pack_requests([record] * 3, "MultiRecord", 0)) == [record * 3]


@pytest.mark.parametrize("strategy", ["SingleRecord", "MultiRecord"])
def test_a_record_over_the_limit_fails(strategy: str) -> None:
    with pytest.raises(PayloadTooLarge, match="record 2"):
        list(pack_requests([b"a", b"x" * (MEGABYTE + 1)], strategy, 1))


def test_assemble() -> None:
    assert assemble(b'{"a": 1}', "Line") == b'{"a": 1}\n'
    assert assemble(b"1\n2\n", "Line") == b"1\n2\n"
    assert assemble(b"\x0a\x23", "None") == b"\x0a\x23"
