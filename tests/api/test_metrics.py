"""CloudWatch metrics of jobs and endpoints, read back with boto3 and the SDK's TrainingJobAnalytics.

Training: every value a metric definition matches, namespace /aws/sagemaker/TrainingJobs,
dimension TrainingJobName, at its log line's time. Endpoints: namespace AWS/SageMaker, dimensions
EndpointName and VariantName, one statistic set per metric and minute.
"""

from __future__ import annotations

import importlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sdk.launcher import start_emulator
from sdk.session import boto_session, sagemaker_session
from tests.api.conftest import (
    Aws,
    Trained,
    blobs,
    channel,
    create_job,
    deploy,
    make_aws,
    unique,
    upload_csv,
    wait_job,
)

TRAINING = "/aws/sagemaker/TrainingJobs"
ENDPOINTS = "AWS/SageMaker"


def _job_window(description: dict[str, Any]) -> tuple[datetime, datetime]:
    """What TrainingJobAnalytics asks for: from the start to a minute after the end."""
    return description["TrainingStartTime"], description["TrainingEndTime"] + timedelta(minutes=1)


def _job_points(cloudwatch: Any, job: str, metric: str, start: datetime, end: datetime) -> Any:
    return cloudwatch.get_metric_statistics(
        Namespace=TRAINING,
        MetricName=metric,
        Dimensions=[{"Name": "TrainingJobName", "Value": job}],
        StartTime=start,
        EndTime=end,
        Period=60,
        Statistics=["Average", "SampleCount", "Maximum"],
    )["Datapoints"]


def test_kmeans_metrics_reach_cloudwatch_and_the_sdk(aws: Aws, kmeans_trained: Trained) -> None:
    description = aws.sm.describe_training_job(TrainingJobName=kmeans_trained.job)
    final = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    start, end = _job_window(description)
    cloudwatch = boto_session(aws.url, aws.region).client("cloudwatch")

    msd = _job_points(cloudwatch, kmeans_trained.job, "train:msd", start, end)
    assert msd and sum(p["SampleCount"] for p in msd) >= 1
    assert max(p["Maximum"] for p in msd) == pytest.approx(final["train:msd"])
    progress = _job_points(cloudwatch, kmeans_trained.job, "train:progress", start, end)
    assert max(p["Maximum"] for p in progress) == pytest.approx(100.0)
    for point in msd + progress:
        assert start - timedelta(seconds=1) <= point["Timestamp"] < end

    # The host's CPU and memory, sampled while it ran (memory from the first sample on).
    host = [{"Name": "Host", "Value": f"{kmeans_trained.job}/algo-1"}]
    memory = cloudwatch.get_metric_statistics(
        Namespace=TRAINING,
        MetricName="MemoryUtilization",
        Dimensions=host,
        StartTime=start - timedelta(minutes=1),
        EndTime=end,
        Period=60,
        Statistics=["Maximum", "SampleCount"],
        Unit="Percent",
    )["Datapoints"]
    assert memory and all(0 < p["Maximum"] <= 100 for p in memory)

    # GetMetricData sees the same series.
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "msd",
                "MetricStat": {
                    "Metric": {
                        "Namespace": TRAINING,
                        "MetricName": "train:msd",
                        "Dimensions": [{"Name": "TrainingJobName", "Value": kmeans_trained.job}],
                    },
                    "Period": 60,
                    "Stat": "Average",
                },
            }
        ],
        StartTime=start,
        EndTime=end,
    )
    assert answer["MetricDataResults"][0]["Values"]

    # Typed as Any: the SDK has no type hints.
    analytics: Any = importlib.import_module("sagemaker.analytics")
    session = sagemaker_session(aws.url, aws.region, default_bucket=aws.bucket)
    frame = analytics.TrainingJobAnalytics(
        kmeans_trained.job, metric_names=["train:msd", "train:progress"], sagemaker_session=session
    ).dataframe()
    assert set(frame["metric_name"]) == {"train:msd", "train:progress"}
    values = frame[frame["metric_name"] == "train:msd"]["value"]
    assert values.iloc[-1] == pytest.approx(final["train:msd"])
    # Without metric names, the job's own definitions name them (the built-ins' five).
    everything = analytics.TrainingJobAnalytics(
        kmeans_trained.job, sagemaker_session=session
    ).dataframe()
    assert {"train:msd", "train:progress", "train:throughput"} <= set(everything["metric_name"])


