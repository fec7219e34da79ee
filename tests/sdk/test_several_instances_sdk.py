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
