"""What a web page (or a DNS-rebound name) can make the emulator do: nothing, unless allowed.

Raw HTTP requests shaped like the ones a browser sends (Origin, Sec-Fetch-Site, forms, text/plain
bodies, preflights) against a real server; tests/browser drives the same chain in Chromium.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from sdk.launcher import EmulatorServer, start_emulator
from tests.api.test_plumbing import assert_aws_error, signed_request
from tests.conftest import boto_kwargs

EVIL = "http://evil.example:8000"
TRUSTED = "http://localhost:3000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    with start_emulator(
        tmp_path_factory.mktemp("security-browser"),
        "process",
        extra_args=["--allowed-origin", TRUSTED, "--allowed-host", "emulator"],
    ) as running:
        yield running


@pytest.fixture(scope="module")
def s3(server: EmulatorServer) -> Any:
    return boto3.client("s3", **boto_kwargs(server.url))


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    name = f"sec-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="secret.txt", Body=b"secret")
    return name


def _sagemaker(server: EmulatorServer) -> Any:
    return boto3.client("sagemaker", **boto_kwargs(server.url))


def _xml_code(response: httpx.Response) -> str:
    text = response.text
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


# --- DNS rebinding: the Host header ------------------------------------------------------------


def test_a_foreign_host_name_is_refused(server: EmulatorServer) -> None:
    response = httpx.get(server.url + "/", headers={"Host": f"evil.example:{server.port}"})
    assert response.status_code == 403
    assert _xml_code(response) == "AccessDenied"
    target = {"X-Amz-Target": "SageMaker.ListModels", "Host": "rebound.example"}
    assert_aws_error(
        httpx.post(server.url + "/", content=b"{}", headers=target), 403, "AccessDeniedException"
    )


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "[::1]", "emulator", "mybucket.localhost", "127.0.0.1:1"]
)
def test_loopback_and_added_names_are_answered(server: EmulatorServer, host: str) -> None:
    response = httpx.get(server.url + "/_emulator/health", headers={"Host": host})
    assert response.status_code == 200


# --- cross-origin requests to the control plane, runtime and admin -----------------------------


def test_a_simple_cross_origin_post_cannot_create_a_training_job(server: EmulatorServer) -> None:
    name = f"evil-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"TrainingJobName": name}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = httpx.post(
            server.url + "/",
            content=body,
            headers={
                "Origin": EVIL,
                "Content-Type": content_type,
                "X-Amz-Target": "SageMaker.CreateTrainingJob",
            },
        )
        assert_aws_error(response, 403, "AccessDeniedException")
        assert "access-control-allow-origin" not in response.headers
    with pytest.raises(ClientError):
        _sagemaker(server).describe_training_job(TrainingJobName=name)


def test_a_preflight_from_a_foreign_origin_is_refused(server: EmulatorServer) -> None:
    response = httpx.request(
        "OPTIONS",
        server.url + "/",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type",
        },
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_runtime_and_admin_refuse_foreign_pages(server: EmulatorServer) -> None:
    invoke = httpx.post(
        server.url + "/endpoints/ep/invocations", content=b"1", headers={"Origin": "null"}
    )
    assert_aws_error(invoke, 403, "AccessDeniedException")
    # A no-cors request carries no Origin; Sec-Fetch-Site still says where it came from.
    health = httpx.get(server.url + "/_emulator/health", headers={"Sec-Fetch-Site": "cross-site"})
    assert health.status_code == 403


def test_a_configured_origin_may_call_the_control_plane(server: EmulatorServer) -> None:
    preflight = httpx.request(
        "OPTIONS",
        server.url + "/",
        headers={
            "Origin": TRUSTED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == TRUSTED
    response = httpx.post(
        server.url + "/",
        content=b"{}",
        headers={
            "Origin": TRUSTED,
            "X-Amz-Target": "SageMaker.ListModels",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == TRUSTED


def test_same_origin_and_non_browser_clients_are_unaffected(
    server: EmulatorServer, s3: Any, bucket: str
) -> None:
    assert _sagemaker(server).list_models()["Models"] == []
    assert s3.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"secret"
    same = httpx.get(server.url + "/_emulator/health", headers={"Origin": server.url})
    assert same.status_code == 200


# --- S3: CORS per bucket, as real S3 --------------------------------------------------------------


def test_cross_origin_list_buckets_is_refused(server: EmulatorServer, bucket: str) -> None:
    response = httpx.get(server.url + "/", headers={"Origin": EVIL})
    assert response.status_code == 403
    assert _xml_code(response) == "AccessDenied"
    assert bucket not in response.text
    assert "access-control-allow-origin" not in response.headers


def test_an_unsigned_form_post_from_a_foreign_page_writes_nothing(
    server: EmulatorServer, s3: Any, bucket: str
) -> None:
    response = httpx.post(
        f"{server.url}/{bucket}",
        data={"key": "dropped.sh"},
        files={"file": ("x.sh", b"#!/bin/sh\necho owned\n")},
        headers={"Origin": EVIL},
    )
    assert response.status_code == 403
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="dropped.sh")


def test_moto_s_blanket_cors_is_gone(server: EmulatorServer, s3: Any, bucket: str) -> None:
    # No CORS configuration on the bucket: no CORS headers and a failing preflight (real S3).
    preflight = httpx.request(
        "OPTIONS",
        f"{server.url}/{bucket}/secret.txt",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "secret.txt"})
    plain = httpx.get(url, headers={"Origin": server.url})
    assert plain.status_code == 200, plain.text
    assert "access-control-allow-origin" not in plain.headers


def test_a_bucket_cors_configuration_is_honoured(server: EmulatorServer, s3: Any) -> None:
    name = f"cors-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="public.json", Body=b"{}")
    app = "http://app.example:5173"
    s3.put_bucket_cors(
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [app],
                    "AllowedMethods": ["GET"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 60,
                }
            ]
        },
    )
    url = f"{server.url}/{name}/public.json"
    preflight = httpx.request(
        "OPTIONS",
        url,
        headers={
            "Origin": app,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == app
    assert preflight.headers["access-control-max-age"] == "60"
    presigned = s3.generate_presigned_url(
        "get_object", Params={"Bucket": name, "Key": "public.json"}
    )
    allowed = httpx.get(presigned, headers={"Origin": app})
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == app
    # Another origin, or a method the rule does not list: refused.
    assert httpx.get(presigned, headers={"Origin": EVIL}).status_code == 403
    assert httpx.delete(url, headers={"Origin": app}).status_code == 403
    assert s3.get_object(Bucket=name, Key="public.json")["Body"].read() == b"{}"


# --- moto's admin API -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/moto-api/reset"),
        ("GET", "/moto-api/data.json"),
        ("POST", "/moto-api/recorder/start-recording"),
        ("POST", "/moto-api/recorder/replay-recording"),
        ("GET", "/moto-api/"),
    ],
)
def test_moto_admin_routes_are_off_by_default(
    server: EmulatorServer, s3: Any, bucket: str, method: str, path: str
) -> None:
    response = httpx.request(method, server.url + path)
    assert response.status_code == 404
    assert _xml_code(response) == "NoSuchBucket"
    assert s3.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"secret"


# --- requests the edge does not recognise ---------------------------------------------------------


def test_a_lower_case_or_missing_target_is_an_unknown_operation(server: EmulatorServer) -> None:
    lower = httpx.post(
        server.url + "/", content=b"{}", headers={"X-Amz-Target": "sagemaker.listmodels"}
    )
    assert_aws_error(lower, 400, "UnknownOperationException")
    foreign = httpx.post(
        server.url + "/", content=b"{}", headers={"X-Amz-Target": "Frobnicator.DoIt"}
    )
    assert_aws_error(foreign, 400, "UnknownOperationException")
    missing = signed_request(server, "POST", "/", b"{}", {})
    assert_aws_error(missing, 400, "UnknownOperationException")


def test_a_sagemaker_target_signed_for_another_service(server: EmulatorServer) -> None:
    response = signed_request(
        server, "POST", "/", b"{}", {"X-Amz-Target": "SageMaker.ListModels"}, service="s3"
    )
    payload = assert_aws_error(response, 403, "InvalidSignatureException")
    assert "sagemaker" in payload["message"]


def test_an_encoded_slash_in_an_endpoint_name(server: EmulatorServer) -> None:
    response = signed_request(server, "POST", "/endpoints/a%2Fb/invocations", b"1")
    assert response.status_code == 400, response.text
    assert response.headers["x-amzn-errortype"] == "ValidationError"
    assert "endpointName" in response.json()["Message"] or "EndpointName" in response.text
    rt = boto3.client("sagemaker-runtime", **boto_kwargs(server.url))
    with pytest.raises(ClientError) as info:
        rt.invoke_endpoint(EndpointName="a/b", Body=b"1")
    assert info.value.response["Error"]["Code"] == "ValidationError"
