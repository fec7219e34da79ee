"""A region's services call operations through the same checks as an HTTP client (the model's
validation, the documented constraints, the output shape): what a tuning job relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.aws.context import RequestContext
from emulator.aws.errors import ValidationException
from emulator.runtime.process_runtime import ProcessRuntime
from emulator.services.dispatch import Dispatcher
from emulator.services.regions import RegionalServices
from emulator.storage.logs import RegionalLogs
from emulator.storage.s3 import S3Store

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_internal_calls_are_validated_and_wire_shaped(tmp_path: Path) -> None:
    logs = RegionalLogs(tmp_path / "logs", "us-east-1")
    regions = RegionalServices(
        tmp_path, "us-east-1", ProcessRuntime(), S3Store(tmp_path / "s3"), logs.get
    )
    try:
        service = regions.get("eu-west-1")
        with pytest.raises(ValidationException, match="modelName"):
            service.call_operation("CreateModel", {"ModelName": "no_underscores"})
        created = service.call_operation(
            "CreateModel",
            {
                "ModelName": "m1",
                "PrimaryContainer": {"Image": "local/x:1"},
                "ExecutionRoleArn": ROLE,
            },
        )
        assert created == {"ModelArn": "arn:aws:sagemaker:eu-west-1:123456789012:model/m1"}
        described = service.call_operation("DescribeModel", {"ModelName": "m1"})
        assert isinstance(described["CreationTime"], float | int)  # wire form: epoch seconds
    finally:
        regions.close()
        logs.close()


def test_a_call_history_that_fails_does_not_fail_the_call(tmp_path: Path) -> None:
    logs = RegionalLogs(tmp_path / "logs", "us-east-1")
    regions = RegionalServices(
        tmp_path, "us-east-1", ProcessRuntime(), S3Store(tmp_path / "s3"), logs.get
    )

    def broken_history(context: RequestContext, operation: str, params: dict[str, Any]) -> None:
        raise OSError("the history's disk is gone")

    try:
        dispatcher = Dispatcher(regions, on_success=broken_history)
        created = dispatcher.call(
            RequestContext("us-east-1"),
            "CreateModel",
            {
                "ModelName": "m2",
                "PrimaryContainer": {"Image": "local/x:1"},
                "ExecutionRoleArn": ROLE,
            },
        )
        assert created["ModelArn"].endswith(":model/m2")
        assert regions.get("us-east-1").call_operation("DescribeModel", {"ModelName": "m2"})
    finally:
        regions.close()
        logs.close()
