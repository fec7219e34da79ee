"""An S3 object's body served from its persisted file, opened only while it is being read.

moto keeps each object's body in a buffer of its own (a spooled temporary file: memory, then a
second file on disk). Once the store has written the body to the data dir, that buffer is swapped
for a `FileBody` of the persisted file, so the data dir's copy is the only one: nothing in memory,
no temporary file, and an object costs nothing at start until a request reads it. The file is
opened on demand and closed again when a read reaches its end, so a hundred thousand objects hold
no file descriptors. The persisted file is never written: a write (moto rewriting a body in place)
moves the body to a buffer of its own first, as moto's own would hold it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

_SPOOL_BYTES = 5 * 1024 * 1024


class FileBody:
    """A read-only view of `path` with the file methods moto uses on a body buffer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self._position = 0
        self._own: IO[bytes] | None = None
        """The body's own buffer once something wrote to it (the persisted file is left alone)."""

    def _open(self) -> IO[bytes]:
        if self._own is not None:
            return self._own
        if self._file is None:
            self._file = self.path.open("rb")
            self._file.seek(self._position)
        return self._file

    def read(self, size: int | None = -1) -> bytes:
        stream = self._open()
        data = stream.read(-1 if size is None else size)
        if self._own is None:
            self._position = stream.tell()
            if size is None or size < 0 or not data:
                self._release()  # read to the end: nothing more is likely to come soon
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if self._own is not None:
            return self._own.seek(offset, whence)
        if whence == os.SEEK_SET and self._file is None:
            self._position = offset  # no need to open the file to move
            return offset
        self._position = self._open().seek(offset, whence)
        return self._position

    def tell(self) -> int:
        return self._own.tell() if self._own is not None else self._position

    def write(self, data: bytes) -> int:
        return self._writable().write(data)

    def truncate(self, size: int | None = None) -> int:
        return self._writable().truncate(size)

    def _writable(self) -> IO[bytes]:
        if self._own is None:
            own: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
            with self.path.open("rb") as source:
                while chunk := source.read(1 << 20):
                    own.write(chunk)
            own.seek(self._position)
            self._release()
            self._own = own
        return self._own

    def flush(self) -> None:
        if self._own is not None:
            self._own.flush()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return False  # reopened on demand

    def close(self) -> None:
        """Release the file descriptor (a later read opens the file again)."""
        self._release()
        if self._own is not None:
            self._own.close()
            self._own = None
            self._position = 0

    def _release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> FileBody:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
