"""Pipe mode through boto3, on both runtimes: the channel is a FIFO per pass over the data
(`/opt/ml/input/data/<channel>_<epoch>`), fed from the emulator's S3 as the algorithm reads.

The built-ins give the same model from a Pipe channel as from File, including PCA's randomized
mode (several passes: one FIFO each), a Gzip channel (decompressed as it streams) and k-means
on two hosts under ShardedByS3Key.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.api.conftest import (
    Aws,
    blobs,
    channel,
    create_job,
    load_model,
    low_rank,
    unique,
    wait_job,
)
from tests.sdk_recordio import write_dense_tensor


def _upload_shards(aws: Aws, matrix: np.ndarray, shards: int = 3, gz: bool = False) -> str:
    """RecordIO shards under one prefix (gzip-compressed objects when `gz`)."""
    prefix = unique("pipe-data")
    for i, chunk in enumerate(np.array_split(matrix, shards)):
        body = write_dense_tensor(chunk)
        aws.s3.put_object(
            Bucket=aws.bucket,
            Key=f"{prefix}/part-{i}.pbr" + (".gz" if gz else ""),
            Body=gzip.compress(body) if gz else body,
        )
    return f"s3://{aws.bucket}/{prefix}/"


def _log(aws: Aws, job: str) -> str:
    """Every line the job's hosts logged."""
    streams = aws.logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{job}/"
    )["logStreams"]
    lines: list[str] = []
    for stream in streams:
        events = aws.logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamName=stream["logStreamName"],
            startFromHead=True,
        )["events"]
        lines.extend(e["message"] for e in events)
    return "\n".join(lines)


def _pipes_read(aws: Aws, model_uri: str) -> list[str]:
    """The FIFOs the job's algorithm says it read, in order."""
    job = model_uri.split("/")[-3]
    return re.findall(r"reads the pipe (/opt/ml/input/data/\S+)", _log(aws, job))


def _train(
    aws: Aws,
    algorithm: str,
    uri: str,
    hyperparameters: dict[str, str],
    mode: str,
    compression: str | None = None,
    **extra: Any,
) -> str:
    """A job on one channel `train` in `mode`; returns its model artifact's URI."""
    name = unique(f"{algorithm}-{mode.lower()}")
    train = channel(uri, distribution=extra.pop("distribution", "FullyReplicated"))
    if compression is not None:
        train["CompressionType"] = compression
    create_job(
        aws,
        name,
        algorithm,
        [train],
        hyperparameters,
        AlgorithmSpecification={"TrainingInputMode": mode},
        **extra,
    )
    description = wait_job(aws, name, timeout=240)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert description["AlgorithmSpecification"]["TrainingInputMode"] == mode
    uri_out: str = description["ModelArtifacts"]["S3ModelArtifacts"]
    return uri_out


def _arrays(model: Any) -> list[np.ndarray]:
    return list(model.values()) if isinstance(model, dict) else list(model)


def _same_model(aws: Aws, file_uri: str, pipe_uri: str, tmp_path: Path) -> None:
    by_file = _arrays(load_model(aws, file_uri, tmp_path / "file"))
    by_pipe = _arrays(load_model(aws, pipe_uri, tmp_path / "pipe"))
    assert len(by_file) == len(by_pipe)
    for a, b in zip(by_file, by_pipe, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["regular", "randomized"])
def test_pca_pipe_gives_the_file_model(aws: Aws, tmp_path: Path, mode: str) -> None:
    data = low_rank(n=600, d=6)
    uri = _upload_shards(aws, data)
    hp = {
        "feature_dim": "6",
        "num_components": "3",
        "mini_batch_size": "50",
        "algorithm_mode": mode,
    }
    by_file = _train(aws, "pca", uri, hp, "File")
    by_pipe = _train(aws, "pca", uri, hp, "Pipe")
    _same_model(aws, by_file, by_pipe, tmp_path)
    assert _pipes_read(aws, by_file) == []
    # One FIFO per pass over the data: the randomized mode makes several passes.
    read = _pipes_read(aws, by_pipe)
    assert len(read) == 1 if mode == "regular" else len(read) > 1
    assert read == [f"/opt/ml/input/data/train_{i}" for i in range(len(read))]


def test_kmeans_pipe_gives_the_file_model(aws: Aws, tmp_path: Path) -> None:
    data, _ = blobs(n=600, d=4, k=3)
    uri = _upload_shards(aws, data)
    hp = {"feature_dim": "4", "k": "3", "mini_batch_size": "100", "epochs": "2"}
    by_file = _train(aws, "kmeans", uri, hp, "File")
    by_pipe = _train(aws, "kmeans", uri, hp, "Pipe")
    _same_model(aws, by_file, by_pipe, tmp_path)
    assert _pipes_read(aws, by_pipe)[:1] == ["/opt/ml/input/data/train_0"]


def test_gzip_pipe_channel_streams_decompressed(aws: Aws, tmp_path: Path) -> None:
    data = low_rank(n=400, d=6, seed=3)
    hp = {"feature_dim": "6", "num_components": "2", "mini_batch_size": "50"}
    by_file = _train(aws, "pca", _upload_shards(aws, data), hp, "File")
    by_pipe = _train(aws, "pca", _upload_shards(aws, data, gz=True), hp, "Pipe", "Gzip")
    _same_model(aws, by_file, by_pipe, tmp_path)
    assert _pipes_read(aws, by_pipe) == ["/opt/ml/input/data/train_0"]


def test_pipe_on_two_hosts_respects_sharding(aws: Aws) -> None:
    data, _ = blobs(n=800, d=4, k=3)
    uri = _upload_shards(aws, data, shards=4)
    name = unique("kmeans-pipe-2")
    create_job(
        aws,
        name,
        "kmeans",
        [channel(uri, distribution="ShardedByS3Key")],
        {"feature_dim": "4", "k": "3", "mini_batch_size": "100"},
        AlgorithmSpecification={"TrainingInputMode": "Pipe"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 5},
    )
    description = wait_job(aws, name, timeout=300)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert (
        re.findall(r"reads the pipe (\S+)", _log(aws, name)) == ["/opt/ml/input/data/train_0"] * 2
    )
    # Each host read its own half (2 of the 4 objects): its iterator line counts 400 records.
    streams = aws.logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert len(streams) == 2
    for stream in streams:
        events = aws.logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamName=stream["logStreamName"],
            startFromHead=True,
        )["events"]
        counts = [
            re.search(r'"Total Records Seen": \{[^}]*"sum": ([0-9.]+)', e["message"])
            for e in events
        ]
        assert [float(m.group(1)) for m in counts if m][:1] == [400.0], stream["logStreamName"]
