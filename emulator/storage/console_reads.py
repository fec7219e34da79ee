"""The console's reads of S3, Logs and CloudWatch (emulator.console.sources.ConsoleSources).

Each read takes the lock of the store it reads (moto is not thread-safe) and, for Logs, first
loads from disk the events a GetLogEvents would load, so the console sees what the API sees.
CloudWatch's metrics live in moto's backend only; the queries are GetMetricData's own
(MetricStat with Namespace, MetricName, Dimensions, Period, Stat), run by moto
(through emulator.storage.moto_internals, like every use of moto; Logs through moto_logs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO

from emulator.storage import moto_cloudwatch, moto_logs
from emulator.storage import moto_internals as moto
from emulator.storage.call_history import CallHistory
from emulator.storage.logs import RegionalLogs
from emulator.storage.metrics import RegionalMetrics
from emulator.storage.s3 import S3Store

SUM_METRICS = frozenset({"Invocations", "Invocation4XXErrors", "Invocation5XXErrors"})
"""Counts: summed per period, as the CloudWatch console does; other metrics are averaged."""

_CLOUDWATCH_LOCK = threading.Lock()


class ConsoleStoreReader:
    def __init__(
        self,
        s3: S3Store,
        logs: RegionalLogs,
        metrics: RegionalMetrics | None = None,
        before_metrics: Callable[[], None] | None = None,
        calls: CallHistory | None = None,
    ) -> None:
        self._s3 = s3
        self._logs = logs
        self._metrics = metrics
        self._before_metrics = before_metrics
        """Publishes the endpoint metrics counted so far (as before a CloudWatch request)."""
        self._calls = calls

    def calls(self, resource: str) -> list[dict[str, Any]]:
        return [] if self._calls is None else self._calls.calls(resource)

    def bucket_names(self) -> list[str]:
        with self._s3.lock:
            return sorted(moto.bucket_names())

    def list_objects(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        return self._s3.list_keys(bucket, prefix)

    def open_object(self, bucket: str, key: str) -> BinaryIO:
        return self._s3.open_object(bucket, key)

    def log_group_names(self, region: str) -> list[str]:
        store = self._logs.get(region)
        with store.lock:
            return sorted(moto_logs.log_group_names(region))

    def log_stream_names(self, region: str, group: str) -> list[str]:
        store = self._logs.get(region)
        with store.lock:
            found = moto_logs.log_group(region, group)
            return [] if found is None else sorted(moto_logs.log_streams(found))

    def log_events(self, region: str, group: str, stream: str, start: int) -> list[tuple[int, str]]:
        store = self._logs.get(region)
        body = {"logGroupName": group, "logStreamName": stream}
        store.load_for_request("Logs.GetLogEvents", body, region)
        with store.lock:
            found = moto_logs.log_stream(region, group, stream)
            if found is None:
                return []
            return [(e.timestamp, e.message) for e in moto_logs.stream_events(found, start)]

    def metric_data(
        self,
        region: str,
        namespace: str,
        dimension: tuple[str, str, bool],
        window: tuple[datetime, datetime],
        period: int,
    ) -> list[dict[str, Any]]:
        wanted, expected, prefix = dimension
        if self._before_metrics is not None:
            self._before_metrics()
        lock = _CLOUDWATCH_LOCK if self._metrics is None else self._metrics.lock
        with lock:
            if self._metrics is not None:
                self._metrics.get(region).load_region(region)  # stored points, once
            metrics = [
                (name, dims)
                for name, dims in moto_cloudwatch.cloudwatch_metrics(region, namespace)
                if dims.get(wanted) == expected
                or (prefix and dims.get(wanted, "").startswith(expected))
            ]
            queries = [
                {
                    "Id": f"m{i}",
                    "Label": _label(name, dims, wanted),
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": name,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                        },
                        "Period": period,
                        "Stat": "Sum" if name in SUM_METRICS else "Average",
                    },
                }
                for i, (name, dims) in enumerate(metrics)
            ]
            results = moto_cloudwatch.cloudwatch_metric_data(region, queries, *window)
        return [
            {**result, "MetricStat": asked["MetricStat"]}
            for asked, result in zip(queries, results, strict=True)
        ]


def _label(name: str, dims: dict[str, str], matched: str) -> str:
    others = [f"{v}" for k, v in sorted(dims.items()) if k != matched]
    host = dims.get("Host", "")
    if "/" in host:
        others.append(host.rsplit("/", 1)[1])  # algo-N
    return f"{name} ({', '.join(others)})" if others else name
