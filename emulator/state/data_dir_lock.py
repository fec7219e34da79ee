"""One emulator per data directory: an OS lock on a file in it, held for the life of the process.

A second emulator on the same directory would treat the first one's containers and subprocesses
as orphans (and stop them), then both would serve from the same files with separate in-memory
state. `flock` is released by the kernel when the holder exits however it exits (kill -9
included), so a crash never leaves a stale lock behind; the pid written into the file is only
there to say who holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_NAME = "emulator.lock"


class DataDirInUse(RuntimeError):
    """Another live process holds the data directory."""


class DataDirLock:
    """The held lock; release() (or process exit) lets the next emulator in."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self._handle = handle

    def release(self) -> None:
        if not self._handle.closed:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()


def lock_data_dir(data_dir: Path) -> DataDirLock:
    """Take the data directory's lock, or raise DataDirInUse naming the pid that holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    # Not truncated on open: the holder's pid must stay readable until the lock is ours.
    # Python opens it close-on-exec, so algorithm subprocesses never inherit (and keep) it.
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held past this function)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise DataDirInUse(
            f"the data directory {data_dir} is in use by another sagemaker-emulator (pid "
            f"{holder}); stop it first, or give this one another --data-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return DataDirLock(path, handle)
