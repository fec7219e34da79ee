"""What the services need from the stores and settings the plumbing provides.

Structural types, so `emulator.storage.s3.S3Store`, `emulator.storage.logs.LogStore`,
`emulator.storage.metrics.MetricStore` and
`emulator.config.Settings` fit without the services importing the HTTP or moto side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Protocol


class ObjectStore(Protocol):
    def get_object(self, bucket: str, key: str) -> bytes: ...

    def open_object(self, bucket: str, key: str) -> BinaryIO: ...

    def list_keys(self, bucket: str, prefix: str) -> list[tuple[str, int]]: ...

    def content_type(self, bucket: str, key: str) -> str | None: ...

    def put_object(
        self,
        bucket: str,
        key: str,
        data_or_file: bytes | BinaryIO,
        content_type: str | None = None,
    ) -> None: ...

    def head_bucket(self, bucket: str) -> bool: ...


class LogWriter(Protocol):
    def ensure_stream(self, group: str, stream: str) -> None: ...

    def put_lines(
        self, group: str, stream: str, lines: list[str], timestamp_ms: int | None = None
    ) -> None: ...


class MetricWriter(Protocol):
    def put_metric_data(self, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        """CloudWatch PutMetricData in the writer's region (MetricData members of the request's
        shape, datetimes as Timestamp)."""
        ...


class NoMetrics:
    """A MetricWriter that keeps nothing (services built without a metric store)."""

    def put_metric_data(self, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        return None


class Notifier(Protocol):
    def publish(self, region: str, topic_arn: str, message: str) -> str | None:
        """Publish to an SNS topic; None on success, else why it failed."""
        ...


class ServiceSettings(Protocol):
    @property
    def region(self) -> str: ...

    @property
    def data_dir(self) -> Path: ...
