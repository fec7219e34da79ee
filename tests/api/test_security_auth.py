"""Optional authentication: with access keys configured, only requests signed with one of them
are served; real boto3 clients, right and wrong keys, presigned URLs and POST uploads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sdk.launcher import EmulatorServer, start_emulator

KEY_ID = "AKIDEMULATORTEST"
SECRET = "emulator-secret-key"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    env = {"SAGEMAKER_EMULATOR_ACCESS_KEYS": f"{KEY_ID}:{SECRET}"}
    with start_emulator(tmp_path_factory.mktemp("security-auth"), "process", env=env) as running:
        yield running


def client(server: EmulatorServer, service: str, key: str = KEY_ID, secret: str = SECRET) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}),
    )


def code_of(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    code: str = info.value.response["Error"]["Code"]
    return code


def test_the_right_key_works_everywhere(server: EmulatorServer) -> None:
    assert client(server, "sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
    rt = client(server, "sagemaker-runtime")
    # Past authentication: the runtime's own answer for an endpoint that does not exist.
    assert code_of(rt.invoke_endpoint, EndpointName="nope", Body=b"1") == "ValidationError"
    s3 = client(server, "s3")
    s3.create_bucket(Bucket="auth-bucket")
    s3.put_object(Bucket="auth-bucket", Key="a/b c.txt", Body=b"hello")
    assert s3.get_object(Bucket="auth-bucket", Key="a/b c.txt")["Body"].read() == b"hello"
    logs = client(server, "logs")
    logs.create_log_group(logGroupName="/auth/test")
    assert logs.describe_log_groups(logGroupNamePrefix="/auth")["logGroups"]
    assert client(server, "sts").get_caller_identity()["Account"]


@pytest.mark.parametrize(
    ("service", "call", "params", "wrong_secret", "unknown_key"),
    [
        (
            "sagemaker",
            "list_models",
            {},
            "InvalidSignatureException",
            "UnrecognizedClientException",
        ),
        (
            "logs",
            "describe_log_groups",
            {},
            "InvalidSignatureException",
            "UnrecognizedClientException",
        ),
        ("s3", "list_buckets", {}, "SignatureDoesNotMatch", "InvalidAccessKeyId"),
        ("sts", "get_caller_identity", {}, "SignatureDoesNotMatch", "InvalidClientTokenId"),
        (
            "sagemaker-runtime",
            "invoke_endpoint",
            {"EndpointName": "ep", "Body": b"1"},
            "InvalidSignatureException",
            "UnrecognizedClientException",
        ),
    ],
)
def test_wrong_secret_and_unknown_key_are_refused_with_the_service_s_codes(
    server: EmulatorServer,
    service: str,
    call: str,
    params: dict[str, Any],
    wrong_secret: str,
    unknown_key: str,
) -> None:
    bad = client(server, service, secret="not-the-secret")
    assert code_of(getattr(bad, call), **params) == wrong_secret
    stranger = client(server, service, key="AKIDSTRANGER")
    assert code_of(getattr(stranger, call), **params) == unknown_key


def test_unsigned_requests_are_refused_but_health_answers(server: EmulatorServer) -> None:
    assert httpx.get(server.url + "/_emulator/health").status_code == 200
    listing = httpx.get(server.url + "/")
    assert listing.status_code == 403
    assert "<Code>AccessDenied</Code>" in listing.text
    control = httpx.post(
        server.url + "/", content=b"{}", headers={"X-Amz-Target": "SageMaker.ListModels"}
    )
    assert control.status_code == 403
    assert control.json()["__type"] == "MissingAuthenticationTokenException"


def test_presigned_urls_work_for_key_holders(server: EmulatorServer) -> None:
    s3 = client(server, "s3")
    s3.create_bucket(Bucket="presigned")
    s3.put_object(Bucket="presigned", Key="k.bin", Body=b"\x00\x01")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "k.bin"})
    assert httpx.get(url).content == b"\x00\x01"
    forged = client(server, "s3", secret="guess").generate_presigned_url(
        "get_object", Params={"Bucket": "presigned", "Key": "k.bin"}
    )
    refused = httpx.get(forged)
    assert refused.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in refused.text


def test_presigned_post_uploads_need_a_valid_policy_signature(server: EmulatorServer) -> None:
    s3 = client(server, "s3")
    s3.create_bucket(Bucket="uploads")
    post = s3.generate_presigned_post("uploads", "in/data.csv")
    ok = httpx.post(post["url"], data=post["fields"], files={"file": ("d.csv", b"1,2\n")})
    assert ok.status_code in (200, 204), ok.text
    assert s3.get_object(Bucket="uploads", Key="in/data.csv")["Body"].read() == b"1,2\n"
    forged = client(server, "s3", secret="guess").generate_presigned_post("uploads", "in/x.csv")
    refused = httpx.post(forged["url"], data=forged["fields"], files={"file": ("x", b"x")})
    assert refused.status_code == 403
    unsigned = httpx.post(post["url"], data={"key": "in/y.csv"}, files={"file": ("y", b"y")})
    assert unsigned.status_code == 403
    assert code_of(s3.head_object, Bucket="uploads", Key="in/x.csv") == "404"
