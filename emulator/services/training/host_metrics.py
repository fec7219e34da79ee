"""A training job's instance metrics: CPUUtilization and MemoryUtilization of each host.

Namespace `/aws/sagemaker/TrainingJobs`, dimension `Host` = `<job name>/algo-<n>`, unit Percent
(docs/sagemaker-facts.md#metrics): CPU as the sum over cores, memory as a share of what the host
may hold. The hosts are sampled every `every` seconds while they run (CPU from two samples in a
row); the samples of a minute make one statistic set per host and metric, published when the
minute is over and when the job's hosts have stopped.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from emulator.runtime.base import MeasuredCluster, Usage
from emulator.services.ports import MetricWriter

log = logging.getLogger(__name__)

NAMESPACE = "/aws/sagemaker/TrainingJobs"

_Key = tuple[str, str, int]
"""(host, metric, minute as epoch seconds)."""


class HostMetrics:
    def __init__(self, writer: MetricWriter, job_name: str, every: float = 1.0) -> None:
        self._writer = writer
        self._job = job_name
        self._every = every
        self._next = 0.0
        self._last: dict[str, tuple[float, Usage]] = {}
        self._samples: dict[_Key, list[float]] = {}

    def poll(self, cluster: object) -> None:
        """Sample the hosts if `every` seconds have passed (cheap otherwise: call it often)."""
        now = time.monotonic()
        if now < self._next or not isinstance(cluster, MeasuredCluster):
            return
        self._next = now + self._every
        minute = int(time.time()) // 60 * 60
        try:
            usages = cluster.host_usage()
        except Exception:
            log.warning("could not measure the hosts of training job %s", self._job, exc_info=True)
            return
        for host, usage in usages.items():
            previous = self._last.get(host)
            self._last[host] = (now, usage)
            if usage.memory_limit_bytes > 0:
                share = 100.0 * usage.memory_bytes / usage.memory_limit_bytes
                self._samples.setdefault((host, "MemoryUtilization", minute), []).append(share)
            if previous is not None and now > previous[0]:
                used = max(0.0, usage.cpu_seconds - previous[1].cpu_seconds)
                cpu = 100.0 * used / (now - previous[0])
                self._samples.setdefault((host, "CPUUtilization", minute), []).append(cpu)
        self._publish(before=minute)

    def close(self) -> None:
        """Publish every minute sampled so far (the hosts have stopped)."""
        self._publish(before=None)

    def _publish(self, before: int | None) -> None:
        done = [k for k in self._samples if before is None or k[2] < before]
        if not done:
            return
        data: list[dict[str, Any]] = []
        for key in done:
            host, metric, minute = key
            values = self._samples.pop(key)
            data.append(
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Host", "Value": f"{self._job}/{host}"}],
                    "Timestamp": datetime.fromtimestamp(minute, UTC),
                    "StatisticValues": {
                        "SampleCount": float(len(values)),
                        "Sum": sum(values),
                        "Minimum": min(values),
                        "Maximum": max(values),
                    },
                    "Unit": "Percent",
                }
            )
        try:
            self._writer.put_metric_data(NAMESPACE, data)
        except Exception:
            log.warning("could not publish the host metrics of %s", self._job, exc_info=True)
