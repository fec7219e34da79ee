"""Pipe mode: a channel's objects streamed from S3 into FIFOs as the algorithm reads them.

As the real service does it (docs/sagemaker-facts.md#pipe-and-fastfile-input): one FIFO per
epoch, `input/data/<channel>_<epoch>` from 0, each streaming the host's objects of the channel
(its share under ShardedByS3Key) in key order; a `Gzip` channel is decompressed on the way and a
`RecordIO` wrapper puts each object in one RecordIO record. Nothing is written to disk: the bytes
go from the S3 store to the reader.

The next epoch's FIFO is made as soon as the reader opens the current one, so a reader that has
finished a pass finds the next one. A reader that closes a pipe early ends that epoch. The FIFOs
live in the job's /opt/ml tree on this machine: a subprocess opens them there, and a container
through a bind mount of the tree (the runtime says whether its containers see our files).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import logging
import os
import select
import struct
import threading
import zlib
from pathlib import Path
from typing import BinaryIO, Final

from emulator.services.ports import ObjectStore
from emulator.services.staging import S3Object

log = logging.getLogger(__name__)

_CHUNK: Final = 1 << 20
_POLL_SECONDS: Final = 0.02
_RECORDIO_MAGIC: Final = 0xCED7230A


def fifo_path(data_dir: Path, channel: str, epoch: int) -> Path:
    return data_dir / f"{channel}_{epoch}"


def _recordio_header(size: int) -> bytes:
    # One whole record: flag 0 in the top 3 bits, the length in the lower 29; the payload is
    # padded to 4 bytes (the layout algorithms/common/recordio.py reads).
    if size >= 1 << 29:
        raise ValueError(f"an object of {size} bytes does not fit one RecordIO record")
    return struct.pack("<II", _RECORDIO_MAGIC, size)


class ChannelPipe:
    """Feeds one channel's FIFOs on one host, epoch after epoch, until closed."""

    def __init__(
        self,
        store: ObjectStore,
        objects: list[S3Object],
        data_dir: Path,
        channel: str,
        gunzip: bool = False,
        recordio_wrap: bool = False,
    ) -> None:
        self._store = store
        self._objects = objects
        self._data_dir = data_dir
        self._channel = channel
        self._gunzip = gunzip
        self._wrap = recordio_wrap
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pipe-{channel}", daemon=True)
        self.error: str | None = None
        """Why an epoch could not be fed (a missing object, a corrupt gzip stream), if one was
        not: the job's FailureReason."""
        self.epochs_fed = 0

    def start(self) -> None:
        """Make `<channel>_0` (before the container starts) and feed it from a thread."""
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._make(fifo_path(self._data_dir, self._channel, 0))
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @staticmethod
    def _make(path: Path) -> None:
        os.mkfifo(path)
        # Readable by an image that runs as another user.
        path.chmod(0o644)

    def _run(self) -> None:
        epoch = 0
        while not self._stop.is_set():
            fd = self._open_writer(fifo_path(self._data_dir, self._channel, epoch))
            if fd is None:
                return
            try:
                self._make(fifo_path(self._data_dir, self._channel, epoch + 1))
                self._feed(fd)
                self.epochs_fed += 1
            except BrokenPipeError:
                log.debug("the reader of %s_%d closed it early", self._channel, epoch)
            except Exception as exc:  # Reported as the job's failure; the reader sees EOF.
                self.error = str(exc)
                log.warning("pipe %s_%d: %s", self._channel, epoch, exc)
                return
            finally:
                os.close(fd)
            epoch += 1

    def _open_writer(self, path: Path) -> int | None:
        """The FIFO's write end once a reader has opened it; None when closed first."""
        while not self._stop.is_set():
            try:
                # Non-blocking: ENXIO until a reader opens the FIFO, so a close is noticed.
                return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
            self._stop.wait(_POLL_SECONDS)
        return None

    def _feed(self, fd: int) -> None:
        for obj in self._objects:
            source_uri = f"s3://{obj.bucket}/{obj.key}"
            try:
                raw = self._store.open_object(obj.bucket, obj.key)
            except Exception as exc:  # NoSuchKey / NoSuchBucket from the S3 store.
                raise RuntimeError(
                    f'ClientError: Data download failed: could not download "{source_uri}" '
                    f"({type(exc).__name__})."
                ) from exc
            with raw:
                reader: BinaryIO = gzip.GzipFile(fileobj=raw) if self._gunzip else raw  # type: ignore[assignment]
                try:
                    if self._wrap:
                        payload = reader.read()
                        self._write(fd, _recordio_header(len(payload)))
                        self._write(fd, payload + b"\0" * (-len(payload) % 4))
                    else:
                        while chunk := reader.read(_CHUNK):
                            self._write(fd, chunk)
                except (EOFError, zlib.error, gzip.BadGzipFile, ValueError) as exc:
                    raise RuntimeError(
                        f'ClientError: Data download failed: "{source_uri}": {exc}'
                    ) from exc
            if self._stop.is_set():
                return

    def _write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._stop.is_set():
                raise BrokenPipeError("the job ended")
            _, writable, _ = select.select([], [fd], [], 0.2)
            if not writable:
                continue
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(fd, view) :]
