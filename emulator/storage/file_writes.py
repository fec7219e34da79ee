"""How the stores write their files, so that neither a crash (`kill -9`) nor a full disk leaves one
half-written: whole lines appended to an append-only file (the Logs and metrics JSON Lines), and
a whole file replaced at once (records, compactions).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def append_lines(path: Path, data: bytes) -> None:
    """Append `data` (whole lines, each ending in a newline) to `path`, made if missing.

    After a line a crash cut short, `data` starts on a new line, so that it stays whole (a reader
    skips the torn one). A write the disk refuses leaves the file as it was, and raises."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        start = os.fstat(fd).st_size
        if start > 0:
            with path.open("rb") as check:
                check.seek(start - 1)
                if check.read(1) != b"\n":
                    data = b"\n" + data  # a line cut short by a crash: keep the next one whole
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.ftruncate(fd, start)  # refused (disk full): the file stays as it was
            raise
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes) -> None:
    """Make `data` the content of `path` at once: written to a temporary file beside it, renamed
    over it, so that it holds the old content or the new, never a mix. Raises when the disk
    refuses, leaving the old content and no temporary file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
