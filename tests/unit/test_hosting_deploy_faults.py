"""A serving container that cannot start for an unexpected reason must fail the endpoint.

Regression: an exception other than DeployError inside a variant's start thread was lost, the
deploy saw no errors and no variants, and the endpoint went InService with nothing to serve
(InvokeEndpoint then answered a 500).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from emulator.runtime.base import (
    ClusterHandle,
    ClusterSpec,
    ContainerSpec,
    ServingHandle,
    TrainingHandle,
)
from emulator.services.context import ServiceContext
from emulator.services.hosting import HostingService
from emulator.services.invocation import InvocationRouter
from emulator.services.tags import TagService
from emulator.state.records import EndpointStatus
from emulator.state.store import RecordStore


class ExplodingRuntime:
    """A runtime whose serving start fails with an error no layer expects (a bug, a crash)."""

    name = "exploding"

    def start_training(self, spec: ContainerSpec) -> TrainingHandle:
        raise NotImplementedError

    def start_cluster(self, cluster: ClusterSpec) -> ClusterHandle:
        raise NotImplementedError

    def start_serving(self, spec: ContainerSpec) -> ServingHandle:
        raise RuntimeError("engine went away")

    def shares_files(self, directory: Path) -> bool:
        return True

    def cleanup_orphans(self) -> None:
        pass

    def close(self) -> None:
        pass


class NoLogs:
    def ensure_stream(self, group: str, stream: str) -> None:
        pass

    def put_lines(
        self, group: str, stream: str, lines: list[str], timestamp_ms: int | None = None
    ) -> None:
        pass


class NoObjects:
    def get_object(self, bucket: str, key: str) -> bytes:
        raise KeyError(key)

    def open_object(self, bucket: str, key: str) -> Any:
        raise KeyError(key)

    def list_keys(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        return []

    def content_type(self, bucket: str, key: str) -> str | None:
        return None

    def put_object(
        self, bucket: str, key: str, data_or_file: Any, content_type: str | None = None
    ) -> None:
        pass

    def head_bucket(self, bucket: str) -> bool:
        return False


def test_unexpected_start_error_fails_the_endpoint(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "state.sqlite3")
    router = InvocationRouter("us-east-1")
    context = ServiceContext(
        region="us-east-1",
        data_dir=tmp_path,
        runtime=ExplodingRuntime(),
        s3=NoObjects(),
        logs=NoLogs(),
        store=store,
        tags=TagService(store, exists=lambda arn: True),
    )
    hosting = HostingService(context, router)
    hosting.start()
    try:
        image = "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
        hosting.create_model(
            {
                "ModelName": "m",
                "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
                "PrimaryContainer": {"Image": image},
            }
        )
        hosting.create_endpoint_config(
            {
                "EndpointConfigName": "c",
                "ProductionVariants": [
                    {"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1}
                ],
            }
        )
        hosting.create_endpoint({"EndpointName": "e", "EndpointConfigName": "c"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            described = hosting.describe_endpoint({"EndpointName": "e"})
            if described["EndpointStatus"] != EndpointStatus.CREATING:
                break
            time.sleep(0.02)
        assert described["EndpointStatus"] == EndpointStatus.FAILED
        assert "engine went away" in described["FailureReason"]
        assert router.get("e") is None
        # The variant's /opt/ml tree (model included) does not outlive the failed start.
        leftovers = list((tmp_path / "endpoints").glob("e/*"))
        assert leftovers == []
    finally:
        hosting.close()
