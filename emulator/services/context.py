"""What every service of one region is built from: one value instead of eight arguments."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from emulator.runtime.base import ContainerRuntime
from emulator.services.jobs import JobEvents
from emulator.services.ports import LogWriter, MetricWriter, NoMetrics, ObjectStore
from emulator.services.tags import TagService
from emulator.state.store import RecordStore


@dataclass(frozen=True)
class ServiceContext:
    region: str
    data_dir: Path
    """The region's data directory (resolved); each service keeps its files in a folder of it."""
    runtime: ContainerRuntime
    s3: ObjectStore
    logs: LogWriter
    store: RecordStore
    tags: TagService
    events: JobEvents = field(default_factory=JobEvents)
    """Status changes of the region's jobs (a tuning job follows its children here)."""
    metrics: MetricWriter = field(default_factory=NoMetrics)
    """CloudWatch metrics of the region (training metrics, endpoint invocations)."""
