"""algorithms.common.csvdata: training CSV streamed in batches, and request CSV parsing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from algorithms.common import csvdata
from algorithms.common.csvdata import CsvDataError


def f32(values: object) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def write_csv(path: Path, matrix: np.ndarray, line_end: str = "\n") -> Path:
    lines = [",".join(repr(float(value)) for value in row) for row in matrix]
    path.write_text(line_end.join(lines) + line_end)
    return path


def read(paths: list[Path], batch_size: int = 4, **kwargs: int | None) -> np.ndarray:
    batches = list(csvdata.iter_csv_batches(paths, batch_size, **kwargs))  # type: ignore[arg-type]
    for batch in batches[:-1]:
        assert batch.shape[0] == batch_size
    for batch in batches:
        assert batch.dtype == np.float32 and batch.flags.c_contiguous
    return np.concatenate(batches)


def test_default_label_size_drops_the_first_column(tmp_path: Path) -> None:
    assert csvdata.TRAINING_DEFAULT_LABEL_SIZE == 1
    matrix = np.arange(40, dtype=np.float32).reshape(10, 4)
    path = write_csv(tmp_path / "train.csv", matrix)
    np.testing.assert_array_equal(read([path]), matrix[:, 1:])
    np.testing.assert_array_equal(read([path], label_size=0), matrix)
    np.testing.assert_array_equal(read([path], label_size=2, feature_dim=2), matrix[:, 2:])


def test_batches_run_across_files_and_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvdata, "_CHUNK_BYTES", 37)  # lines straddle every read
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(101, 5)).astype(np.float32)
    paths = [
        write_csv(tmp_path / "a.csv", matrix[:50]),
        write_csv(tmp_path / "b.csv", matrix[50:51], line_end="\r\n"),
        write_csv(tmp_path / "c.csv", matrix[51:]),
    ]
    for batch_size in (1, 7, 1000):
        np.testing.assert_array_equal(read(paths, batch_size, label_size=0), matrix)


def test_float32_values_round_trip_exactly(tmp_path: Path) -> None:
    matrix = np.random.default_rng(1).normal(size=(20, 3)).astype(np.float32) * 1e-3
    path = write_csv(tmp_path / "x.csv", matrix)
    np.testing.assert_array_equal(read([path], label_size=0), matrix)


def test_blank_lines_bom_missing_final_newline_and_spaces(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"\xef\xbb\xbf1, 2,3\n\n 4,5 ,6 \n\n7,8,9")
    np.testing.assert_array_equal(
        read([path], label_size=0), f32([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    )


def test_header_row_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("label,a,b\n1,2,3\n")
    with pytest.raises(
        CsvDataError,
        match=r"header\.csv: line 1, column 1: could not convert 'label'.*no header row",
    ):
        read([path])


def test_bad_value_names_file_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvdata, "_CHUNK_BYTES", 16)
    path = tmp_path / "bad.csv"
    path.write_text("1,2,3\n4,5,6\n7,8,9\n1,2,x\n")
    with pytest.raises(CsvDataError, match=r"bad\.csv: line 4, column 3: could not convert 'x'"):
        read([path])


def test_empty_field_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("1,2,3\n4,,6\n")
    with pytest.raises(CsvDataError, match="line 2, column 2: could not convert ''"):
        read([path])


def test_ragged_rows_and_widths(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2,3\n4,5\n")
    with pytest.raises(CsvDataError, match="line 2 has 2 columns, but the first line has 3"):
        read([ragged])
    other = tmp_path / "other.csv"
    other.write_text("1,2\n")
    good = write_csv(tmp_path / "good.csv", np.ones((2, 3)))
    with pytest.raises(CsvDataError, match=r"other\.csv: line 1 has 2 columns, but expected 3"):
        read([good, other])
    with pytest.raises(CsvDataError, match=r"2 feature column.*feature_dim is 5"):
        read([good], feature_dim=5)
    with pytest.raises(CsvDataError, match="all of them labels"):
        read([good], label_size=3)


def test_parse_csv_for_requests() -> None:
    got = csvdata.parse_csv(b"1.5,16.0,14,23.0\n", "request body", 0, 4)
    np.testing.assert_array_equal(got, f32([[1.5, 16.0, 14.0, 23.0]]))
    with pytest.raises(CsvDataError, match="request body: line 1 has 3 feature"):
        csvdata.parse_csv(b"1,2,3", "request body", 0, 4)


def test_empty_file_gives_no_batches(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("\n\n")
    assert list(csvdata.iter_csv_batches([path], 3, 0)) == []
