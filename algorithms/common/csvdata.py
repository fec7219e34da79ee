"""text/csv data: training channels (streamed) and inference request bodies.

The built-ins' CSV has no header row, one record per line, and `label_size` leading label
columns (the content type parameter, `text/csv;label_size=0`). For training channels the default
`label_size` when the parameter is absent is 1 (the first column is the label), which is what the
developer guide's "the target variable should be in the first column" and its advice to declare
`label_size=0` for unsupervised training imply (sagemaker-spec.md section 5 calls it probably 1).
Inference requests carry no label column, so their default is 0.

Parsing is vectorised: a chunk of complete lines is checked for equal field counts from the byte
positions of its commas and newlines, then converted by numpy's C parser in one call. Only a chunk
that fails is re-read line by line, to say which line is wrong and why.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from algorithms.common.recordio import rebatch

TRAINING_DEFAULT_LABEL_SIZE = 1
"""label_size of a training channel whose content type is plain `text/csv`."""

_CHUNK_BYTES = 1 << 22
_BOM = b"\xef\xbb\xbf"


class CsvDataError(ValueError):
    """CSV input that cannot be read as rows of numbers of one width."""


def _explain_line(line: bytes, name: str, line_number: int) -> CsvDataError:
    """The error for the first bad field of a line (the slow path, only when a chunk fails)."""
    text = line.decode("utf-8", errors="replace")
    for column, field in enumerate(text.split(","), start=1):
        try:
            float(field)
        except ValueError:
            shown = field.strip()[:40]
            hint = " (CSV data must have no header row)" if line_number == 1 else ""
            return CsvDataError(
                f"{name}: line {line_number}, column {column}: could not convert "
                f"{shown!r} to a number{hint}"
            )
    return CsvDataError(f"{name}: line {line_number}: could not parse {text[:80]!r}")


def _drop_blank_lines(data: bytes) -> tuple[bytes, list[int]]:
    """The non-blank lines (newline-terminated) and their 1-based numbers within `data`."""
    kept, numbers = [], []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            kept.append(line)
            numbers.append(number)
    return b"".join(line + b"\n" for line in kept), numbers


def parse_csv(
    data: bytes,
    name: str,
    label_size: int,
    feature_dim: int | None,
    first_line: int = 1,
    width: int | None = None,
) -> np.ndarray:
    """Complete CSV lines as float32 (rows, columns - label_size), label columns dropped.

    `width` (total columns, labels included) is enforced when given; otherwise the first line
    sets it. Blank lines are skipped. Raises CsvDataError naming the line (counted from
    `first_line`) and what is wrong.
    """
    nul = data.find(b"\0")
    if nul >= 0:
        line = first_line + data.count(b"\n", 0, nul)
        raise CsvDataError(
            f"{name}: line {line} holds binary data, not CSV "
            "text (is this application/x-recordio-protobuf?)"
        )
    if b"\r" in data:
        data = data.replace(b"\r", b"")
    if not data.endswith(b"\n"):
        data += b"\n"
    numbers: list[int] | None = None
    if data.startswith(b"\n") or b"\n\n" in data or b" \n" in data:
        data, numbers = _drop_blank_lines(data)
        if not data:
            return np.zeros((0, feature_dim or 0), dtype=np.float32)

    def line_number(index: int) -> int:
        return first_line - 1 + (numbers[index] if numbers is not None else index + 1)

    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == ord("\n"))
    commas = np.flatnonzero(raw == ord(","))
    # Fields per line = commas before its newline - commas before the previous newline + 1.
    fields = np.diff(np.searchsorted(commas, newlines), prepend=0) + 1
    if width is None:
        width = int(fields[0])
    wrong = np.flatnonzero(fields != width)
    if wrong.size:
        index = int(wrong[0])
        raise CsvDataError(
            f"{name}: line {line_number(index)} has {int(fields[index])} columns, but "
            f"{'the first line has' if index else 'expected'} {width}"
        )
    if width <= label_size:
        raise CsvDataError(
            f"{name}: lines have {width} column(s), all of them labels (label_size={label_size}); "
            "no features are left"
        )
    if feature_dim is not None and width - label_size != feature_dim:
        raise CsvDataError(
            f"{name}: line {line_number(0)} has {width - label_size} feature column(s) "
            f"({width} columns, label_size={label_size}), but feature_dim is {feature_dim}"
        )
    rows = newlines.size
    values: np.ndarray | None
    try:
        with warnings.catch_warnings():
            # numpy < 2 only warns (DeprecationWarning) where numpy 2 raises on unparsable text.
            warnings.simplefilter("error", DeprecationWarning)
            values = np.fromstring(data.replace(b"\n", b","), dtype=np.float32, sep=",")
    except (ValueError, DeprecationWarning):
        values = None
    if values is None or values.size != rows * width:
        lines = data.split(b"\n")
        for index in range(rows):
            try:
                [float(field) for field in lines[index].split(b",")]
            except ValueError:
                raise _explain_line(lines[index], name, line_number(index)) from None
        raise CsvDataError(f"{name}: could not parse CSV data starting at line {first_line}")
    matrix = values.reshape(rows, width)
    return np.ascontiguousarray(matrix[:, label_size:]) if label_size else matrix


def _iter_file_blocks(
    path: Path | str, label_size: int, feature_dim: int | None, state: dict[str, int]
) -> Iterator[np.ndarray]:
    """Parsed chunks of one file; `state["width"]` carries the column count across files."""
    name = str(path)
    line = 1
    carry = b""
    with open(path, "rb") as stream:
        first = True
        while True:
            chunk = stream.read(_CHUNK_BYTES)
            if first:
                chunk = chunk.removeprefix(_BOM)
                first = False
            if not chunk:
                data, carry = carry, b""
            else:
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                data, carry = data[:cut], data[cut:]
            if data.strip():
                block = parse_csv(data, name, label_size, feature_dim, line, state.get("width"))
                state.setdefault("width", block.shape[1] + label_size)
                if block.shape[0]:
                    yield block
            line += data.count(b"\n")
            if not chunk:
                return


def iter_csv_batches(
    paths: Sequence[Path | str],
    batch_size: int,
    label_size: int = TRAINING_DEFAULT_LABEL_SIZE,
    feature_dim: int | None = None,
) -> Iterator[np.ndarray]:
    """float32 (rows, features) mini-batches from CSV files, streamed in order.

    The first `label_size` columns of every line are dropped. Every batch has `batch_size` rows
    except the last; batches run across file boundaries. Raises CsvDataError.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    if label_size < 0:
        raise CsvDataError(f"label_size must be >= 0, not {label_size}")
    state: dict[str, int] = {}

    def blocks() -> Iterator[np.ndarray]:
        for path in paths:
            yield from _iter_file_blocks(path, label_size, feature_dim, state)

    yield from rebatch(blocks(), batch_size)
