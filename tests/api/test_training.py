"""Training jobs through boto3: data from S3, artifacts, lifecycle, logs, metrics and errors."""

from __future__ import annotations

import gzip
import re
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from tests.api.conftest import (
    ROLE,
    Aws,
    Trained,
    blobs,
    channel,
    create_job,
    csv_bytes,
    load_model,
    low_rank,
    unique,
    upload_csv,
    upload_record_set,
    wait_job,
    wait_training_started,
)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def test_pca_from_csv_prefix_matches_numpy(aws: Aws, pca_trained: Trained, tmp_path: Path) -> None:
    model = load_model(aws, pca_trained.model_data, tmp_path)
    assert isinstance(model, dict)
    assert list(model) == ["s", "v", "mean"]
    data = pca_trained.data.astype(np.float64)
    mean = data.mean(axis=0)
    _, singular, vt = np.linalg.svd(data - mean, full_matrices=False)
    np.testing.assert_allclose(model["mean"].reshape(-1), mean, rtol=1e-4, atol=1e-4)
    # Stored ascending: the most significant component is last.
    np.testing.assert_allclose(model["s"], singular[:3][::-1], rtol=1e-3)
    assert model["v"].shape == (6, 3)
    for j, i in enumerate([2, 1, 0]):
        cosine = abs(float(model["v"][:, j] @ vt[i]))
        assert cosine == pytest.approx(1.0, abs=1e-3)


