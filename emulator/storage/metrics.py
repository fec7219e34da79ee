"""CloudWatch metrics for the services, over moto's CloudWatch backend, persisted per region.

The services publish through `put_metric_data` (training metrics, endpoint invocations); clients
publish through moto's API (PutMetricData), and the moto bridge calls `sync` after every
CloudWatch request, before the response is sent. Both paths end in `sync`, which appends the points
moto got since the last sync to the region's file, so what was acknowledged survives a restart; a
write the disk refuses is undone in moto too and raises `DiskFull`. Alarms and dashboards are not
kept (moto holds them until the process ends).

Layout under the store's root: `<region>.jsonl`, one point a line::

    [namespace, name, [[dimension, value], ...], timestamp ms, unit, value]
    [namespace, name, [[dimension, value], ...], timestamp ms, unit, [sum, count, min, max]]

Bounded, as CloudWatch keeps one-minute data 15 days: a point older than `RETENTION_DAYS` is
dropped, a series keeps its newest `MAX_POINTS_PER_SERIES` points (15 days of one a minute) and a
region its newest `MAX_POINTS_PER_REGION`. The bounds are applied at start, when a series or the
region passes its bound by a tenth, and once an hour; the file is then rewritten without what was
dropped. Start time does not grow with history: a region's file is read on its first use (a
CloudWatch request signed for it, or a point published there). (No roll-up into 5-minute and 1-hour points as CloudWatch does for older data.)
"""

from __future__ import annotations

import collections
import copy
import json
import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from emulator.storage.file_writes import append_lines, replace_file
from emulator.storage.moto_internals import cloudwatch as moto_cloudwatch
from emulator.storage.moto_internals.cloudwatch import MetricPoint
from emulator.storage.space import DiskFull, is_disk_full

log = logging.getLogger(__name__)

RETENTION_DAYS = 15
MAX_POINTS_PER_SERIES = RETENTION_DAYS * 24 * 60
MAX_POINTS_PER_REGION = 100_000
"""moto scans every point of the region for each GetMetricStatistics: this keeps one under a second."""
_SLACK = 1.1
"""Bounds are enforced when passed by a tenth, so a full series is not rewritten at every point."""
_PRUNE_EVERY_SECONDS = 3600.0

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]


