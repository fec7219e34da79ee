"""Endpoint instance metrics: CPUUtilization and MemoryUtilization of the serving containers.

Namespace `/aws/sagemaker/Endpoints`, dimensions `EndpointName` and `VariantName`, unit Percent
(docs/sagemaker-facts.md#metrics): CPU as the sum over cores (up to 100 times the vCPUs), memory
as a share of what the container may hold (its instance type's memory). Each sample is one value
per instance; a variant's instances make one statistic set, at the minute's start. CPU needs two
samples of an instance at least a second apart, so an instance's first sample gives memory only.
Containers whose runtime cannot measure them publish nothing.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from emulator.runtime.base import MeasuredHandle, Usage
from emulator.services.invocation import InvocationRouter
from emulator.services.ports import MetricWriter

log = logging.getLogger(__name__)

NAMESPACE = "/aws/sagemaker/Endpoints"
_MIN_GAP_SECONDS = 1.0


class InstanceMetrics:
    def __init__(self, writer: MetricWriter, router: InvocationRouter) -> None:
        self._writer = writer
        self._router = router
        self._last: dict[str, tuple[float, Usage]] = {}
        """instance id -> (monotonic time, usage) of its last sample."""

    def sample(self) -> None:
        """Measure every serving instance now and publish one statistic set per variant."""
        now = time.monotonic()
        minute = datetime.fromtimestamp(int(time.time()) // 60 * 60, UTC)
        seen: set[str] = set()
        data: list[dict[str, Any]] = []
        for endpoint_name, endpoint in self._router.items():
            for variant in endpoint.variants:
                cpu: list[float] = []
                memory: list[float] = []
                for instance in variant.serving():
                    seen.add(instance.instance_id)
                    previous = self._last.get(instance.instance_id)
                    if previous is not None and now - previous[0] < _MIN_GAP_SECONDS:
                        continue
                    handle = instance.handle
                    usage = handle.usage() if isinstance(handle, MeasuredHandle) else None
                    if usage is None:
                        continue
                    self._last[instance.instance_id] = (now, usage)
                    if usage.memory_limit_bytes > 0:
                        memory.append(100.0 * usage.memory_bytes / usage.memory_limit_bytes)
                    if previous is not None:
                        used = max(0.0, usage.cpu_seconds - previous[1].cpu_seconds)
                        cpu.append(100.0 * used / (now - previous[0]))
                dimensions = [
                    {"Name": "EndpointName", "Value": endpoint_name},
                    {"Name": "VariantName", "Value": variant.name},
                ]
                for name, values in (("CPUUtilization", cpu), ("MemoryUtilization", memory)):
                    if values:
                        data.append(_statistic_set(name, dimensions, minute, values))
        for gone in set(self._last) - seen:
            del self._last[gone]
        if not data:
            return
        try:
            self._writer.put_metric_data(NAMESPACE, data)
        except Exception:
            log.warning("could not publish the endpoint instance metrics", exc_info=True)


def _statistic_set(
    name: str, dimensions: list[dict[str, str]], minute: datetime, values: list[float]
) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": minute,
        "StatisticValues": {
            "SampleCount": float(len(values)),
            "Sum": sum(values),
            "Minimum": min(values),
            "Maximum": max(values),
        },
        "Unit": "Percent",
    }
