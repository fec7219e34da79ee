"""What the console reads besides SageMaker's records: S3, Logs and CloudWatch metrics.

A structural type, so the storage side (emulator.storage.console_reads) fits without the console
importing storage or moto. The shapes follow the AWS APIs they stand for: ListObjectsV2's keys and
sizes, GetLogEvents' events, GetMetricData's MetricDataResults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, BinaryIO, Protocol

LogLine = tuple[int, str]
"""One log event: milliseconds since the epoch, the message."""

MetricDataResult = dict[str, Any]
"""GetMetricData's MetricDataResult (Id, Label, Timestamps as aware datetimes, Values,
StatusCode), plus the MetricStat query that produced it."""


CallRecord = dict[str, Any]
"""One kept call, in the shape of a CloudTrail event (eventName, eventTime, awsRegion, requestID,
requestParameters...)."""


class ConsoleSources(Protocol):
    def calls(self, resource: str) -> list[CallRecord]:
        """The successful calls that made or changed the resource (its ARN), oldest first."""
        ...

    def bucket_names(self) -> list[str]: ...

    def list_objects(self, bucket: str, prefix: str) -> list[tuple[str, int]]: ...

    def open_object(self, bucket: str, key: str) -> BinaryIO: ...

    def log_group_names(self, region: str) -> list[str]: ...

    def log_stream_names(self, region: str, group: str) -> list[str]: ...

    def log_events(self, region: str, group: str, stream: str, start: int) -> list[LogLine]:
        """The stream's events from index `start` on (a cursor the caller keeps)."""
        ...

    def metric_data(
        self,
        region: str,
        namespace: str,
        dimension: tuple[str, str, bool],
        window: tuple[datetime, datetime],
        period: int,
    ) -> list[MetricDataResult]:
        """A series per metric of `namespace` (as ListMetrics finds them) whose dimension
        `dimension[0]` has the value `dimension[1]` (or starts with it, when `dimension[2]`),
        from GetMetricData over `window` at `period` seconds."""
        ...
