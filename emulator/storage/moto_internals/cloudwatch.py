"""moto's CloudWatch (metrics): data points and the metric queries. See the package's notes
(`__init__.py`).

The metric store persists the data points moto's CloudWatch holds and puts them back at start;
the console reads metric series through here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from emulator.aws.arns import ACCOUNT_ID


class MetricPoint(NamedTuple):
    """One data point of moto's CloudWatch: a value, or a statistic set."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    timestamp: datetime
    """Naive UTC, as moto keeps it."""
    unit: str | None
    value: float | None
    """The value of a single-value point; None for a statistic set."""
    statistics: tuple[float, float, float, float] | None
    """(Sum, SampleCount, Minimum, Maximum) of a statistic set; None for a single value."""


def _cloudwatch_backend(region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[ACCOUNT_ID][region]


def list_metrics_in_linear_time() -> None:
    """Make moto's ListMetrics find each series once in one pass over the points.

    moto compares every point with every series found before it (quadratic: ListMetrics over
    10,000 points took minutes), and never merges the points of a series without dimensions.
    Installed once, on moto's class; the filters (namespace, name, dimensions) are moto's own.
    """
    from moto.cloudwatch.models import CloudWatchBackend

    def get_filtered_metrics(
        backend: Any, metric_name: str, namespace: str, dimensions: list[dict[str, str]]
    ) -> list[Any]:
        seen: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
        found: list[Any] = []
        for datum in backend.get_all_metrics():
            if not datum.filter(namespace=namespace, name=metric_name, dimensions=dimensions):
                continue
            pairs = tuple(sorted((str(d.name), str(d.value)) for d in datum.dimensions))
            key = (str(datum.namespace), str(datum.name), pairs)
            if key not in seen:
                seen.add(key)
                found.append(datum)
        return found

    setattr(CloudWatchBackend, "get_filtered_metrics", get_filtered_metrics)  # noqa: B010


def reset_metrics(region: str) -> None:
    """Forget every metric, alarm and dashboard of `region` (what a fresh process starts with)."""
    _cloudwatch_backend(region).reset()


def put_metric_data(region: str, namespace: str, metric_data: list[dict[str, Any]]) -> None:
    """PutMetricData's own path in moto: `metric_data` has the request's MetricData shape
    (Timestamp a naive UTC datetime). Raises moto's validation errors."""
    _cloudwatch_backend(region).put_metric_data(namespace, metric_data)


def metric_count(region: str) -> int:
    return len(_cloudwatch_backend(region).metric_data)


def metric_points(region: str, start: int = 0) -> list[MetricPoint]:
    """The points of `region` from index `start` on, in the order they were put."""
    from moto.cloudwatch.models import MetricAggregatedDatum

    points: list[MetricPoint] = []
    for datum in _cloudwatch_backend(region).metric_data[start:]:
        dimensions = tuple((str(d.name), str(d.value)) for d in datum.dimensions)
        stamp = datum.timestamp
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(UTC).replace(tzinfo=None)
        unit = None if datum.unit is None else str(datum.unit)
        if isinstance(datum, MetricAggregatedDatum):
            stats = (
                float(datum.sum),
                float(datum.sample_count),
                float(datum.min),
                float(datum.max),
            )
            points.append(
                MetricPoint(datum.namespace, datum.name, dimensions, stamp, unit, None, stats)
            )
        else:
            value = float(datum.value)
            points.append(
                MetricPoint(datum.namespace, datum.name, dimensions, stamp, unit, value, None)
            )
    return points


def _datum(point: MetricPoint, aggregated: Any, single: Any) -> Any:
    """moto's MetricAggregatedDatum (`aggregated`) or MetricDatum (`single`) of a point."""
    dimensions = [{"Name": name, "Value": value} for name, value in point.dimensions]
    if point.statistics is not None:
        total, count, low, high = point.statistics
        return aggregated(
            point.namespace,
            point.name,
            low,
            high,
            count,
            total,
            dimensions,
            point.timestamp,
            point.unit,
        )
    return single(
        point.namespace, point.name, point.value or 0.0, dimensions, point.timestamp, point.unit
    )


def restore_metric_points(region: str, points: list[MetricPoint]) -> None:
    """Put stored points before those `region` holds (which came after them)."""
    from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum

    backend = _cloudwatch_backend(region)
    made = [_datum(p, MetricAggregatedDatum, MetricDatum) for p in points]
    backend.metric_data = made + backend.metric_data


def keep_metric_points(region: str, keep: list[bool]) -> None:
    """Forget the points whose flag is False (`keep` has one flag per point, in order)."""
    backend = _cloudwatch_backend(region)
    backend.metric_data = [d for d, kept in zip(backend.metric_data, keep, strict=True) if kept]


def truncate_metric_points(region: str, count: int) -> None:
    """Forget every point after the first `count` (undo a write the disk refused)."""
    del _cloudwatch_backend(region).metric_data[count:]


# --- CloudWatch --------------------------------------------------------------------------------


def cloudwatch_metrics(region: str, namespace: str) -> list[tuple[str, dict[str, str]]]:
    """Each distinct metric of `namespace` (its name and dimensions), as ListMetrics finds them,
    in a stable order."""
    from moto.cloudwatch.models import cloudwatch_backends

    seen: dict[tuple[str, tuple[tuple[str, str], ...]], None] = {}
    for datum in cloudwatch_backends[ACCOUNT_ID][region].get_all_metrics():
        if datum.namespace == namespace:
            dims = tuple(sorted((str(d.name), str(d.value)) for d in datum.dimensions))
            seen[(datum.name, dims)] = None
    return [(name, dict(dims)) for name, dims in sorted(seen)]


def cloudwatch_metric_data(
    region: str, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """GetMetricData: `queries` are its MetricDataQueries (Id, Label, MetricStat); the answer is
    one result per query, in order, with Timestamps (aware UTC, oldest first) and Values."""
    from moto.cloudwatch.models import cloudwatch_backends

    if not queries:
        return []
    backend = cloudwatch_backends[ACCOUNT_ID][region]
    naive = [t.astimezone(UTC).replace(tzinfo=None) for t in (start, end)]  # as moto keeps them
    results = backend.get_metric_data(queries, naive[0], naive[1], "TimestampAscending")
    return [
        {
            "Id": result["id"],
            "Label": result["label"],
            "Timestamps": [t.replace(tzinfo=UTC) for t in result["timestamps"]],
            "Values": [float(v) for v in result["values"]],
            "StatusCode": result.get("status_code", "Complete"),
        }
        for result in results
    ]
