"""One SageMaker control plane per region, as AWS keeps resources per account and region.

Each region gets its own SageMakerService: its records (in its own store under
`<data dir>/regions/<region>/`), names, ARNs, log streams and endpoints. A region's service is
made on the first request that names it (as moto makes its per-region backends), and every region
found on disk is started again at start-up, so endpoints of every region come back after a restart.
S3 is shared (bucket names are global per partition); the container runtime is shared.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from emulator.aws.context import is_region_name
from emulator.runtime.base import ContainerRuntime
from emulator.services.operations import invoke
from emulator.services.ports import LogWriter, MetricWriter, Notifier, ObjectStore
from emulator.services.sagemaker import SageMakerService

log = logging.getLogger(__name__)

REGIONS_DIR = "regions"
_LEGACY_ENTRIES = (
    "state.sqlite3",
    "state.sqlite3-wal",
    "state.sqlite3-shm",
    "training-jobs",
    "transform-jobs",
    "endpoints",
)
"""What a data dir of version 0.1 (one region, files at the top) holds for SageMaker."""


@dataclass(frozen=True)
class RegionSettings:
    region: str
    data_dir: Path


class RegionalServices:
    """Region name -> that region's SageMakerService, created on demand."""

    def __init__(
        self,
        data_dir: Path,
        default_region: str,
        runtime: ContainerRuntime,
        s3: ObjectStore,
        logs_for: Callable[[str], LogWriter],
        notifier: Notifier | None = None,
        metrics_for: Callable[[str], MetricWriter] | None = None,
        metrics_flush_seconds: float = 60.0,
    ) -> None:
        self.default_region = default_region
        self._metrics_for = metrics_for
        self._metrics_flush_seconds = metrics_flush_seconds
        self.runtime = runtime
        self._root = data_dir / REGIONS_DIR
        self._s3 = s3
        self._logs_for = logs_for
        self._notifier = notifier
        self._lock = threading.Lock()
        self._services: dict[str, SageMakerService] = {}
        self._started = False
        self._closed = False
        _adopt_legacy_layout(data_dir, self._root / default_region)

    def start(self) -> None:
        """Start every region that has state on disk (and the default one)."""
        self.runtime.cleanup_orphans()
        names = {self.default_region}
        if self._root.is_dir():
            names |= {p.name for p in self._root.iterdir() if p.is_dir() and is_region_name(p.name)}
        with self._lock:
            self._started = True
        for name in sorted(names):
            self.get(name)

    def get(self, region: str) -> SageMakerService:
        """The service of `region` (a validated region name), started."""
        with self._lock:
            service = self._services.get(region)
            if service is not None:
                return service
            if self._closed:
                raise RuntimeError("the emulator is shutting down")
            if not is_region_name(region):
                raise ValueError(f"not a region name: {region!r}")
            settings = RegionSettings(region, self._root / region)
            service = SageMakerService(
                settings=settings,
                runtime=self.runtime,
                s3=self._s3,
                logs=self._logs_for(region),
                notifier=self._notifier,
                metrics=self._metrics_for(region) if self._metrics_for else None,
                metrics_flush_seconds=self._metrics_flush_seconds,
            )
            # Internal callers (a tuning job creating its children) take the HTTP path's checks.
            service.bind_operations(partial(invoke, service))
            self._services[region] = service
            started = self._started
        if started:
            service.start()
        return service

    def all(self) -> list[SageMakerService]:
        with self._lock:
            return list(self._services.values())

    def flush_metrics(self) -> None:
        """Publish every region's endpoint metrics counted so far."""
        for service in self.all():
            service.flush_metrics()

    def reset(self) -> None:
        """Forget every region's SageMaker state (moto's `/moto-api/reset`): running jobs and
        endpoints are stopped, records and job folders deleted. Requests wait meanwhile."""
        with self._lock:
            services = list(self._services.values())
            self._services.clear()
            for service in services:
                try:
                    service.close()
                except Exception:
                    log.exception("error while resetting the %s control plane", service.region)
            shutil.rmtree(self._root, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            services = list(self._services.values())
        for service in services:
            try:
                service.close()
            except Exception:
                log.exception("error while closing the %s control plane", service.region)


def _adopt_legacy_layout(data_dir: Path, default_region_dir: Path) -> None:
    """Move a one-region data dir (version 0.1) under regions/<default region>."""
    legacy = [data_dir / name for name in _LEGACY_ENTRIES if (data_dir / name).exists()]
    if not legacy or default_region_dir.exists():
        return
    default_region_dir.mkdir(parents=True)
    for path in legacy:
        shutil.move(str(path), default_region_dir / path.name)
    log.info("moved the SageMaker state of %s under %s", data_dir, default_region_dir)
