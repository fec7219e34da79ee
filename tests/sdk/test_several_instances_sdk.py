"""The SDK's KMeans on two instances, as the classic k-means notebook runs it: `record_set`
writes one shard per instance and the channel is ShardedByS3Key; `fit(logs=True)` waits for one
log stream per instance and prints every host's lines."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.sdk.conftest import s3_bytes

pytestmark = pytest.mark.slow


def test_kmeans_on_two_instances_prints_every_hosts_lines(
    sagemaker_emulator_env: Any,
    census: np.ndarray,
    capsys: pytest.CaptureFixture[str],
    mxnet_load: Callable[[bytes], Any],
) -> None:
    sagemaker: Any = importlib.import_module("sagemaker")
    session = sagemaker.Session()
    kmeans = sagemaker.KMeans(
        role=sagemaker.get_execution_role(),
        instance_count=2,
        instance_type="ml.c4.xlarge",
        output_path=f"s3://{session.default_bucket()}/kmeans-two/",
        k=7,
        sagemaker_session=session,
    )
    records = kmeans.record_set(census)
    assert records.distribution == "ShardedByS3Key"
    kmeans.fit(records, logs=True)
    out = capsys.readouterr().out
    for host in ("algo-1", "algo-2"):
        assert f"#quality_metric: host={host}, train msd <loss>=" in out, host
    model = mxnet_load(s3_bytes(session.boto_session.client("s3"), kmeans.model_data))
    centroids = model.arrays[0]
    assert centroids.shape == (7, census.shape[1])
    squared = ((census[:, None, :].astype(np.float64) - centroids[None]) ** 2).sum(axis=2)
    assert np.isfinite(squared.min(axis=1).mean())


def test_a_byo_estimator_on_two_instances_rendezvous_on_algo_1(
    sagemaker_emulator_env: Any, sagemaker_emulator_runtime: str
) -> None:
    """The SDK's generic Estimator with a user's image and instance_count=2: the hosts find each
    other by name (a torchrun-/MPI-style rendezvous on algo-1) under the Docker runtime."""
    import io
    import json
    import tarfile

    from tests.docker.engine import build_byo_image, require_docker

    require_docker()  # skips (loudly) only under SAGEMAKER_EMULATOR_SKIP_DOCKER=1
    if sagemaker_emulator_runtime != "docker":
        pytest.fail("bring-your-own images need the Docker runtime (the SDK tier runs on it)")

    sagemaker: Any = importlib.import_module("sagemaker")
    session = sagemaker.Session()
    bucket = session.default_bucket()
    s3 = session.boto_session.client("s3")
    for part in range(2):
        s3.put_object(Bucket=bucket, Key=f"byo-two/part-{part}.csv", Body=b"1,2\n3,4\n")
    estimator = sagemaker.estimator.Estimator(
        image_uri=build_byo_image(),
        role=sagemaker.get_execution_role(),
        instance_count=2,
        instance_type="ml.m5.large",
        output_path=f"s3://{bucket}/byo-two-out/",
        hyperparameters={"behaviour": "rendezvous"},
        sagemaker_session=session,
    )
    train = sagemaker.inputs.TrainingInput(f"s3://{bucket}/byo-two/", distribution="ShardedByS3Key")
    estimator.fit({"train": train}, logs=True)
    body = s3_bytes(s3, estimator.model_data)
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = tar.extractfile("hosts.json")
        assert member is not None
        report = json.loads(member.read())
    assert sorted(report["joined"]) == ["algo-1", "algo-2"]
    assert sorted(len(files) for files in (j["train"] for j in report["joined"].values())) == [1, 1]
