"""moto's failures reach the client in the protocol of the service it called, never as a body its
parser cannot read (a ResponseParserError): an operation moto does not implement is AWS's
`InvalidAction` (S3: `NotImplemented`), a fault inside moto is `InternalFailure` (S3:
`InternalError`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from sdk.launcher import EmulatorServer, start_emulator
from tests.conftest import boto_kwargs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    with start_emulator(tmp_path_factory.mktemp("moto-errors"), "process") as running:
        yield running


def make(server: EmulatorServer, service: str) -> Any:
    return boto3.client(service, **boto_kwargs(server.url))


# Operations AWS has and moto (so the emulator) does not, one per service and protocol.
UNIMPLEMENTED = [
    pytest.param(
        "iam",
        "generate_service_last_accessed_details",
        {"Arn": "arn:aws:iam::123456789012:user/x"},
        id="iam-query",
    ),
    pytest.param("sts", "decode_authorization_message", {"EncodedMessage": "x"}, id="sts-query"),
    pytest.param("sns", "list_origination_numbers", {}, id="sns-query"),
    pytest.param("logs", "list_log_anomaly_detectors", {}, id="logs-json"),
    pytest.param("cloudwatch", "describe_anomaly_detectors", {}, id="cloudwatch-json"),
]


@pytest.mark.parametrize(("service", "operation", "arguments"), UNIMPLEMENTED)
def test_unimplemented_operation_is_invalid_action(
    server: EmulatorServer, service: str, operation: str, arguments: dict[str, Any]
) -> None:
    client = make(server, service)
    with pytest.raises(ClientError) as raised:
        getattr(client, operation)(**arguments)
    response = raised.value.response
    assert response["Error"]["Code"] == "InvalidAction"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    wire_name = client.meta.method_to_api_mapping[operation]
    assert wire_name in response["Error"]["Message"]


def test_s3_feature_moto_lacks_is_not_implemented(server: EmulatorServer) -> None:
    """moto answers a bucket request of a method it does not serve with NotImplementedError;
    S3's code for functionality it does not implement is NotImplemented."""
    s3 = make(server, "s3")
    s3.create_bucket(Bucket="moto-errors-patch")
    status, body = _signed_s3("PATCH", f"{server.url}/moto-errors-patch")
    assert status == 501
    assert b"<Code>NotImplemented</Code>" in body


def test_s3_internal_moto_fault_is_internal_error(server: EmulatorServer) -> None:
    """moto's S3 fails with a KeyError on CreateBucketMetadataTableConfiguration."""
    s3 = make(server, "s3")
    s3.create_bucket(Bucket="moto-errors-fault")
    with pytest.raises(ClientError) as raised:
        s3.create_bucket_metadata_table_configuration(
            Bucket="moto-errors-fault",
            MetadataTableConfiguration={
                "S3TablesDestination": {
                    "TableBucketArn": "arn:aws:s3tables:us-east-1:123456789012:bucket/t",
                    "TableName": "t",
                }
            },
        )
    response = raised.value.response
    assert response["Error"]["Code"] == "InternalError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "Traceback" not in str(response)


def _signed_s3(method: str, url: str) -> tuple[int, bytes]:
    """A SigV4-signed S3 request that no botocore operation sends (the server must still answer
    in S3's XML)."""
    request = AWSRequest(method=method, url=url, data=b"")
    request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    answer = httpx.request(method, url, headers=dict(request.headers.items()), content=b"")
    return answer.status_code, answer.content


def test_query_service_internal_moto_fault_is_internal_failure(server: EmulatorServer) -> None:
    """moto's SNS fails with an exception of its own on a topic ARN that is no ARN."""
    sns = make(server, "sns")
    with pytest.raises(ClientError) as raised:
        sns.get_topic_attributes(TopicArn="not-an-arn")
    response = raised.value.response
    assert response["Error"]["Code"] == "InternalFailure"
    assert response["Error"]["Type"] == "Receiver"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
