"""A full data dir: what was acknowledged is kept, what was refused is nowhere, before and after a
restart; errors are AWS-shaped and temporary files are removed.

The data dir is a small tmpfs (we run as root in the test environment; the test skips elsewhere).
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from sdk.launcher import EmulatorServer
from tests.conftest import REGION, boto_kwargs

StartEmulator = Callable[..., EmulatorServer]
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount / "data"
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of the disk under `directory`; delete the file to free them."""
    filler = directory / f"filler-{uuid.uuid4().hex[:6]}"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 4096, 1):
            block = b"\0" * size
            try:
                while True:
                    out.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def clients(server: EmulatorServer) -> tuple[Any, Any, Any]:
    kwargs = boto_kwargs(server.url)
    return (
        boto3.client("s3", **kwargs),
        boto3.client("sagemaker", **kwargs),
        boto3.client("logs", **kwargs),
    )


def refused(call: Callable[..., Any], code: str, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    assert error["Code"] == code, info.value.response
    assert "no space left on device" in error["Message"]


def maybe_refused(call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except ClientError as exc:
        error = exc.response["Error"]
        assert error["Code"] == "ServiceUnavailable", exc.response
        assert "no space left on device" in error["Message"]
        return None


def wait_failed(sm: Any, name: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        description = sm.describe_training_job(TrainingJobName=name)
        if description["TrainingJobStatus"] != "InProgress":
            assert description["TrainingJobStatus"] == "Failed", description
            reason: str = description["FailureReason"]
            return reason
        time.sleep(0.2)
    raise AssertionError(f"{name} did not end")


def test_a_full_disk_refuses_cleanly_and_a_restart_keeps_what_was_acknowledged(
    small_disk: Path, emulator_factory: StartEmulator
) -> None:
    server = emulator_factory(data_dir=small_disk)
    s3, sm, logs = clients(server)
    s3.create_bucket(Bucket="full")
    s3.put_object(Bucket="full", Key="kept.txt", Body=b"kept")
    s3.put_object(Bucket="full", Key="deleted-while-full.txt", Body=b"x")
    logs.create_log_group(logGroupName="/api/deleted-while-full")

    filler = fill(small_disk)
    refused(s3.put_object, "ServiceUnavailable", Bucket="full", Key="big", Body=os.urandom(8 << 20))
    assert not [p for p in small_disk.rglob("*") if p.name.endswith(".tmp")]
    with pytest.raises(ClientError):
        s3.head_object(Bucket="full", Key="big")
    refused(s3.create_bucket, "ServiceUnavailable", Bucket="refused-bucket")
    assert "refused-bucket" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    s3.delete_object(Bucket="full", Key="deleted-while-full.txt")  # deleting needs no space
    # SQLite may still have room in its write-ahead log: a create is then either refused (and
    # nothing is stored) or accepted, and then the job fails for want of space and says so.
    job = maybe_refused(
        sm.create_training_job,
        TrainingJobName="full-job",
        AlgorithmSpecification={
            "TrainingImage": image_uri("kmeans", REGION),
            "TrainingInputMode": "File",
        },
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://full/kept.txt"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://full/output/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        HyperParameters={"k": "2", "feature_dim": "2"},
    )
    reason = None
    if job is None:
        assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    else:
        reason = wait_failed(sm, "full-job")
        assert "no space left on device" in reason.lower()
    refused(logs.create_log_group, "ServiceUnavailableException", logGroupName="/api/refused")
    refused(logs.create_log_group, "ServiceUnavailableException", logGroupName="/api/refused")
    logs.delete_log_group(logGroupName="/api/deleted-while-full")

    filler.unlink()
    # Space is back: writes work again without a restart.
    s3.put_object(Bucket="full", Key="after.txt", Body=b"after")
    s3.create_bucket(Bucket="refused-bucket")  # the refused name was not left taken
    s3.delete_bucket(Bucket="refused-bucket")
    logs.create_log_group(logGroupName="/api/kept")
    logs.create_log_stream(logGroupName="/api/kept", logStreamName="s")
    logs.put_log_events(
        logGroupName="/api/kept",
        logStreamName="s",
        logEvents=[
            {"timestamp": int(time.time() * 1000) + i, "message": f"m{i}"} for i in range(3)
        ],
    )
    logs.put_retention_policy(logGroupName="/api/kept", retentionInDays=3653)
    server.stop()

    again = emulator_factory(data_dir=small_disk)
    s3, sm, logs = clients(again)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="full")["Contents"]}
    assert keys == {"kept.txt", "after.txt"}
    assert s3.get_object(Bucket="full", Key="kept.txt")["Body"].read() == b"kept"
    assert "refused-bucket" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if reason is None:
        assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    else:
        kept = sm.describe_training_job(TrainingJobName="full-job")
        assert (kept["TrainingJobStatus"], kept["FailureReason"]) == ("Failed", reason)
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
    assert set(groups) == {"/api/kept"}
    assert groups["/api/kept"]["retentionInDays"] == 3653
    events = logs.get_log_events(logGroupName="/api/kept", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["m0", "m1", "m2"]


def wait_endpoint_settled(sm: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        description: dict[str, Any] = sm.describe_endpoint(EndpointName=name)
        if description["EndpointStatus"] not in ("Creating", "Updating"):
            return description
        time.sleep(0.2)
    raise AssertionError(f"{name} did not settle")


def model_archive(size: int) -> bytes:
    """A model.tar.gz holding `size` incompressible bytes."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("weights.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return archive.getvalue()


@pytest.mark.parametrize("room_kib", [0, 256])
def test_create_endpoint_on_a_full_disk_fails_with_the_reason_or_is_refused(
    small_disk: Path, emulator_factory: StartEmulator, room_kib: int
) -> None:
    """No room at all: CreateEndpoint is refused and nothing is stored. Room for the record but
    not for the model: the endpoint is created, fails for want of space and says so."""
    server = emulator_factory(data_dir=small_disk)
    s3, sm, _ = clients(server)
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="model.tar.gz", Body=model_archive(2 << 20))
    sm.create_model(
        ModelName="full-model",
        PrimaryContainer={
            "Image": image_uri("kmeans", REGION),
            "ModelDataUrl": "s3://models/model.tar.gz",
        },
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName="full-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "full-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    reserve = small_disk / "reserve"
    reserve.write_bytes(b"\0" * (room_kib << 10))
    filler = fill(small_disk)
    reserve.unlink()

    created = maybe_refused(
        sm.create_endpoint, EndpointName="full-endpoint", EndpointConfigName="full-config"
    )
    reason = None
    if created is None:
        assert room_kib == 0, "refused although the record had room"
        assert sm.list_endpoints()["Endpoints"] == []
    else:
        described = wait_endpoint_settled(sm, "full-endpoint")
        assert described["EndpointStatus"] == "Failed", described
        reason = described["FailureReason"]
        assert "no space left on the device" in reason, reason
        assert not [p for p in small_disk.rglob("*") if p.name.endswith(".tmp")]
    filler.unlink()
    server.stop()

    again = emulator_factory(data_dir=small_disk)
    _, sm, _ = clients(again)
    if reason is None:
        assert sm.list_endpoints()["Endpoints"] == []
    else:
        kept = sm.describe_endpoint(EndpointName="full-endpoint")
        assert (kept["EndpointStatus"], kept["FailureReason"]) == ("Failed", reason)
    # The model and its configuration, stored before the disk filled, are intact.
    assert sm.describe_endpoint_config(EndpointConfigName="full-config")["ProductionVariants"]
    assert sm.describe_model(ModelName="full-model")["PrimaryContainer"]["ModelDataUrl"] == (
        "s3://models/model.tar.gz"
    )
