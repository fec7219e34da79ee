"""What the services need from the stores and settings the plumbing provides.

Structural types, so `emulator.storage.s3.S3Store`, `emulator.storage.logs.LogStore` and
`emulator.config.Settings` fit without the services importing the HTTP or moto side.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol


class ObjectStore(Protocol):
    def get_object(self, bucket: str, key: str) -> bytes: ...

    def open_object(self, bucket: str, key: str) -> BinaryIO: ...

    def list_keys(self, bucket: str, prefix: str) -> list[tuple[str, int]]: ...

    def put_object(self, bucket: str, key: str, data_or_file: bytes | BinaryIO) -> None: ...

    def head_bucket(self, bucket: str) -> bool: ...


class LogWriter(Protocol):
    def ensure_stream(self, group: str, stream: str) -> None: ...

    def put_lines(
        self, group: str, stream: str, lines: list[str], timestamp_ms: int | None = None
    ) -> None: ...


class ServiceSettings(Protocol):
    @property
    def region(self) -> str: ...

    @property
    def data_dir(self) -> Path: ...
