"""Bounded requests against one real server (process runtime): oversized bodies, nulls, unknown
members and channel names that would name another folder, through raw HTTP and boto3."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.api.body import CONTROL_BODY_LIMIT
from emulator.aws.specs import runtime_model
from emulator.runtime.images import image_uri
from sdk.launcher import EmulatorServer, start_emulator
from tests.conftest import boto_kwargs

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INVOKE_LIMIT = runtime_model().operation_model("InvokeEndpoint").input_shape.members["Body"]
LIST_OPERATIONS = (
    "ListTrainingJobs",
    "ListModels",
    "ListEndpointConfigs",
    "ListEndpoints",
    "ListTransformJobs",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    started = start_emulator(Path(tmp_path_factory.mktemp("limits")), "process")
    try:
        yield started
    finally:
        started.stop()


def clients(server: EmulatorServer) -> tuple[Any, Any]:
    kwargs = boto_kwargs(server.url)
    kwargs["config"] = Config(retries={"total_max_attempts": 1}, parameter_validation=False)
    return boto3.client("sagemaker", **kwargs), boto3.client("sagemaker-runtime", **kwargs)


def connect(server: EmulatorServer) -> http.client.HTTPConnection:
    url = urlsplit(server.url)
    assert url.hostname is not None and url.port is not None
    return http.client.HTTPConnection(url.hostname, url.port, timeout=30)


def call(server: EmulatorServer, operation: str, body: Any) -> tuple[int, dict[str, Any]]:
    connection = connect(server)
    try:
        connection.request(
            "POST",
            "/",
            body=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"SageMaker.{operation}",
            },
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# --- bodies over the limit ------------------------------------------------------------------------


def test_a_declared_200_mb_body_is_refused_before_it_is_read(server: EmulatorServer) -> None:
    connection = connect(server)
    try:
        connection.putrequest("POST", "/")
        connection.putheader("Content-Type", "application/x-amz-json-1.1")
        connection.putheader("X-Amz-Target", "SageMaker.CreateModel")
        connection.putheader("Content-Length", str(200 * 1024 * 1024))
        connection.endheaders()
        connection.send(b'{"ModelName": "' + b"x" * 65536)  # 64 KiB of the 200 MB, no more
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read()) == {
            "__type": "SerializationException",
            "message": f"HTTP content length exceeded {CONTROL_BODY_LIMIT} bytes.",
        }
        assert response.getheader("x-amzn-ErrorType") == "SerializationException"
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_refused(server: EmulatorServer) -> None:
    connection = connect(server)
    chunks = (b"x" * (1 << 20) for _ in range(CONTROL_BODY_LIMIT // (1 << 20) + 1))
    try:
        connection.request(
            "POST",
            "/",
            body=chunks,
            headers={"X-Amz-Target": "SageMaker.ListModels"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["__type"] == "SerializationException"
    finally:
        connection.close()


def test_boto3_sees_the_413_of_an_oversized_request(server: EmulatorServer) -> None:
    sm, _ = clients(server)
    with pytest.raises(ClientError) as info:
        sm.create_model(
            ModelName="too-large",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": "i", "Environment": {"BIG": "x" * CONTROL_BODY_LIMIT}},
        )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert info.value.response["Error"]["Code"] == "SerializationException"


def test_an_invoke_body_over_6_mib_gets_the_413_aws_answers(server: EmulatorServer) -> None:
    limit = INVOKE_LIMIT.metadata["max"]
    assert limit == 6_291_456
    _, rt = clients(server)
    with pytest.raises(ClientError) as info:
        rt.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1" * (limit + 1))
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    # The real front end sends no error type: botocore reports the status as the code.
    assert error["Error"] == {
        "Code": "413",
        "Message": "HTTP content length exceeded 6291456 bytes.",
    }
    # At the limit the body is accepted and the endpoint looked up.
    with pytest.raises(ClientError) as at_limit:
        rt.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1" * limit)
    assert at_limit.value.response["Error"]["Code"] == "ValidationError"


# --- nulls, unknown members, channel names --------------------------------------------------------


@pytest.mark.parametrize("operation", LIST_OPERATIONS)
def test_a_null_max_results_is_absent(server: EmulatorServer, operation: str) -> None:
    status, answer = call(server, operation, {"MaxResults": None, "NextToken": None})
    assert status == 200, answer


def training_request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": f"limits-{uuid.uuid4().hex[:8]}",
        "AlgorithmSpecification": {
            "TrainingImage": image_uri("kmeans", "us-east-1"),
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://no-such-bucket/d/"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://no-such-bucket/out/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    request.update(overrides)
    return request


NULL_CASES = {
    "CreateTrainingJob": [
        training_request(InputDataConfig=None),
        training_request(InputDataConfig=[None]),
        training_request(ResourceConfig=None),
        training_request(Tags=[None]),
    ],
    "CreateModel": [{"ModelName": "limits-null", "PrimaryContainer": None}],
    "CreateEndpointConfig": [
        {"EndpointConfigName": "limits-null", "ProductionVariants": [None]},
    ],
}


@pytest.mark.parametrize(
    ("operation", "index"), [(op, i) for op, cases in NULL_CASES.items() for i in range(len(cases))]
)
def test_nulls_get_aws_errors_not_500(server: EmulatorServer, operation: str, index: int) -> None:
    status, answer = call(server, operation, NULL_CASES[operation][index])
    assert status < 500, answer
    assert set(answer) <= {"__type", "message"} or status == 200, answer


def test_unknown_members_are_never_stored(server: EmulatorServer) -> None:
    junk = "JUNK" * 250_000  # 1 MB under a name the model does not define
    name = f"limits-{uuid.uuid4().hex[:8]}"
    container = {"Image": image_uri("kmeans", "us-east-1"), "JunkMember": junk}
    status, answer = call(
        server,
        "CreateModel",
        {"ModelName": name, "ExecutionRoleArn": ROLE, "PrimaryContainer": container, "Junk": junk},
    )
    assert status == 200, answer
    status, described = call(server, "DescribeModel", {"ModelName": name})
    assert status == 200 and "JunkMember" not in described["PrimaryContainer"]
    stores = list(server.data_dir.rglob("*.sqlite3*"))  # the records, wherever a region keeps them
    assert stores
    for store in stores:
        state = store.read_bytes()
        assert b"JUNKJUNK" not in state and len(state) < 1_000_000, store


@pytest.mark.parametrize("channel", [".", ".."])
def test_dot_channel_names_are_refused_at_create(server: EmulatorServer, channel: str) -> None:
    sm, _ = clients(server)
    request = training_request()
    request["InputDataConfig"][0]["ChannelName"] = channel
    with pytest.raises(ClientError) as info:
        sm.create_training_job(**request)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "channelName" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError):  # nothing was created
        sm.describe_training_job(TrainingJobName=request["TrainingJobName"])
