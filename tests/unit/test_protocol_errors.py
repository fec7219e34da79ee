"""Errors the emulator writes itself parse with botocore's own parser of each protocol."""

from __future__ import annotations

import botocore.parsers
import botocore.session
import pytest

from emulator.aws.protocol_errors import internal_failure, not_implemented
from emulator.aws.service_models import request_protocol, service_model


def _parsed(
    service: str, protocol: str, answer: tuple[int, list[tuple[bytes, bytes]], bytes]
) -> dict[str, object]:
    status, headers, body = answer
    model = botocore.session.get_session().get_service_model(service)
    operation = model.operation_model(model.operation_names[0])
    response = {
        "status_code": status,
        "headers": {name.decode(): value.decode() for name, value in headers},
        "body": body,
    }
    parsed: dict[str, object] = botocore.parsers.create_parser(protocol).parse(
        response, operation.output_shape
    )
    return parsed


@pytest.mark.parametrize(
    ("service", "protocol", "code", "status"),
    [
        ("iam", "query", "InvalidAction", 400),
        ("s3", "rest-xml", "NotImplemented", 501),
        ("logs", "json", "InvalidAction", 400),
        ("cloudwatch", "json", "InvalidAction", 400),
        ("cloudwatch", "query", "InvalidAction", 400),
        ("cloudwatch", "smithy-rpc-v2-cbor", "InvalidAction", 400),
    ],
)
def test_not_implemented_parses(service: str, protocol: str, code: str, status: int) -> None:
    model = service_model(service)
    assert model is not None
    signing = model.signing_name
    parsed = _parsed(service, protocol, not_implemented(signing, protocol, "SomeOperation"))
    error = parsed["Error"]
    assert isinstance(error, dict)
    assert error["Code"] == code
    assert "SomeOperation" in error["Message"]
    metadata = parsed["ResponseMetadata"]
    assert isinstance(metadata, dict)
    assert metadata["HTTPStatusCode"] == status


@pytest.mark.parametrize("protocol", ["query", "json", "smithy-rpc-v2-cbor"])
def test_internal_failure_parses(protocol: str) -> None:
    parsed = _parsed("cloudwatch", protocol, internal_failure("monitoring", protocol))
    error = parsed["Error"]
    assert isinstance(error, dict)
    assert error["Code"] == "InternalFailure"


def test_signing_name_that_is_no_model_name() -> None:
    """CloudWatch signs as `monitoring`; its model is found through its metadata."""
    model = service_model("monitoring")
    assert model is not None
    assert model.service_name == "cloudwatch"


@pytest.mark.parametrize(
    ("headers", "protocol"),
    [
        ({"smithy-protocol": "rpc-v2-cbor"}, "smithy-rpc-v2-cbor"),
        ({"x-amz-target": "GraniteServiceVersion20100801.ListMetrics"}, "json"),
        ({"content-type": "application/x-www-form-urlencoded; charset=utf-8"}, "query"),
    ],
)
def test_request_protocol_of_a_service_with_several(headers: dict[str, str], protocol: str) -> None:
    assert request_protocol("monitoring", headers) == protocol


def test_request_protocol_of_a_service_with_one() -> None:
    assert request_protocol("iam", {"x-amz-target": "ignored"}) == "query"
