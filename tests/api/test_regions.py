"""Each request is answered in the region it is signed for, as on AWS.

A server started with the default region (us-east-1) serves clients of other regions: their
records, ARNs, log groups and endpoints live in their own region, names may repeat across regions,
and a restart keeps the regions apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from sdk.launcher import EmulatorServer, start_emulator
from tests.api.conftest import (
    Aws,
    blobs,
    channel,
    create_job,
    deploy,
    make_aws,
    unique,
    upload_csv,
    wait_job,
)

OTHER_REGIONS = ("us-west-2", "eu-west-1")


@pytest.fixture(scope="module")
def regional(emulator: EmulatorServer, runtime_name: str) -> dict[str, Aws]:
    """Clients of the session's default-region server, one set per region."""
    return {
        region: make_aws(emulator, runtime_name, region=region)
        for region in ("us-east-1", *OTHER_REGIONS)
    }


def _train_kmeans(aws: Aws, name: str) -> dict[str, Any]:
    data, _ = blobs(n=300)
    uri = upload_csv(aws, data, f"data/{name}")
    create_job(
        aws,
        name,
        "kmeans",
        [channel(uri, content_type="text/csv;label_size=0")],
        {"feature_dim": str(data.shape[1]), "k": "3"},
    )
    return wait_job(aws, name)


@pytest.mark.parametrize("region", OTHER_REGIONS)
def test_train_deploy_invoke_and_logs_in_the_clients_region(
    regional: dict[str, Aws], region: str
) -> None:
    aws = regional[region]
    name = unique("regional")
    description = _train_kmeans(aws, name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert description["TrainingJobArn"].startswith(f"arn:aws:sagemaker:{region}:")

    # The algorithm's CloudWatch lines are in the client's region, where fit(logs=True) reads.
    streams = aws.logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamNamePrefix=name + "/",
        orderBy="LogStreamName",
    )["logStreams"]
    assert [s["logStreamName"].split("/")[0] for s in streams] == [name]
    events = aws.logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    assert any("#quality_metric" in e["message"] for e in events)
    with pytest.raises(ClientError) as missing:
        regional["us-east-1"].logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamName=streams[0]["logStreamName"],
        )
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"

    endpoint = deploy(aws, description["ModelArtifacts"]["S3ModelArtifacts"], "kmeans")
    assert aws.sm.describe_endpoint(EndpointName=endpoint)["EndpointArn"].startswith(
        f"arn:aws:sagemaker:{region}:"
    )
    answer = aws.rt.invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="application/json", Body=b"1,2,3,4"
    )
    assert len(json.loads(answer["Body"].read())["predictions"]) == 1
    # The endpoint is not in the default region: invoking it there is a ValidationError.
    with pytest.raises(ClientError) as elsewhere:
        regional["us-east-1"].rt.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body=b"1,2,3,4"
        )
    assert elsewhere.value.response["Error"]["Code"] == "ValidationError"
    aws.sm.delete_endpoint(EndpointName=endpoint)


def test_regions_are_isolated_and_names_may_repeat(regional: dict[str, Aws]) -> None:
    west, ireland = regional["us-west-2"], regional["eu-west-1"]
    name = unique("same-name")
    for aws in (west, ireland):
        aws.sm.create_model(
            ModelName=name,
            PrimaryContainer={"Image": "local/byo:1"},
            ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        )
    arns = {
        region: regional[region].sm.describe_model(ModelName=name)["ModelArn"]
        for region in OTHER_REGIONS
    }
    assert arns == {
        region: f"arn:aws:sagemaker:{region}:123456789012:model/{name}" for region in OTHER_REGIONS
    }
    listed = {
        region: [m["ModelName"] for m in aws.sm.list_models(NameContains=name)["Models"]]
        for region, aws in regional.items()
    }
    assert listed == {"us-east-1": [], "us-west-2": [name], "eu-west-1": [name]}
    west.sm.delete_model(ModelName=name)
    assert ireland.sm.describe_model(ModelName=name)["ModelName"] == name
    with pytest.raises(ClientError):
        west.sm.describe_model(ModelName=name)


@pytest.mark.runtimes("process")
def test_a_restart_keeps_the_regions_apart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_emulator(data_dir, runtime="process")
    try:
        west = make_aws(server, "process", region="us-west-2")
        ireland = make_aws(server, "process", region="eu-west-1")
        name = unique("restart")
        data = np.tile(np.arange(4, dtype=np.float32), (20, 1))
        uri = upload_csv(west, data, f"data/{name}")
        west.sm.create_model(
            ModelName=name,
            PrimaryContainer={"Image": "local/byo:1"},
            ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        )
        assert uri.startswith("s3://")
    finally:
        server.stop()
    server = start_emulator(data_dir, runtime="process")
    try:
        west = make_aws(server, "process", bucket=west.bucket, region="us-west-2")
        ireland = make_aws(server, "process", bucket=ireland.bucket, region="eu-west-1")
        east = make_aws(server, "process", bucket=west.bucket)
        assert west.sm.describe_model(ModelName=name)["ModelArn"].endswith(f"model/{name}")
        for other in (ireland, east):
            with pytest.raises(ClientError) as missing:
                other.sm.describe_model(ModelName=name)
            assert missing.value.response["Error"]["Code"] == "ValidationException"
    finally:
        server.stop()
