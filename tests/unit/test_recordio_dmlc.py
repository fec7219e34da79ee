"""recordio against dmlc-core's own RecordIO writer and reader (MXNet 1.9.1's mx.recordio).

dmlc splits a record wherever the magic sits at a 4-aligned offset (the SDK never does), so
files written by dmlc-based tools hold multi-part records; these must read back the same.
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np

from algorithms.common import recordio
from tests.classic_env import run_classic

MAGIC_FLOAT = np.frombuffer(struct.pack("<I", 0xCED7230A), dtype="<f4")[0]

WRITE_WITH_DMLC = """
import json, sys, mxnet as mx
payloads = [bytes.fromhex(h) for h in json.load(open(sys.argv[1]))]
writer = mx.recordio.MXRecordIO(sys.argv[2], "w")
for payload in payloads:
    writer.write(payload)
writer.close()
"""

READ_WITH_DMLC = """
import json, sys, mxnet as mx
reader = mx.recordio.MXRecordIO(sys.argv[1], "r")
out = []
while (item := reader.read()) is not None:
    out.append(item.hex())
print(json.dumps(out))
"""


def rows_with_magic() -> np.ndarray:
    rows = np.random.default_rng(0).normal(size=(12, 6)).astype(np.float32)
    rows[0, 0] = MAGIC_FLOAT  # the payload's first number sits at an aligned offset
    rows[1, :3] = MAGIC_FLOAT  # consecutive magics: dmlc writes empty middle parts
    rows[5, -1] = MAGIC_FLOAT
    return rows


def test_we_read_multi_part_records_written_by_dmlc(tmp_path: Path) -> None:
    rows = rows_with_magic()
    framed = list(recordio.iter_payloads(io.BytesIO(recordio.encode_dense(rows))))
    (tmp_path / "payloads.json").write_text(json.dumps([p.hex() for p in framed]))
    path = tmp_path / "dmlc.rec"
    run_classic(WRITE_WITH_DMLC, str(tmp_path / "payloads.json"), str(path))

    data = path.read_bytes()
    cflags = []
    offset = 0
    while offset < len(data):
        word = struct.unpack_from("<I", data, offset + 4)[0]
        cflags.append(word >> 29)
        length = word & ((1 << 29) - 1)
        offset += 8 + length + (-length & 3)
    assert {1, 2, 3} <= set(cflags), cflags  # dmlc really split the records

    assert list(recordio.iter_payloads(io.BytesIO(data))) == framed
    batches = list(recordio.iter_dense_batches([path], 5, 6))
    np.testing.assert_array_equal(np.concatenate(batches).view(np.uint32), rows.view(np.uint32))


def test_dmlc_reads_what_we_write(tmp_path: Path) -> None:
    rows = rows_with_magic()
    path = tmp_path / "ours.pbr"
    path.write_bytes(recordio.encode_dense(rows, np.arange(12, dtype=np.float32)))
    expected = [p.hex() for p in recordio.iter_payloads(io.BytesIO(path.read_bytes()))]
    assert json.loads(run_classic(READ_WITH_DMLC, str(path))) == expected
