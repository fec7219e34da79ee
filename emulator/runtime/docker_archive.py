"""The /opt/ml tree in and out of a container by archive (put_archive / get_archive).

What the Docker runtime falls back to where the engine cannot see the emulator's files (the
emulator in a container beside it, a remote engine): the tree is copied in before the container
starts and model/ and output/ are copied back after it exits.
"""

from __future__ import annotations

import io
import logging
import queue
import shutil
import tarfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import docker.errors
from docker.models.containers import Container

log = logging.getLogger(__name__)


class _QueueWriter(io.RawIOBase):
    """A write-only file whose writes go, bounded, to a queue that a generator drains."""

    def __init__(self, chunks: queue.Queue[bytes | BaseException | None]) -> None:
        self._chunks = chunks

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        payload = bytes(data)
        if payload:
            self._chunks.put(payload)
        return len(payload)


def _reset_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Root-owned inside the container, as the real service stages /opt/ml. Directories are
    # writable by all so an image that runs as another user can still write model/ and output/.
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if info.isdir():
        info.mode = 0o777
    return info


def opt_ml_archive(opt_ml: Path) -> Iterator[bytes]:
    """A tar stream of the host tree as /opt/ml, produced by a thread with bounded memory, so a
    multi-GiB channel streams into the container instead of being built in memory."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)

    def produce() -> None:
        try:
            with tarfile.open(fileobj=_QueueWriter(chunks), mode="w|", bufsize=1 << 20) as tar:
                opt = tarfile.TarInfo("opt")
                opt.type = tarfile.DIRTYPE
                opt.mode = 0o755
                tar.addfile(opt)
                tar.add(str(opt_ml), arcname="opt/ml", filter=_reset_owner)
            chunks.put(None)
        except BaseException as exc:  # Handed to the consumer, which raises it.
            chunks.put(exc)

    threading.Thread(target=produce, name="optml-archive", daemon=True).start()
    while True:
        chunk = chunks.get()
        if chunk is None:
            return
        if isinstance(chunk, BaseException):
            raise chunk
        yield chunk


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (what get_archive returns)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def copy_out(container: Container, path: str, destination: Path) -> bool:
    """Extract the container's `path` (a directory) under `destination`; False if it is absent."""
    try:
        chunks, _stat = container.get_archive(path, chunk_size=1 << 20)
    except docker.errors.NotFound:
        return False
    try:
        with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as tar:
            for member in tar:
                _extract_member(tar, member, destination)
    finally:
        # Read the response to its end whatever happened: the engine holds the container's lock
        # until it has written the whole archive, and a removal would wait for it.
        for _ in chunks:
            pass
    return True


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path) -> None:
    """Plain files and directories only, inside `destination`: the archive comes from code we do
    not control (bring your own container). Written out by hand because tarfile's extraction
    filters need Python 3.11.4 and Debian bookworm's python3 is 3.11.2."""
    parts = PurePosixPath(member.name).parts
    if member.name.startswith("/") or ".." in parts or not parts:
        log.warning("skipping %r from %s: outside the tree", member.name, destination)
        return
    target = destination.joinpath(*parts)
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
    elif member.isfile():
        target.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        assert source is not None  # a regular file always has content
        with source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    else:
        log.warning("skipping %r from %s: not a file or directory", member.name, destination)
