"""The HTTP plumbing against a real server: health, routing, AWS-shaped errors for bad input.

Nothing a client sends may produce a 500 or a stack trace; every error has the AWS shape
(`{"__type", "message"}`, `X-Amzn-ErrorType`, the right status) and parses with botocore.
"""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore import xform_name
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from emulator.aws.specs import sagemaker_model
from sdk.launcher import EmulatorServer
from tests.conftest import boto_kwargs

TRACE_MARKERS = ("Traceback", 'File "/')


def signed_request(
    server: EmulatorServer,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    service: str = "sagemaker",
) -> httpx.Response:
    """A request signed with SigV4 by botocore, sent raw (so the body can be anything)."""
    request = AWSRequest(method=method, url=server.url + path, data=body, headers=headers or {})
    SigV4Auth(Credentials("testing", "testing"), service, "us-east-1").add_auth(request)
    return httpx.request(method, server.url + path, content=body, headers=dict(request.headers))


def control(server: EmulatorServer, target: str | None, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    return signed_request(server, "POST", "/", body, headers)


def assert_aws_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["x-amzn-errortype"] == code
    payload: dict[str, Any] = response.json()
    assert payload["__type"] == code
    assert payload["message"]
    assert not any(marker in response.text for marker in TRACE_MARKERS), response.text
    return payload


def client(server: EmulatorServer, service: str, validate: bool = True) -> Any:
    kwargs = boto_kwargs(server.url)
    kwargs["config"] = Config(retries={"total_max_attempts": 1}, parameter_validation=validate)
    return boto3.client(service, **kwargs)


def error_of(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call(**params)
    response: dict[str, Any] = info.value.response
    return response


def test_health_says_which_runtime_runs(emulator: EmulatorServer, runtime_name: str) -> None:
    response = httpx.get(emulator.url + "/_emulator/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["runtime"] == runtime_name
    assert health["version"]
    assert health["data_dir"] == str(emulator.data_dir.resolve())


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a socket listening on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(struct.pack("<I", int(address, 16))))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_binds_loopback_unless_told(emulator_factory: Any) -> None:
    server = emulator_factory(host=None)  # no --host flag: the default
    assert listening_addresses(server.port) == {"127.0.0.1"}
    assert httpx.get(server.url + "/_emulator/health").json()["status"] == "ok"


def test_bad_json_body_is_a_serialization_error(emulator: EmulatorServer) -> None:
    response = control(emulator, "SageMaker.DescribeTrainingJob", b'{"TrainingJobName": ')
    assert_aws_error(response, 400, "SerializationException")


def test_a_json_body_that_is_not_an_object_is_a_serialization_error(
    emulator: EmulatorServer,
) -> None:
    response = control(emulator, "SageMaker.ListTrainingJobs", b"[1, 2]")
    assert_aws_error(response, 400, "SerializationException")


def test_non_utf8_body_is_a_serialization_error(emulator: EmulatorServer) -> None:
    response = control(emulator, "SageMaker.ListTrainingJobs", b"\xff\xfe{}")
    assert_aws_error(response, 400, "SerializationException")


def test_unknown_operation(emulator: EmulatorServer) -> None:
    payload = assert_aws_error(
        control(emulator, "SageMaker.FrobnicateTrainingJob", b"{}"),
        400,
        "UnknownOperationException",
    )
    assert "FrobnicateTrainingJob" in payload["message"]


def test_missing_or_foreign_target(emulator: EmulatorServer) -> None:
    assert_aws_error(control(emulator, None, b"{}"), 400, "UnknownOperationException")
    assert_aws_error(
        control(emulator, "DynamoDB_20120810.ListTables", b"{}"), 400, "UnknownOperationException"
    )


def test_unknown_path_signed_for_sagemaker_is_a_404(emulator: EmulatorServer) -> None:
    assert_aws_error(
        signed_request(emulator, "GET", "/no/such/thing"), 404, "UnknownOperationException"
    )
    assert_aws_error(
        signed_request(emulator, "GET", "/endpoints/ep/invocations"),
        405,
        "UnknownOperationException",
    )


def test_unknown_admin_path_is_a_404(emulator: EmulatorServer) -> None:
    assert httpx.get(emulator.url + "/_emulator/no-such-page").status_code == 404


def test_an_operation_not_implemented_says_so(emulator: EmulatorServer) -> None:
    from emulator.services.operations import OPERATIONS

    model = sagemaker_model()
    missing = next(
        name
        for name in sorted(model.operation_names)
        if name not in OPERATIONS and not model.operation_model(name).input_shape.required_members
    )
    sm = client(emulator, "sagemaker")
    response = error_of(getattr(sm, xform_name(missing)))
    assert response["Error"]["Code"] == "NotImplemented"
    assert missing in response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_validation_errors_have_the_services_wording(emulator: EmulatorServer) -> None:
    sm = client(emulator, "sagemaker", validate=False)
    response = error_of(sm.describe_training_job, TrainingJobName="no_underscores")
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value 'no_underscores' at 'trainingJobName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_missing_required_member(emulator: EmulatorServer) -> None:
    sm = client(emulator, "sagemaker", validate=False)
    response = error_of(sm.create_endpoint, EndpointName="ep")
    assert response["Error"]["Code"] == "ValidationException"
    assert "Value null at 'endpointConfigName'" in response["Error"]["Message"]


def test_wrong_member_type(emulator: EmulatorServer) -> None:
    response = control(
        emulator, "SageMaker.ListTrainingJobs", json.dumps({"MaxResults": "ten"}).encode()
    )
    assert_aws_error(response, 400, "SerializationException")


def test_describe_of_a_missing_job_is_a_validation_exception(emulator: EmulatorServer) -> None:
    # The boto3 waiters rely on this code.
    sm = client(emulator, "sagemaker")
    response = error_of(sm.describe_training_job, TrainingJobName="never-created")
    assert response["Error"]["Code"] == "ValidationException"


def test_invoke_of_an_unknown_endpoint(emulator: EmulatorServer) -> None:
    rt = client(emulator, "sagemaker-runtime")
    response = error_of(
        rt.invoke_endpoint, EndpointName="no-such-endpoint", Body=b"1,2", ContentType="text/csv"
    )
    assert response["Error"]["Code"] == "ValidationError"
    assert "no-such-endpoint" in response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_invoke_with_a_bad_endpoint_name(emulator: EmulatorServer) -> None:
    rt = client(emulator, "sagemaker-runtime", validate=False)
    response = error_of(rt.invoke_endpoint, EndpointName="bad_name", Body=b"1")
    assert response["Error"]["Code"] == "ValidationError"
    assert "at 'endpointName' failed to satisfy constraint" in response["Error"]["Message"]


def test_invoke_body_over_the_limit(emulator: EmulatorServer) -> None:
    rt = client(emulator, "sagemaker-runtime")
    body = b"1," * (3 * 1024 * 1024 + 1)
    response = error_of(rt.invoke_endpoint, EndpointName="ep", Body=body, ContentType="text/csv")
    # AWS answers an oversized body with HTTP 413 and no error type (botocore's code is "413").
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "6291456" in response["Error"]["Message"]


@pytest.mark.parametrize(
    ("member", "value", "wire_name"),
    [
        ("CustomAttributes", "x" * 1025, "customAttributes"),
        ("ContentType", "t" * 1025, "contentType"),
        ("Accept", "a" * 1025, "accept"),
        ("TargetVariant", "bad_variant", "targetVariant"),
    ],
)
def test_invoke_headers_are_validated(
    emulator: EmulatorServer, member: str, value: str, wire_name: str
) -> None:
    rt = client(emulator, "sagemaker-runtime", validate=False)
    response = error_of(rt.invoke_endpoint, EndpointName="ep", Body=b"1", **{member: value})
    assert response["Error"]["Code"] == "ValidationError"
    assert f"at '{wire_name}' failed to satisfy constraint" in response["Error"]["Message"]


def test_garbage_authorization_never_gives_a_trace(emulator: EmulatorServer) -> None:
    response = httpx.post(
        emulator.url + "/", content=b"{}", headers={"Authorization": "AWS4-HMAC-SHA256 garbage"}
    )
    assert_aws_error(response, 400, "IncompleteSignatureException")


def test_response_stream_of_an_unknown_endpoint_is_a_validation_error(
    emulator: EmulatorServer,
) -> None:
    rt = client(emulator, "sagemaker-runtime")
    response = error_of(rt.invoke_endpoint_with_response_stream, EndpointName="ep", Body=b"1")
    assert response["Error"]["Code"] == "ValidationError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
