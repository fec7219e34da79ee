"""RecordStore on a full disk: a new record is refused with DiskFull, an update waits in memory."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.state.store import RecordStore
from emulator.storage.space import DiskFull


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def test_create_refused_update_kept_until_space_returns(small_disk: Path) -> None:
    store = RecordStore(small_disk / "state.sqlite3")
    store.put_raw("job", "running", {"status": "InProgress"})
    filler = fill(small_disk)
    big = {"blob": "x" * 200_000}  # larger than any room left in SQLite's files
    with pytest.raises(DiskFull):
        store.put_raw("job", "new", big)
    assert store.get_raw("job", "new") is None
    store.put_raw("job", "running", {"status": "Failed", **big})  # no error: kept pending
    assert store.pending == 1
    filler.unlink()
    store.put_raw("job", "other", {"status": "InProgress"})  # space is back: both are written
    assert store.pending == 0
    store.close()
    again = RecordStore(small_disk / "state.sqlite3")
    assert again.get_raw("job", "running")["status"] == "Failed"
    assert again.get_raw("job", "new") is None
    again.close()