@pytest.mark.runtime_only("docker")
def test_byo_metric_definitions_are_published(aws: Aws) -> None:
    from tests.docker.engine import build_byo_image

    image = build_byo_image()
    prefix = f"byo/{unique('in')}"
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}/a.csv", Body=b"1,2\n")
    name = unique("byo-metrics")
    create_job(
        aws,
        name,
        "",
        [channel(f"s3://{aws.bucket}/{prefix}/")],
        {"behaviour": "ok"},
        image=image,
        AlgorithmSpecification={"MetricDefinitions": [{"Name": "lines", "Regex": r"line (\d+)"}]},
    )
    description = wait_job(aws, name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    start, end = _job_window(description)
    cloudwatch = boto_session(aws.url, aws.region).client("cloudwatch")
    points = _job_points(cloudwatch, name, "lines", start, end)
    # The image prints "line 0" to "line 2": every value, the last one is the final metric.
    assert sum(p["SampleCount"] for p in points) == 3
    assert max(p["Maximum"] for p in points) == 2.0
    listed = cloudwatch.list_metrics(Namespace=TRAINING, MetricName="lines")["Metrics"]
    assert {"Name": "TrainingJobName", "Value": name} in [
        d for m in listed for d in m["Dimensions"]
    ]


def _endpoint_stats(cloudwatch: Any, endpoint: str, metric: str, **extra: Any) -> Any:
    now = datetime.now(UTC)
    return cloudwatch.get_metric_statistics(
        **{"Namespace": ENDPOINTS, **extra},
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=2),
        Period=60,
        Statistics=["Sum", "SampleCount", "Average", "Minimum", "Maximum"],
    )["Datapoints"]


def test_endpoint_invocation_metrics(aws: Aws, kmeans_trained: Trained) -> None:
    endpoint = deploy(aws, kmeans_trained.model_data, "kmeans")
    try:
        for _ in range(5):
            aws.rt.invoke_endpoint(EndpointName=endpoint, Body=b"1,2,3,4", ContentType="text/csv")
        with pytest.raises(ClientError) as exc:
            aws.rt.invoke_endpoint(EndpointName=endpoint, Body=b"1,2", ContentType="text/csv")
        assert exc.value.response["OriginalStatusCode"] == 400
        cloudwatch = boto_session(aws.url, aws.region).client("cloudwatch")
        # Published before a CloudWatch request reads them: no minute to wait.
        invocations = _endpoint_stats(cloudwatch, endpoint, "Invocations")
        assert sum(p["Sum"] for p in invocations) == 6
        # One point per minute (the run may straddle two), on the minute, as SageMaker's.
        assert len(invocations) <= 2
        for point in invocations:
            assert point["Timestamp"].second == 0 and point["Timestamp"].microsecond == 0
        errors = _endpoint_stats(cloudwatch, endpoint, "Invocation4XXErrors")
        assert sum(p["Sum"] for p in errors) == 1
        assert sum(p["SampleCount"] for p in errors) == 6
        assert (
            sum(p["Sum"] for p in _endpoint_stats(cloudwatch, endpoint, "Invocation5XXErrors")) == 0
        )
        per_instance = _endpoint_stats(cloudwatch, endpoint, "InvocationsPerInstance")
        assert sum(p["Sum"] for p in per_instance) == 6
        latency = _endpoint_stats(cloudwatch, endpoint, "ModelLatency", Unit="Microseconds")
        assert sum(p["SampleCount"] for p in latency) == 6
        assert all(0 < p["Minimum"] <= p["Maximum"] < 60_000_000 for p in latency)
        overhead = _endpoint_stats(cloudwatch, endpoint, "OverheadLatency", Unit="Microseconds")
        assert sum(p["SampleCount"] for p in overhead) == 6
        metrics = cloudwatch.list_metrics(
            Namespace=ENDPOINTS, Dimensions=[{"Name": "EndpointName", "Value": endpoint}]
        )["Metrics"]
        assert {m["MetricName"] for m in metrics} == {
            "Invocations",
            "InvocationsPerInstance",
            "Invocation4XXErrors",
            "Invocation5XXErrors",
            "ModelLatency",
            "OverheadLatency",
        }
        # The container's CPU and memory: a sample at each flush, CPU from two a second apart.
        memory = _wait_points(cloudwatch, "/aws/sagemaker/Endpoints", endpoint, "MemoryUtilization")
        assert all(0 < p["Maximum"] <= 100 for p in memory)
        cpu = _wait_points(cloudwatch, "/aws/sagemaker/Endpoints", endpoint, "CPUUtilization")
        assert all(p["Minimum"] >= 0 for p in cpu)
    finally:
        aws.sm.delete_endpoint(EndpointName=endpoint)