class MetricStore:
    def __init__(self, root: Path, region: str = "us-east-1") -> None:
        self.root = root
        self.region = region
        self.lock = threading.RLock()
        """Held around every use of moto's CloudWatch backend (moto itself is not thread-safe)."""
        root.mkdir(parents=True, exist_ok=True)
        moto_cloudwatch.list_metrics_in_linear_time()
        self._written: dict[str, int] = {}
        """region -> points of moto's list that are on disk."""
        self._series: dict[str, collections.Counter[SeriesKey]] = {}
        self._pruned: dict[str, float] = {}
        self._unloaded = {path.stem for path in root.glob("*.jsonl")}
        """Regions whose file is not read yet: read on their first use, not at start."""
        log.info("metrics: points of %d region(s) on disk", len(self._unloaded))

    def for_region(self, region: str) -> MetricStore:
        """This store with `region` as its default (the same files, state and lock)."""
        view = copy.copy(self)
        view.region = region
        return view

    # --- the services' interface ----------------------------------------------------------------

    def put_metric_data(self, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        """PutMetricData in this view's region: `metric_data` has the request's MetricData shape,
        with aware or naive-UTC datetimes as Timestamp."""
        data = [{**d, "Timestamp": _naive_utc(d["Timestamp"])} for d in metric_data]
        with self.lock:
            self.load_region(self.region)
            moto_cloudwatch.put_metric_data(self.region, namespace, data)
            self.sync(self.region)

    def close(self) -> None:
        """Nothing is buffered: every point is on disk when its call returns."""

    # --- persistence --------------------------------------------------------------------------

    def load_region(self, region: str) -> None:
        """Put the region's stored points into moto, once (before a request that uses them)."""
        with self.lock:
            if region in self._unloaded:
                self._unloaded.discard(region)
                self._load(region, self._path(region))

    def sync(self, region: str | None = None) -> None:
        """Append to the region's file what moto got since the last sync; on a refused write,
        undo it in moto."""
        region = region or self.region
        with self.lock:
            self.load_region(region)
            written = self._written.get(region, 0)
            count = moto_cloudwatch.metric_count(region)
            if count == written:
                return
            if count < written:  # moto forgot points (a reset of its backends): start over
                self._rewrite(region)
                return
            points = moto_cloudwatch.metric_points(region, written)
            try:
                append_lines(self._path(region), _lines(points).encode())
            except Exception as exc:
                moto_cloudwatch.truncate_metric_points(region, written)
                if is_disk_full(exc):
                    raise DiskFull() from exc
                raise
            self._written[region] = count
            series = self._series.setdefault(region, collections.Counter())
            series.update(_key(p) for p in points)
            if self._over_bounds(region):
                self._prune(region)

    def reset(self) -> None:
        """Forget every region's points on disk (moto's own state is reset by the caller)."""
        with self.lock:
            self._written.clear()
            self._unloaded.clear()
            self._series.clear()
            self._pruned.clear()
            for path in self.root.glob("*.jsonl"):
                path.unlink(missing_ok=True)

    def _path(self, region: str) -> Path:
        return self.root / f"{region}.jsonl"

    def _over_bounds(self, region: str) -> bool:
        if time.monotonic() - self._pruned.get(region, 0.0) > _PRUNE_EVERY_SECONDS:
            return True
        series = self._series.get(region, collections.Counter())
        if self._written.get(region, 0) > MAX_POINTS_PER_REGION * _SLACK:
            return True
        return any(n > MAX_POINTS_PER_SERIES * _SLACK for n in series.values())

    def _prune(self, region: str) -> None:
        """Drop expired points and what passes the bounds, in moto and on disk."""
        points = moto_cloudwatch.metric_points(region)
        keep = _kept(points, datetime.now(UTC).replace(tzinfo=None))
        if not all(keep):
            moto_cloudwatch.keep_metric_points(region, keep)
            self._rewrite(region)
        self._pruned[region] = time.monotonic()

    def _rewrite(self, region: str) -> None:
        points = moto_cloudwatch.metric_points(region)
        path = self._path(region)
        try:
            replace_file(path, _lines(points).encode())
        except OSError:  # no space to compact now: the file keeps every point
            log.warning("metrics: could not rewrite %s", path)
            return
        self._written[region] = len(points)
        self._series[region] = collections.Counter(_key(p) for p in points)

    def _load(self, region: str, path: Path) -> None:
        started = time.monotonic()
        points, damaged = _read(path)
        # Before what moto holds of the region already (nothing, unless a request came first).
        moto_cloudwatch.restore_metric_points(region, points)
        self._written[region] = len(points)
        self._series[region] = collections.Counter(_key(p) for p in points)
        keep = _kept(moto_cloudwatch.metric_points(region), datetime.now(UTC).replace(tzinfo=None))
        if not all(keep):
            moto_cloudwatch.keep_metric_points(region, keep)
        if damaged or not all(keep):
            self._rewrite(region)
        self._pruned[region] = time.monotonic()
        log.info(
            "metrics: %d point(s) of %s read (%.2f s)",
            len(points),
            region,
            time.monotonic() - started,
        )


class RegionalMetrics:
    """The metric stores of all regions: one `MetricStore` (CloudWatch is per region; its files
    are kept per region under one root), seen through a per-region view."""

    def __init__(self, root: Path, default_region: str) -> None:
        self.root = root
        self._store = MetricStore(root, default_region)
        self.lock = self._store.lock

    def get(self, region: str) -> MetricStore:
        return self._store.for_region(region)

    def reset(self) -> None:
        self._store.reset()

    def close(self) -> None:
        self._store.close()


def _kept(points: list[MetricPoint], now: datetime) -> list[bool]:
    """Which points the bounds keep: not expired, among the newest of their series and region."""
    oldest = now - timedelta(days=RETENTION_DAYS)
    keep = [p.timestamp >= oldest for p in points]
    by_series: dict[SeriesKey, list[int]] = collections.defaultdict(list)
    for index, point in enumerate(points):
        if keep[index]:
            by_series[_key(point)].append(index)
    for indices in by_series.values():
        if len(indices) > MAX_POINTS_PER_SERIES:
            indices.sort(key=lambda i: points[i].timestamp)
            for index in indices[:-MAX_POINTS_PER_SERIES]:
                keep[index] = False
    alive = [i for i, kept in enumerate(keep) if kept]
    if len(alive) > MAX_POINTS_PER_REGION:
        alive.sort(key=lambda i: points[i].timestamp)
        for index in alive[:-MAX_POINTS_PER_REGION]:
            keep[index] = False
    return keep


def _key(point: MetricPoint) -> SeriesKey:
    return (point.namespace, point.name, tuple(sorted(point.dimensions)))


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _encode(point: MetricPoint) -> str:
    stamp = round(point.timestamp.replace(tzinfo=UTC).timestamp() * 1000)
    value: Any = point.value if point.statistics is None else list(point.statistics)
    row = [point.namespace, point.name, [list(d) for d in point.dimensions], stamp, point.unit]
    return json.dumps([*row, value], separators=(",", ":")) + "\n"


def _lines(points: Iterable[MetricPoint]) -> str:
    return "".join(_encode(p) for p in points)


def _decode(line: str) -> MetricPoint:
    namespace, name, dimensions, stamp, unit, value = json.loads(line)
    when = datetime.fromtimestamp(stamp / 1000, UTC).replace(tzinfo=None)
    dims = tuple((str(k), str(v)) for k, v in dimensions)
    if isinstance(value, list):
        total, count, low, high = (float(v) for v in value)
        return MetricPoint(namespace, name, dims, when, unit, None, (total, count, low, high))
    return MetricPoint(namespace, name, dims, when, unit, float(value), None)


def _read(path: Path) -> tuple[list[MetricPoint], bool]:
    points: list[MetricPoint] = []
    damaged = False
    with path.open("r", encoding="utf-8") as handle:
        for line in handle:
            try:
                points.append(_decode(line))
            except (ValueError, TypeError):
                damaged = True  # a line cut short by a crash: the file is rewritten without it
    return points, damaged
