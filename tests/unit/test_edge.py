"""The edge's routing decision, fed with requests signed by botocore itself."""

from __future__ import annotations

from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.routing import Route, classify, is_invocation_path, signing_service

CREDENTIALS = Credentials("AKIDEXAMPLE", "secret")
BASE = "http://127.0.0.1:8642"


def signed(service: str, method: str, path: str, target: str | None = None) -> dict[str, str]:
    headers = {"X-Amz-Target": target} if target else {}
    request = AWSRequest(method=method, url=BASE + path, data=b"{}", headers=headers)
    SigV4Auth(CREDENTIALS, service, "us-east-1").add_auth(request)
    return {name.lower(): str(value) for name, value in request.headers.items()}


def route_of(service: str, method: str, path: str, target: str | None = None) -> Route:
    return classify(path, signed(service, method, path, target))


def test_sagemaker_control_plane_by_scope_and_target() -> None:
    assert route_of("sagemaker", "POST", "/", "SageMaker.ListTrainingJobs") is Route.CONTROL


def test_runtime_signs_as_sagemaker_and_is_told_apart_by_path() -> None:
    assert route_of("sagemaker", "POST", "/endpoints/my-ep/invocations") is Route.RUNTIME


@pytest.mark.parametrize("service", ["s3", "sts", "iam", "logs", "ec2"])
def test_other_services_go_to_moto(service: str) -> None:
    assert route_of(service, "POST", "/") is Route.MOTO
    assert route_of(service, "PUT", "/endpoints/x/invocations") is Route.MOTO


def test_an_s3_key_that_looks_like_an_invocation_path_stays_in_s3() -> None:
    assert route_of("s3", "PUT", "/endpoints/ep/invocations") is Route.MOTO


def test_admin_paths_are_ours_without_signature() -> None:
    assert classify("/_emulator/health", {}) is Route.ADMIN
    assert classify("/_emulator/health", signed("s3", "GET", "/_emulator/health")) is Route.ADMIN


def test_unsigned_requests() -> None:
    assert classify("/", {"x-amz-target": "SageMaker.ListModels"}) is Route.CONTROL
    assert classify("/endpoints/ep/invocations", {}) is Route.RUNTIME
    assert classify("/bucket/key", {}) is Route.MOTO


def test_presigned_urls_carry_the_scope_in_the_query() -> None:
    request = AWSRequest(method="GET", url=BASE + "/bucket/key.bin")
    S3SigV4QueryAuth(CREDENTIALS, "s3", "us-east-1", expires=60).add_auth(request)
    query = urlsplit(request.url).query
    assert signing_service(None, query) == "s3"
    assert classify("/bucket/key.bin", {}, query) is Route.MOTO


def test_scope_of_a_real_boto3_client_request() -> None:
    # The scope botocore writes for each client we route, taken from its own service models.
    session = botocore.session.get_session()
    for service, expected in [("sagemaker-runtime", "sagemaker"), ("logs", "logs"), ("s3", "s3")]:
        model = session.get_service_model(service)
        assert model.signing_name == expected
        assert (
            signing_service(signed(model.signing_name, "POST", "/")["authorization"], "")
            == expected
        )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/endpoints/ep/invocations", True),
        ("/endpoints/ep/async-invocations", True),
        ("/endpoints//invocations", False),
        ("/endpoints/ep", False),
        ("/bucket/endpoints/ep/invocations", False),
    ],
)
def test_invocation_paths(path: str, expected: bool) -> None:
    assert is_invocation_path(path) is expected


def test_a_sigv4_header_without_a_credential_scope_is_rejected_at_the_edge() -> None:
    assert classify("/", {"authorization": "AWS4-HMAC-SHA256 garbage"}) is Route.BAD_SIGNATURE
    assert (
        classify("/", {"authorization": "AWS4-HMAC-SHA256 Credential=a/b"}) is Route.BAD_SIGNATURE
    )