def _wait_points(cloudwatch: Any, namespace: str, endpoint: str, metric: str) -> Any:
    """Each CloudWatch request samples the instances: ask until the metric has a point."""
    deadline = time.monotonic() + 30
    while True:
        points = _endpoint_stats(cloudwatch, endpoint, metric, Namespace=namespace)
        if points:
            return points
        assert time.monotonic() < deadline, f"no {metric} point"
        time.sleep(0.2)


@pytest.mark.runtime_only("process")
def test_metrics_survive_a_restart_in_their_region(runtime_name: str, tmp_path: Path) -> None:
    """Metrics go to the job's and endpoint's region, and come back after a restart (the
    invocations of the last minute are published at shutdown)."""
    region = "eu-west-1"
    data_dir = tmp_path / "data"
    first = start_emulator(data_dir, runtime=runtime_name)
    try:
        aws = make_aws(first, runtime_name, region=region)
        data, _ = blobs(n=200, seed=5)
        name = unique("kmeans-metrics")
        create_job(
            aws,
            name,
            "kmeans",
            [channel(upload_csv(aws, data, f"data/{name}"), content_type="text/csv;label_size=0")],
            {"feature_dim": "4", "k": "3"},
        )
        description = wait_job(aws, name)
        assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
        endpoint = deploy(aws, description["ModelArtifacts"]["S3ModelArtifacts"], "kmeans")
        for _ in range(3):
            aws.rt.invoke_endpoint(EndpointName=endpoint, Body=b"1,2,3,4", ContentType="text/csv")
    finally:
        first.stop()
    second = start_emulator(data_dir, runtime=runtime_name)
    try:
        cloudwatch = boto_session(second.url, region).client("cloudwatch")
        start, end = _job_window(description)
        assert _job_points(cloudwatch, name, "train:msd", start, end)
        assert sum(p["Sum"] for p in _endpoint_stats(cloudwatch, endpoint, "Invocations")) == 3
        # Not in another region.
        elsewhere = boto_session(second.url, "us-east-1").client("cloudwatch")
        assert not _job_points(elsewhere, name, "train:msd", start, end)
        assert not _endpoint_stats(elsewhere, endpoint, "Invocations")
    finally:
        second.stop()


def test_the_console_plots_the_published_series(aws: Aws, kmeans_trained: Trained) -> None:
    """The console reads moto in-process: it sees the definitions' series (TrainingJobName),
    the hosts' (Host) and an endpoint's invocations without waiting for the minute's flush."""
    import httpx

    def shown(path: str) -> set[str]:
        response = httpx.get(f"{aws.url}/_emulator/ui/api/{path}/metrics", timeout=30)
        assert response.status_code == 200, response.text
        results = response.json()["MetricDataResults"]
        return {r["MetricStat"]["Metric"]["MetricName"] for r in results if r["Values"]}

    assert {"train:msd", "train:progress", "MemoryUtilization"} <= shown(
        f"training-jobs/{kmeans_trained.job}"
    )
    endpoint = deploy(aws, kmeans_trained.model_data, "kmeans")
    try:
        aws.rt.invoke_endpoint(EndpointName=endpoint, Body=b"1,2,3,4", ContentType="text/csv")
        assert {"Invocations", "ModelLatency"} <= shown(f"endpoints/{endpoint}")
    finally:
        aws.sm.delete_endpoint(EndpointName=endpoint)
