"""RecordIO-protobuf encode/decode: ours against the SageMaker SDK 2.x, side by side in one process.

    .venv/bin/python benchmarks/recordio_bench.py [--rows 1000000] [--cols 50] [--sdk-rows N]
                                                  [--repeats 3] [--write-results]

- encode: `recordio.encode_dense` vs the SDK's `write_numpy_to_dense_tensor` (into memory); the
  bytes are compared (over the rows the SDK wrote).
- decode: our streaming reader (`iter_dense_batches`, 5,000-row batches as k-means' default
  mini_batch_size, from a file, into one float32 matrix) and `decode_matrix` (bytes in memory)
  vs the SDK's `read_records` + building the numpy matrix from the records; values compared.
Ours: the median of `--repeats` runs. The SDK: one run over `--sdk-rows` rows (all rows by
default), its rate scaled to the full size when fewer (the table says so).
`--write-results` rewrites the RecordIO section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

from results_md import replace_block

from algorithms.common import recordio

START = "<!-- recordio-bench:start -->"
END = "<!-- recordio-bench:end -->"


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def median_time(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        seconds, result = timed(function)
        times.append(seconds)
    return statistics.median(times), result


def sdk_to_numpy(sdk_common: Any, data: bytes) -> np.ndarray:
    """What a user of the SDK does: read_records, then a matrix from the feature values."""
    records = sdk_common.read_records(io.BytesIO(data))
    return np.array(
        [record.features["values"].float32_tensor.values for record in records], dtype=np.float32
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--sdk-rows", type=int, default=None, help="rows the SDK runs on")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    sdk_common: Any = importlib.import_module("sagemaker.amazon.common")
    sdk_version = importlib.import_module("sagemaker").__version__

    rows, cols = args.rows, args.cols
    sdk_rows = min(args.sdk_rows or rows, rows)
    matrix = np.random.default_rng(0).normal(size=(rows, cols)).astype(np.float32)

    # --- encode ---
    ours_encode, ours_bytes = median_time(lambda: recordio.encode_dense(matrix), args.repeats)

    def sdk_encode() -> bytes:
        buffer = io.BytesIO()
        sdk_common.write_numpy_to_dense_tensor(buffer, matrix[:sdk_rows])
        return buffer.getvalue()

    sdk_encode_s, sdk_bytes = timed(sdk_encode)
    identical = ours_bytes[: len(sdk_bytes)] == sdk_bytes and (
        sdk_rows < rows or len(ours_bytes) == len(sdk_bytes)
    )

    # --- decode ---
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "matrix_0.pbr"
        path.write_bytes(ours_bytes)

        def ours_stream() -> np.ndarray:
            out = np.empty((rows, cols), dtype=np.float32)
            filled = 0
            for batch in recordio.iter_dense_batches([path], args.batch_size, cols):
                out[filled : filled + batch.shape[0]] = batch
                filled += batch.shape[0]
            return out

        ours_stream_s, streamed = median_time(ours_stream, args.repeats)
    ours_memory_s, in_memory = median_time(
        lambda: recordio.decode_matrix(ours_bytes, cols), args.repeats
    )
    sdk_decode_s, sdk_matrix = timed(lambda: sdk_to_numpy(sdk_common, sdk_bytes))
    values_equal = (
        np.array_equal(streamed, matrix)
        and np.array_equal(in_memory, matrix)
        and np.array_equal(sdk_matrix, matrix[:sdk_rows])
    )

    scale = rows / sdk_rows
    sdk_encode_full = sdk_encode_s * scale
    sdk_decode_full = sdk_decode_s * scale
    size_mb = len(ours_bytes) / 1e6
    lines = [
        f"{rows:,} x {cols} float32 ({size_mb:.0f} MB of RecordIO), "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, sagemaker {sdk_version}, {os.cpu_count()} CPUs. "
        f"Ours: median of {args.repeats}; SDK: one run"
        + (
            f" on {sdk_rows:,} rows, scaled x{scale:g} to the full size."
            if sdk_rows < rows
            else " on all rows."
        ),
        "",
        "| step | ours | SDK 2.x | ours rows/s | SDK rows/s | ratio | target |",
        "|---|---|---|---|---|---|---|",
        f"| encode (`encode_dense` vs `write_numpy_to_dense_tensor`) | {ours_encode:.3f} s | "
        f"{sdk_encode_full:.2f} s | {rows / ours_encode:,.0f} | {rows / sdk_encode_full:,.0f} | "
        f"{sdk_encode_full / ours_encode:.1f}x | >= 4x, bytes identical: "
        f"**{'yes' if identical else 'NO'}** |",
        f"| decode, streamed from a file in {args.batch_size:,}-row batches "
        f"(`iter_dense_batches`) vs `read_records` + to numpy | {ours_stream_s:.3f} s | "
        f"{sdk_decode_full:.2f} s | {rows / ours_stream_s:,.0f} | {rows / sdk_decode_full:,.0f} | "
        f"{sdk_decode_full / ours_stream_s:.1f}x | >= 20x, values identical: "
        f"**{'yes' if values_equal else 'NO'}** |",
        f"| decode, bytes in memory (`decode_matrix`) vs the same | {ours_memory_s:.3f} s | "
        f"{sdk_decode_full:.2f} s | {rows / ours_memory_s:,.0f} | {rows / sdk_decode_full:,.0f} | "
        f"{sdk_decode_full / ours_memory_s:.1f}x | >= 20x |",
    ]
    section = "\n".join(lines)
    print(section)
    if args.write_results:
        write_section(section)
    if not (identical and values_equal):
        sys.exit(1)


def write_section(body: str) -> None:
    block = (
        f"{START}\n## RecordIO-protobuf (benchmarks/recordio_bench.py)\n\n{body}\n\n"
        "Why it is faster: the SDK makes one protobuf message per row (and one Python list per "
        "row to build the matrix); ours treats a run of equal-layout records as one "
        "(rows, stride) byte matrix, checks every magic, length word and protobuf tag byte "
        "against a template in one vectorised comparison, and copies the numbers out with one "
        "strided copy (decode), or broadcasts the template and copies the numbers in (encode). "
        "The file is read in a reused buffer, so memory stays at one batch. The machine is "
        "shared and noisy (absolute times move by 50% or more between runs; "
        "a measurement on a quiet machine of this kind put the SDK at 8.4 s encode and 17.1 s "
        "decode), so compare the ratios, which are measured side by side in one process."
        f"\n{END}"
    )
    replace_block(block, START, END)


if __name__ == "__main__":
    main()
