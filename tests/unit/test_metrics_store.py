"""MetricStore (moto's CloudWatch, persisted per region, bounded) and the per-minute statistic sets
of endpoint invocations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulator.services.endpoint_metrics import InvocationMetrics
from emulator.storage import metrics as metrics_module
from emulator.storage.metrics import MetricStore
from emulator.storage.moto_internals import cloudwatch as moto_cloudwatch

REGION = "ap-southeast-3"  # a region no other test writes metrics to


def _value(name: str, at: datetime, value: float = 1.0) -> dict[str, object]:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": "TrainingJobName", "Value": "job"}],
        "Timestamp": at,
        "Value": value,
    }


def test_points_survive_a_new_process_and_a_cut_line(tmp_path: Path) -> None:
    moto_cloudwatch.reset_metrics(REGION)
    store = MetricStore(tmp_path, "us-east-1").for_region(REGION)
    at = datetime.now(UTC).replace(microsecond=0)
    store.put_metric_data("/aws/sagemaker/TrainingJobs", [_value("a", at, 1.5)])
    store.put_metric_data("/aws/sagemaker/TrainingJobs", [_value("b", at, 2.5)])
    path = tmp_path / f"{REGION}.jsonl"
    assert len(path.read_text().splitlines()) == 2
    with path.open("a") as out:
        out.write('["/aws/sagemaker/TrainingJobs","c",[["Tr')  # cut short by kill -9
    moto_cloudwatch.reset_metrics(REGION)  # what a new process starts with
    again = MetricStore(tmp_path, "us-east-1")
    assert moto_cloudwatch.metric_count(REGION) == 0  # read on the region's first use, not at start
    again.load_region(REGION)
    points = moto_cloudwatch.metric_points(REGION)
    assert [(p.name, p.value, p.timestamp) for p in points] == [
        ("a", 1.5, at.replace(tzinfo=None)),
        ("b", 2.5, at.replace(tzinfo=None)),
    ]
    assert len(path.read_text().splitlines()) == 2  # rewritten without the cut line
    # A client's PutMetricData (moto's own path) is appended at the bridge's sync.
    moto_cloudwatch.put_metric_data(REGION, "Mine", [_value("c", at.replace(tzinfo=None))])
    again.sync(REGION)
    assert len(path.read_text().splitlines()) == 3


def test_expired_points_and_overfull_series_are_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto_cloudwatch.reset_metrics(REGION)
    monkeypatch.setattr(metrics_module, "MAX_POINTS_PER_SERIES", 10)
    store = MetricStore(tmp_path).for_region(REGION)
    now = datetime.now(UTC).replace(microsecond=0)
    store.put_metric_data("N", [_value("old", now - timedelta(days=16))])
    start = now - timedelta(minutes=30)
    for minute in range(12):
        store.put_metric_data("N", [_value("busy", start + timedelta(minutes=minute), minute)])
    # Passed by more than a tenth: the series keeps its newest ten points, in moto and on disk.
    busy = [p for p in moto_cloudwatch.metric_points(REGION) if p.name == "busy"]
    assert [p.value for p in busy] == [float(v) for v in range(2, 12)]
    moto_cloudwatch.reset_metrics(REGION)
    MetricStore(tmp_path).load_region(REGION)  # when read again, the 15 days apply too
    names = [p.name for p in moto_cloudwatch.metric_points(REGION)]
    assert names == ["busy"] * 10
    assert len((tmp_path / f"{REGION}.jsonl").read_text().splitlines()) == 10


def test_invocations_are_one_statistic_set_per_metric_and_minute(tmp_path: Path) -> None:
    moto_cloudwatch.reset_metrics(REGION)
    store = MetricStore(tmp_path).for_region(REGION)
    aggregator = InvocationMetrics(store, interval=3600)
    first = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    minute = first.timestamp()
    for index, status in enumerate([200, 200, 404, 500]):
        aggregator.record(
            "ep",
            "AllTraffic",
            status=status,
            model_seconds=0.001 * (index + 1),
            total_seconds=0.001 * (index + 1) + 0.0005,
            instances=2,
            at=minute + index,
        )
    aggregator.record(
        "ep",
        "AllTraffic",
        status=200,
        model_seconds=0.002,
        total_seconds=0.003,
        instances=2,
        at=minute + 61,
    )
    aggregator.record(
        "ep",
        "AllTraffic",
        status=200,
        model_seconds=0.002,
        total_seconds=0.003,
        instances=1,
        at=minute + 62,
        asynchronous=True,
    )
    assert moto_cloudwatch.metric_count(REGION) == 0  # nothing is sent per request
    aggregator.close()
    start = first.replace(tzinfo=None)
    points = {
        (p.name, int((p.timestamp - start).total_seconds()) // 60): p
        for p in moto_cloudwatch.metric_points(REGION)
    }
    assert len(points) == 12 and len(moto_cloudwatch.metric_points(REGION)) == 12
    assert all(p.timestamp in (start, start + timedelta(minutes=1)) for p in points.values())
    assert all(p.value is None for p in points.values())  # statistic sets only
    assert points[("Invocations", 0)].statistics == (4.0, 4.0, 1.0, 1.0)
    assert points[("InvocationsPerInstance", 0)].statistics == (2.0, 4.0, 0.5, 0.5)
    assert points[("Invocation4XXErrors", 0)].statistics == (1.0, 4.0, 0.0, 1.0)
    assert points[("Invocation5XXErrors", 0)].statistics == (1.0, 4.0, 0.0, 1.0)
    _total, count, low, high = points[("ModelLatency", 0)].statistics or (0, 0, 0, 0)
    assert count == 4.0
    assert low == pytest.approx(1000.0) and high == pytest.approx(4000.0)
    assert points[("ModelLatency", 0)].unit == "Microseconds"
    overhead = points[("OverheadLatency", 0)].statistics or (0, 0, 0, 0)
    assert overhead[2] == pytest.approx(500.0) and overhead[3] == pytest.approx(500.0)
    # The next minute: one synchronous request; the asynchronous one counts latency and errors.
    assert points[("Invocations", 1)].statistics == (1.0, 1.0, 1.0, 1.0)
    assert points[("ModelLatency", 1)].statistics == (4000.0, 2.0, 2000.0, 2000.0)
    assert points[("Invocation5XXErrors", 1)].statistics == (0.0, 2.0, 0.0, 0.0)
    dimensions = points[("Invocations", 0)].dimensions
    assert dimensions == (("EndpointName", "ep"), ("VariantName", "AllTraffic"))


def test_the_flusher_publishes_every_interval_and_at_close(tmp_path: Path) -> None:
    moto_cloudwatch.reset_metrics(REGION)
    store = MetricStore(tmp_path).for_region(REGION)
    aggregator = InvocationMetrics(store, interval=0.05)
    aggregator.start()
    try:
        aggregator.record(
            "ep", "v", status=200, model_seconds=0.001, total_seconds=0.002, instances=1
        )
        deadline = time.monotonic() + 10
        while moto_cloudwatch.metric_count(REGION) == 0:
            assert time.monotonic() < deadline, "the flusher never published"
            time.sleep(0.01)
        assert {p.name for p in moto_cloudwatch.metric_points(REGION)} >= {
            "Invocations",
            "ModelLatency",
        }
    finally:
        aggregator.close()
    aggregator.record("ep", "v", status=200, model_seconds=0.001, total_seconds=0.002, instances=1)
    count = moto_cloudwatch.metric_count(REGION)
    aggregator.close()  # a second close publishes what came after the first
    assert moto_cloudwatch.metric_count(REGION) == count + 6
