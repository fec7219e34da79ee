"""Endpoint invocation metrics: per-minute statistic sets, published as SageMaker does.

Every InvokeEndpoint that reaches a model counts in namespace `AWS/SageMaker`, dimensions
`EndpointName` and `VariantName` (docs/sagemaker-facts.md#metrics): `Invocations` 1,
`InvocationsPerInstance` 1/instances of the variant, `Invocation4XXErrors` and
`Invocation5XXErrors` 1 or 0 by the model's status, `ModelLatency` and `OverheadLatency` in
microseconds. An asynchronous endpoint publishes only `ModelLatency` and the error counts.

Requests are not sent one by one: each metric is summed per variant and minute (Sum,
SampleCount, Minimum, Maximum), and the sets are published every `interval` seconds (one minute,
as SageMaker publishes them), before a CloudWatch request reads metrics, and when the service
closes; the instance metrics (hosting/instance_metrics.py) are sampled at the same times. A set carries the minute's start as its timestamp, so the points have CloudWatch's
one-minute period whatever the interval; two sets of one minute add up in CloudWatch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.services.ports import MetricWriter

log = logging.getLogger(__name__)

NAMESPACE = "AWS/SageMaker"
PERIOD_SECONDS = 60
MICROSECONDS = "Microseconds"
COUNT = "None"
"""CloudWatch's unit of SageMaker's invocation counts."""


@dataclass
class _Stats:
    total: float = 0.0
    count: int = 0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float) -> None:
        self.total += value
        self.count += 1
        self.low = min(self.low, value)
        self.high = max(self.high, value)


_Key = tuple[str, str, str, str, int]
"""(endpoint, variant, metric, unit, minute as epoch seconds)."""


class InvocationMetrics:
    def __init__(self, writer: MetricWriter, interval: float = float(PERIOD_SECONDS)) -> None:
        self._writer = writer
        self._interval = interval
        self._lock = threading.Lock()
        self._pending: dict[_Key, _Stats] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._samplers: list[Callable[[], None]] = []

    def also(self, sampler: Callable[[], None]) -> None:
        """Run `sampler` at every flush too (the instance metrics are sampled then)."""
        self._samplers.append(sampler)

    def record(
        self,
        endpoint: str,
        variant: str,
        *,
        status: int,
        model_seconds: float,
        total_seconds: float,
        instances: int,
        asynchronous: bool = False,
        at: float | None = None,
    ) -> None:
        """One request the model answered with `status` (408 when it did not answer in time)."""
        minute = int(at if at is not None else time.time()) // PERIOD_SECONDS * PERIOD_SECONDS
        model_us = model_seconds * 1_000_000
        values: list[tuple[str, str, float]] = [
            ("ModelLatency", MICROSECONDS, model_us),
            ("Invocation4XXErrors", COUNT, 1.0 if 400 <= status < 500 else 0.0),
            ("Invocation5XXErrors", COUNT, 1.0 if status >= 500 else 0.0),
        ]
        if not asynchronous:
            overhead_us = max(0.0, total_seconds * 1_000_000 - model_us)
            values += [
                ("Invocations", COUNT, 1.0),
                ("InvocationsPerInstance", COUNT, 1.0 / max(1, instances)),
                ("OverheadLatency", MICROSECONDS, overhead_us),
            ]
        with self._lock:
            for name, unit, value in values:
                key = (endpoint, variant, name, unit, minute)
                stats = self._pending.get(key)
                if stats is None:
                    stats = self._pending[key] = _Stats()
                stats.add(value)

    def flush(self) -> None:
        """Publish what was counted since the last flush (outside the lock: requests go on)."""
        for sampler in self._samplers:
            sampler()
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        data: list[dict[str, Any]] = []
        for (endpoint, variant, name, unit, minute), stats in pending.items():
            data.append(
                {
                    "MetricName": name,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": variant},
                    ],
                    "Timestamp": datetime.fromtimestamp(minute, UTC),
                    "StatisticValues": {
                        "SampleCount": float(stats.count),
                        "Sum": stats.total,
                        "Minimum": stats.low,
                        "Maximum": stats.high,
                    },
                    "Unit": unit,
                }
            )
        try:
            self._writer.put_metric_data(NAMESPACE, data)
        except Exception:
            # A full disk loses these points; it must not fail requests or the flusher.
            log.warning("could not publish %d endpoint metric point(s)", len(data), exc_info=True)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="endpoint-metrics", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the flusher and publish what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()
