"""Batch transform's data path: split an input object into records, pack records into request
bodies, and join the container's answers into the output object.

Copies the real service's TransformInput.SplitType (None: the whole object is one record; Line:
newline-delimited records; RecordIO: whole RecordIO records), BatchStrategy (SingleRecord: one
record per request; MultiRecord: as many records as fit in MaxPayloadInMB) and
TransformOutput.AssembleWith (None: answers concatenated; Line: each answer on its own line).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

MEGABYTE = 1024 * 1024
_READ_CHUNK = 1 << 20


class ByteSource(Protocol):
    """A readable binary file: an S3 store object, or a GzipFile over one."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int | None: ...

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class PayloadTooLarge(ValueError):
    """A record alone is bigger than MaxPayloadInMB: the real service fails the job."""


def iter_records(stream: ByteSource, split_type: str, name: str) -> Iterator[bytes]:
    """The records of one input object, each as the bytes a request carries.

    Line records keep (or get) their trailing newline so several of them concatenate into a
    valid multi-line body; empty lines carry no record and are dropped. RecordIO records are
    re-framed one by one (a multi-part record comes back as one record).
    """
    if split_type == "Line":
        for line in stream:
            if line.strip(b"\r\n"):
                yield line if line.endswith(b"\n") else line + b"\n"
    elif split_type == "RecordIO":
        # Imported here: RecordIO's module loads numpy and protobuf, which a start need not wait for.
        from algorithms.common.recordio import frame, iter_payloads

        for payload in iter_payloads(stream, name):
            yield frame(payload)
    elif split_type == "None":
        chunks = []
        while chunk := stream.read(_READ_CHUNK):
            chunks.append(chunk)
        yield b"".join(chunks)
    else:
        raise ValueError(f"SplitType {split_type} is not supported by this emulator")


def pack_requests(
    records: Iterable[bytes], batch_strategy: str, max_payload_mb: int
) -> Iterator[bytes]:
    """Request bodies: one record each (SingleRecord) or as many as fit (MultiRecord).

    MaxPayloadInMB 0 means no limit (the real API allows 0 for unlimited payloads).
    """
    limit = max_payload_mb * MEGABYTE if max_payload_mb > 0 else None
    batch: list[bytes] = []
    size = 0
    for index, record in enumerate(records):
        if limit is not None and len(record) > limit:
            raise PayloadTooLarge(
                f"record {index + 1} is {len(record)} bytes, more than MaxPayloadInMB "
                f"({max_payload_mb} MB)"
            )
        if batch_strategy == "SingleRecord":
            yield record
            continue
        if batch and limit is not None and size + len(record) > limit:
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield b"".join(batch)


def assemble(answer: bytes, assemble_with: str) -> bytes:
    """One answer as it goes into the output object."""
    if assemble_with == "Line" and not answer.endswith(b"\n"):
        return answer + b"\n"
    return answer
