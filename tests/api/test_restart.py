"""State survives a restart on the same data dir: records, S3, logs, and serving endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from sdk.launcher import start_emulator
from tests.api.conftest import (
    Aws,
    blobs,
    channel,
    create_job,
    deploy,
    make_aws,
    unique,
    upload_csv,
    upload_record_set,
    wait_job,
    wait_training_started,
)


def _train_small(aws: Aws) -> dict[str, Any]:
    data, _ = blobs(n=200, seed=21)
    uri = upload_csv(aws, data, f"data/{unique('rs')}")
    name = unique("kmeans-keep")
    create_job(
        aws,
        name,
        "kmeans",
        [channel(uri, content_type="text/csv;label_size=0")],
        {"feature_dim": "4", "k": "3"},
        Tags=[{"Key": "kept", "Value": "yes"}],
    )
    description = wait_job(aws, name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    return description


def _start_slow_job(aws: Aws) -> str:
    name = unique("kmeans-cut")
    data = np.random.default_rng(3).normal(size=(20000, 20)).astype(np.float32)
    create_job(
        aws,
        name,
        "kmeans",
        [channel(upload_record_set(aws, data, name, shards=1), data_type="ManifestFile")],
        {"feature_dim": "20", "k": "100", "extra_center_factor": "20", "epochs": "100000"},
    )
    wait_training_started(aws, name)
    return name


@pytest.mark.parametrize("how", ["sigkill", "sigterm"])
def test_restart_keeps_state_and_serves_again(runtime_name: str, tmp_path: Path, how: str) -> None:
    data_dir = tmp_path / "data"
    first = start_emulator(data_dir, runtime=runtime_name)
    try:
        aws = make_aws(first, runtime_name)
        job = _train_small(aws)
        endpoint = deploy(aws, job["ModelArtifacts"]["S3ModelArtifacts"], "kmeans")
        before = aws.rt.invoke_endpoint(
            EndpointName=endpoint,
            Body=b"1,2,3,4",
            ContentType="text/csv",
            Accept="application/json",
        )["Body"].read()
        running = _start_slow_job(aws)
    finally:
        if how == "sigkill":
            first.kill()
        else:
            first.stop()

    second = start_emulator(data_dir, runtime=runtime_name)
    try:
        aws = make_aws(second, runtime_name, bucket=aws.bucket)
        kept = aws.sm.describe_training_job(TrainingJobName=str(job["TrainingJobName"]))
        assert kept["TrainingJobStatus"] == "Completed"
        assert kept["FinalMetricDataList"] == job["FinalMetricDataList"]
        tags = aws.sm.list_tags(ResourceArn=kept["TrainingJobArn"])["Tags"]
        assert tags == [{"Key": "kept", "Value": "yes"}]

        cut = aws.sm.describe_training_job(TrainingJobName=running)
        assert cut["TrainingJobStatus"] == "Failed"
        assert cut["SecondaryStatus"] == "Failed"
        if how == "sigkill":
            assert "emulator stopped while this training job was running" in cut["FailureReason"]
        else:
            assert (
                "emulator was shut down while this training job was running"
                in (cut["FailureReason"])
            )

        described = aws.sm.describe_endpoint(EndpointName=endpoint)
        assert described["EndpointStatus"] == "InService"
        after = aws.rt.invoke_endpoint(
            EndpointName=endpoint,
            Body=b"1,2,3,4",
            ContentType="text/csv",
            Accept="application/json",
        )["Body"].read()
        assert after == before

        assert [m["ModelName"] for m in aws.sm.list_models(NameContains=endpoint)["Models"]] == [
            endpoint
        ]
        streams = aws.logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamNamePrefix=str(job["TrainingJobName"]) + "/",
        )["logStreams"]
        assert len(streams) == 1
        aws.sm.delete_endpoint(EndpointName=endpoint)
        with pytest.raises(ClientError):
            aws.sm.describe_endpoint(EndpointName=endpoint)
    finally:
        second.stop()