def test_kmeans_from_record_set_manifest(aws: Aws, kmeans_trained: Trained, tmp_path: Path) -> None:
    model = load_model(aws, kmeans_trained.model_data, tmp_path)
    assert isinstance(model, list) and len(model) == 1
    centroids = model[0]
    assert centroids.shape == (3, 4) and centroids.dtype == np.float32
    _, true_centres = blobs()
    for centre in true_centres:
        assert np.min(np.linalg.norm(centroids - centre, axis=1)) < 0.5
    description = aws.sm.describe_training_job(TrainingJobName=kmeans_trained.job)
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert {"train:msd", "train:progress", "train:throughput"} <= set(metrics)
    distances = np.min(
        ((kmeans_trained.data[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1
    )
    # train:msd is the local Lloyd's loss over the weighted extra centres
    # (docs/sagemaker-facts.md#k-means), which lies below the data's own MSD to the final centroids.
    assert 0.0 <= metrics["train:msd"] <= float(distances.mean()) * 1.05
    names = {d["Name"] for d in description["AlgorithmSpecification"]["MetricDefinitions"]}
    assert {"train:msd", "test:msd", "test:ssd", "train:progress"} <= names


def test_description_has_what_the_sdk_reads(aws: Aws, pca_trained: Trained) -> None:
    d = aws.sm.describe_training_job(TrainingJobName=pca_trained.job)
    assert d["TrainingJobArn"] == (
        f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{pca_trained.job.lower()}"
    )
    assert d["SecondaryStatus"] == "Completed"
    statuses = [t["Status"] for t in d["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    messages = [t["StatusMessage"] for t in d["SecondaryStatusTransitions"]]
    assert messages[-1] == "Training job completed"
    assert "Training image download completed. Training in progress." in messages
    assert all("EndTime" in t for t in d["SecondaryStatusTransitions"])
    assert d["OutputDataConfig"]["KmsKeyId"] == ""
    assert d["ModelArtifacts"]["S3ModelArtifacts"] == (
        f"s3://{aws.bucket}/output/{pca_trained.job}/output/model.tar.gz"
    )
    assert d["TrainingTimeInSeconds"] >= 1 and d["BillableTimeInSeconds"] >= 1
    assert d["TrainingStartTime"] <= d["TrainingEndTime"] <= d["LastModifiedTime"]
    assert d["HyperParameters"]["num_components"] == "3"
    assert {m["MetricName"] for m in d["FinalMetricDataList"]} >= {"train:progress"}
    assert "FailureReason" not in d


def test_logs_go_to_cloudwatch(aws: Aws, pca_trained: Trained) -> None:
    group = "/aws/sagemaker/TrainingJobs"
    streams = aws.logs.describe_log_streams(
        logGroupName=group, logStreamNamePrefix=pca_trained.job + "/", orderBy="LogStreamName"
    )["logStreams"]
    assert len(streams) == 1
    stream = streams[0]["logStreamName"]
    assert re.fullmatch(re.escape(pca_trained.job) + r"/algo-1-\d{10}", stream)
    page = aws.logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    messages = [e["message"] for e in page["events"]]
    assert messages[0] == "Docker entrypoint called with argument(s): train"
    assert any("#progress_metric: host=algo-1, completed" in m for m in messages)
    # fit(logs=True) reads until a page has no events.
    for _ in range(5):
        page = aws.logs.get_log_events(
            logGroupName=group,
            logStreamName=stream,
            startFromHead=True,
            nextToken=page["nextForwardToken"],
        )
        if not page["events"]:
            break
    assert page["events"] == []


def test_csv_gzip_channel_and_test_channel(aws: Aws) -> None:
    data, _ = blobs(seed=3)
    name = unique("kmeans-gz")
    aws.s3.put_object(
        Bucket=aws.bucket, Key=f"gz/{name}/train.csv.gz", Body=gzip.compress(csv_bytes(data))
    )
    test_uri = upload_csv(aws, data[:100], f"gz/{name}-test", parts=1)
    train = channel(f"s3://{aws.bucket}/gz/{name}/", content_type="text/csv;label_size=0")
    # AWS takes a compressed channel only in Pipe mode (docs/constraints.md).
    train["CompressionType"] = "Gzip"
    train["InputMode"] = "Pipe"
    create_job(
        aws,
        name,
        "kmeans",
        [train, channel(test_uri, name="test", content_type="text/csv;label_size=0")],
        {"feature_dim": "4", "k": "3", "eval_metrics": '["msd", "ssd"]'},
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    metrics = {m["MetricName"] for m in d["FinalMetricDataList"]}
    assert {"test:msd", "test:ssd", "train:msd"} <= metrics


def test_pca_from_record_set(aws: Aws, tmp_path: Path) -> None:
    data = low_rank(seed=5)
    name = unique("pca-rs")
    uri = upload_record_set(aws, data, name, shards=3)
    create_job(
        aws,
        name,
        "pca",
        [channel(uri, data_type="ManifestFile", distribution="ShardedByS3Key")],
        {
            "feature_dim": "6",
            "num_components": "2",
            "mini_batch_size": "50",
            "subtract_mean": "False",
        },
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    model = load_model(aws, d["ModelArtifacts"]["S3ModelArtifacts"], tmp_path)
    # Without subtract_mean the model has no mean and s comes from the uncentred data.
    assert "mean" not in model
    singular = np.linalg.svd(data.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(model["s"], singular[:2][::-1], rtol=1e-3)


def test_algorithm_failure_reason(aws: Aws) -> None:
    uri = upload_csv(aws, low_rank(n=50), f"data/{unique('bad')}", parts=1)
    name = unique("kmeans-bad")
    create_job(
        aws, name, "kmeans", [channel(uri, content_type="text/csv;label_size=0")], {"k": "3"}
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Failed"
    assert d["SecondaryStatus"] == "Failed"
    assert d["FailureReason"].startswith("ClientError:")
    assert "feature_dim" in d["FailureReason"]


def test_missing_input_fails_with_the_real_message(aws: Aws) -> None:
    name = unique("pca-nodata")
    create_job(
        aws,
        name,
        "pca",
        [channel(f"s3://{aws.bucket}/nothing/here/")],
        {"feature_dim": "3", "num_components": "1", "mini_batch_size": "10"},
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "s3://{aws.bucket}/nothing/here/"'
    )


@pytest.mark.runtime_only("process")  # Docker runs such images: test_training_byo.py
def test_bring_your_own_image_on_process_runtime(aws: Aws) -> None:
    uri = upload_csv(aws, low_rank(n=20), f"data/{unique('byo')}", parts=1)
    name = unique("byo")
    create_job(aws, name, "pca", [channel(uri)], {}, image="my-registry/my-algo:3")
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Failed"
    assert "my-registry/my-algo:3" in d["FailureReason"]
    assert "Docker" in d["FailureReason"]


def test_duplicate_and_missing_jobs(aws: Aws, pca_trained: Trained) -> None:
    with pytest.raises(ClientError) as exc:
        create_job(aws, pca_trained.job, "pca", [channel("s3://x/y/")], {})
    code, message = _error(exc)
    assert code == "ResourceInUse"
    assert "already exists" in message
    # The stored job is untouched by the rejected request.
    assert aws.sm.describe_training_job(TrainingJobName=pca_trained.job)["TrainingJobStatus"] == (
        "Completed"
    )
    with pytest.raises(ClientError) as exc:
        aws.sm.describe_training_job(TrainingJobName="no-such-job")
    assert _error(exc) == ("ValidationException", "Requested resource not found.")
    with pytest.raises(ClientError) as exc:
        aws.sm.stop_training_job(TrainingJobName="no-such-job")
    assert _error(exc)[0] == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        aws.sm.stop_training_job(TrainingJobName=pca_trained.job)
    assert _error(exc) == (
        "ValidationException",
        "The request was rejected because the training job is in status Completed.",
    )


def _slow_kmeans(aws: Aws, name: str, max_runtime: int = 600) -> None:
    """A k-means job that runs for minutes: many epochs over many extra centres."""
    rng = np.random.default_rng(7)
    data = rng.normal(size=(20000, 20)).astype(np.float32)
    uri = upload_record_set(aws, data, name, shards=1)
    create_job(
        aws,
        name,
        "kmeans",
        [channel(uri, data_type="ManifestFile")],
        {
            "feature_dim": "20",
            "k": "100",
            "extra_center_factor": "20",
            "epochs": "100000",
            "mini_batch_size": "1000",
        },
        max_runtime=max_runtime,
    )


def test_stop_training_job_stops_the_container(aws: Aws) -> None:
    name = unique("kmeans-stop")
    _slow_kmeans(aws, name)
    wait_training_started(aws, name)
    # The container's lines are in CloudWatch while it runs, not only at the end.
    group = "/aws/sagemaker/TrainingJobs"
    deadline = time.monotonic() + 30
    while True:
        streams = aws.logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=name + "/")
        events = aws.logs.get_log_events(
            logGroupName=group,
            logStreamName=streams["logStreams"][0]["logStreamName"],
            startFromHead=True,
        )["events"]
        if events:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert events[0]["message"] == "Docker entrypoint called with argument(s): train"
    assert aws.sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"
    aws.sm.stop_training_job(TrainingJobName=name)
    assert aws.sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    d = wait_job(aws, name, timeout=60)
    assert d["TrainingJobStatus"] == "Stopped"
    assert d["SecondaryStatus"] == "Stopped"
    assert "Stopping" in [t["Status"] for t in d["SecondaryStatusTransitions"]]


def test_max_runtime_stops_the_job(aws: Aws) -> None:
    name = unique("kmeans-maxrt")
    _slow_kmeans(aws, name, max_runtime=2)
    d = wait_job(aws, name, timeout=90)
    assert d["TrainingJobStatus"] == "Stopped"
    assert d["SecondaryStatus"] == "MaxRuntimeExceeded"
    # Stopping, then straight to MaxRuntimeExceeded: no Uploading after the stop began.
    statuses = [t["Status"] for t in d["SecondaryStatusTransitions"]]
    assert statuses[-2:] == ["Stopping", "MaxRuntimeExceeded"], statuses


def test_three_jobs_at_once(aws: Aws) -> None:
    data, _ = blobs(seed=11)
    uri = upload_csv(aws, data, f"data/{unique('three')}")
    names = [unique(f"kmeans-par{i}") for i in range(3)]
    threads = [
        threading.Thread(
            target=create_job,
            args=(aws, n, "kmeans", [channel(uri, content_type="text/csv;label_size=0")]),
            kwargs={"hyperparameters": {"feature_dim": "4", "k": "3"}},
        )
        for n in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in names:
        d = wait_job(aws, name)
        assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")


def test_list_filters_sort_and_pages(aws: Aws, pca_trained: Trained) -> None:
    marker = unique("lst")
    data = low_rank(n=40)
    uri = upload_csv(aws, data, f"data/{marker}", parts=1)
    names = [f"{marker}-{i}" for i in range(5)]
    for name in names:
        create_job(
            aws,
            name,
            "pca",
            [channel(uri, content_type="text/csv;label_size=0")],
            {"feature_dim": "6", "num_components": "2", "mini_batch_size": "10"},
        )
    for name in names:
        wait_job(aws, name)
    seen: list[str] = []
    kwargs = {"NameContains": marker.upper(), "SortBy": "Name", "SortOrder": "Ascending"}
    page = aws.sm.list_training_jobs(MaxResults=2, **kwargs)
    while True:
        assert len(page["TrainingJobSummaries"]) <= 2
        seen += [s["TrainingJobName"] for s in page["TrainingJobSummaries"]]
        if "NextToken" not in page:
            break
        page = aws.sm.list_training_jobs(MaxResults=2, NextToken=page["NextToken"], **kwargs)
    assert seen == names
    # ListTrainingJobs' documented default order is CreationTime, Ascending.
    oldest_first = aws.sm.list_training_jobs(NameContains=marker)["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in oldest_first] == names
    assert (
        aws.sm.list_training_jobs(NameContains=marker, StatusEquals="Failed")[
            "TrainingJobSummaries"
        ]
        == []
    )
    hour_before = oldest_first[0]["CreationTime"] - timedelta(hours=1)
    after = aws.sm.list_training_jobs(NameContains=marker, CreationTimeAfter=hour_before)
    assert len(after["TrainingJobSummaries"]) == 5
    before = aws.sm.list_training_jobs(NameContains=marker, CreationTimeBefore=hour_before)
    assert before["TrainingJobSummaries"] == []
    with pytest.raises(ClientError) as exc:
        aws.sm.list_training_jobs(NextToken="garbage")
    assert _error(exc)[0] == "ValidationException"


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("AlgorithmSpecification", "AlgorithmSpecification is required"),
        ("ResourceConfig", "ResourceConfig.InstanceType is required"),
    ],
)
def test_members_a_job_cannot_do_without(aws: Aws, drop: str, message: str) -> None:
    name = unique("incomplete")
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image_uri("kmeans", "us-east-1"),
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{aws.bucket}/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
    }
    del request[drop]
    with pytest.raises(ClientError) as caught:
        aws.sm.create_training_job(**request)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert message in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError):  # nothing was stored
        aws.sm.describe_training_job(TrainingJobName=name)


def test_stopping_condition_defaults_to_one_day(aws: Aws) -> None:
    uri = upload_csv(aws, low_rank(n=20), f"data/{unique('nostop')}", parts=1)
    name = unique("nostop")
    aws.sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": image_uri("pca", "us-east-1"),
            "TrainingInputMode": "File",
        },
        RoleArn=ROLE,
        InputDataConfig=[channel(uri, content_type="text/csv;label_size=0")],
        OutputDataConfig={"S3OutputPath": f"s3://{aws.bucket}/output/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 5},
        HyperParameters={"feature_dim": "6", "num_components": "2", "mini_batch_size": "10"},
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert d["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    # Per instance, whatever the instance count (the SDK multiplies).
    assert d["BillableTimeInSeconds"] == d["TrainingTimeInSeconds"]


def test_a_job_name_differing_only_in_case_is_in_use(aws: Aws) -> None:
    uri = upload_csv(aws, low_rank(n=20), f"data/{unique('case')}", parts=1)
    name = unique("CaseJob")
    hyperparameters = {"feature_dim": "6", "num_components": "2", "mini_batch_size": "10"}
    channels = [channel(uri, content_type="text/csv;label_size=0")]
    create_job(aws, name, "pca", channels, hyperparameters)
    with pytest.raises(ClientError) as caught:
        create_job(aws, name.lower(), "pca", channels, hyperparameters)
    assert caught.value.response["Error"]["Code"] == "ResourceInUse"
    assert wait_job(aws, name)["TrainingJobStatus"] == "Completed"
