"""algorithms.common.channels: which files a channel holds and how its ContentType is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from algorithms.common import channels, recordio
from algorithms.common.channels import ChannelError
from algorithms.common.csvdata import CsvDataError
from algorithms.common.optml import OptMl
from algorithms.common.recordio import RecordIOError

MATRIX = np.arange(60, dtype=np.float32).reshape(20, 3)


def make_channel(root: Path, name: str = "train") -> Path:
    folder = root / "input" / "data" / name
    (folder / "part").mkdir(parents=True)
    (folder / "matrix_0.pbr").write_bytes(recordio.encode_dense(MATRIX[:8]))
    (folder / "part" / "matrix_1.pbr").write_bytes(recordio.encode_dense(MATRIX[8:]))
    (folder / ".amazon.manifest").write_text('[{"prefix": "s3://b/p/"}, "matrix_0.pbr"]')
    return folder


def read(optml: OptMl | Path, content_type: str | None, feature_dim: int = 3) -> np.ndarray:
    batches = channels.iter_channel_batches(optml, "train", content_type, 6, feature_dim)
    return np.concatenate(list(batches))


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/x-recordio-protobuf",
        "application/x-recordio-protobuf; charset=binary",
        "Application/X-RecordIO-Protobuf",
        "application/x-labeled-vector-protobuf",
        "protobuf",
    ],
)
def test_recordio_channels(tmp_path: Path, content_type: str | None) -> None:
    make_channel(tmp_path)
    np.testing.assert_array_equal(read(OptMl(tmp_path), content_type), MATRIX)
    np.testing.assert_array_equal(read(tmp_path, content_type), MATRIX)


def test_files_are_sorted_and_hidden_files_skipped(tmp_path: Path) -> None:
    folder = make_channel(tmp_path)
    files = channels.channel_files(OptMl(tmp_path), "train")
    assert files == [folder / "matrix_0.pbr", folder / "part" / "matrix_1.pbr"]


def test_csv_channels_with_and_without_label_size(tmp_path: Path) -> None:
    folder = tmp_path / "input" / "data" / "train"
    folder.mkdir(parents=True)
    (folder / "data.csv").write_text("\n".join(",".join(map(str, row)) for row in MATRIX) + "\n")
    np.testing.assert_array_equal(read(tmp_path, "text/csv;label_size=0"), MATRIX)
    np.testing.assert_array_equal(read(tmp_path, "text/csv", 2), MATRIX[:, 1:])
    np.testing.assert_array_equal(read(tmp_path, "text/csv; label_size=2", 1), MATRIX[:, 2:])
    with pytest.raises(ChannelError, match="label_size must be a non-negative integer, not 'x'"):
        read(tmp_path, "text/csv;label_size=x")


def test_pipe_mode_fifo_name(tmp_path: Path) -> None:
    data = tmp_path / "input" / "data"
    data.mkdir(parents=True)
    (data / "train_0").write_bytes(recordio.encode_dense(MATRIX))
    np.testing.assert_array_equal(read(tmp_path, None), MATRIX)


def test_unsupported_content_type_and_missing_channel(tmp_path: Path) -> None:
    make_channel(tmp_path)
    with pytest.raises(
        ChannelError, match="'application/x-image' of channel 'train' is not supported"
    ):
        channels.iter_channel_batches(tmp_path, "train", "application/x-image", 5, 3)
    with pytest.raises(ChannelError, match="no data found for channel 'test'"):
        channels.iter_channel_batches(tmp_path, "test", None, 5, 3)


def test_data_errors_are_value_errors(tmp_path: Path) -> None:
    make_channel(tmp_path)
    with pytest.raises(RecordIOError, match="feature_dim is 4"):
        read(tmp_path, None, feature_dim=4)
    with pytest.raises(CsvDataError, match=r"matrix_0\.pbr: line \d+ holds binary data, not CSV"):
        read(tmp_path, "text/csv")
    assert issubclass(RecordIOError, ValueError)
    assert issubclass(CsvDataError, ValueError)
    assert issubclass(ChannelError, ValueError)


def test_pass_n_reads_the_fifo_of_epoch_n_when_it_appears(tmp_path: Path) -> None:
    """Pipe mode: pass N opens `<channel>_N`, waiting for the platform to make it."""
    import os
    import threading

    data = tmp_path / "input" / "data"
    data.mkdir(parents=True)
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    os.mkfifo(data / "train_0")

    def feed(epoch: int) -> None:
        with open(data / f"train_{epoch}", "wb") as pipe:
            pipe.write(recordio.encode_dense(matrix * (epoch + 1)))

    first = threading.Thread(target=feed, args=(0,))
    first.start()
    batches = list(channels.iter_channel_batches(tmp_path, "train", None, 10, 3, pass_index=0))
    first.join()
    np.testing.assert_array_equal(np.concatenate(batches), matrix)

    def late_second() -> None:
        os.mkfifo(data / "train_1")
        feed(1)

    second = threading.Thread(target=late_second)
    # The reader asks for pass 1 before its FIFO exists.
    second_batches: list[np.ndarray] = []
    reader = threading.Thread(
        target=lambda: second_batches.extend(
            channels.iter_channel_batches(tmp_path, "train", None, 10, 3, pass_index=1)
        )
    )
    reader.start()
    second.start()
    reader.join(timeout=60)
    second.join(timeout=60)
    np.testing.assert_array_equal(np.concatenate(second_batches), matrix * 2)
