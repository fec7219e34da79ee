"""S3, STS, IAM and CloudWatch Logs answered by moto through the emulator's one port."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from sdk.launcher import EmulatorServer, start_emulator
from tests.conftest import boto_kwargs

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    with start_emulator(tmp_path_factory.mktemp("moto-plumbing"), "process") as running:
        yield running


def make(server: EmulatorServer, service: str) -> Any:
    return boto3.client(service, **boto_kwargs(server.url))


def test_sts_caller_identity_is_moto_s_account(server: EmulatorServer) -> None:
    identity = make(server, "sts").get_caller_identity()
    assert identity["Account"] == ACCOUNT


def test_iam_roles(server: EmulatorServer) -> None:
    iam = make(server, "iam")
    created = iam.create_role(RoleName="SageMakerRole", AssumeRolePolicyDocument="{}")
    assert created["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
    assert iam.get_role(RoleName="SageMakerRole")["Role"]["RoleName"] == "SageMakerRole"


def test_cloudwatch_logs_round_trip(server: EmulatorServer) -> None:
    logs = make(server, "logs")
    logs.create_log_group(logGroupName="/plumbing/test")
    logs.create_log_stream(logGroupName="/plumbing/test", logStreamName="s/1")
    now_ms = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
    logs.put_log_events(
        logGroupName="/plumbing/test",
        logStreamName="s/1",
        logEvents=[{"timestamp": now_ms + i, "message": f"line {i}"} for i in range(3)],
    )
    streams = logs.describe_log_streams(
        logGroupName="/plumbing/test", logStreamNamePrefix="s/", orderBy="LogStreamName"
    )["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["s/1"]
    events = logs.get_log_events(
        logGroupName="/plumbing/test", logStreamName="s/1", startFromHead=True
    )
    assert [e["message"] for e in events["events"]] == ["line 0", "line 1", "line 2"]


def test_s3_path_style_objects_listing_and_metadata(server: EmulatorServer) -> None:
    s3 = make(server, "s3")
    s3.create_bucket(Bucket="plumbing-objects")
    s3.put_object(
        Bucket="plumbing-objects",
        Key="dir/a b+c.txt",
        Body=b"\x00binary\xff",
        ContentType="application/x-thing",
        Metadata={"with_underscore": "1", "plain": "2"},
    )
    head = s3.head_object(Bucket="plumbing-objects", Key="dir/a b+c.txt")
    assert head["ContentType"] == "application/x-thing"
    assert head["Metadata"] == {"with_underscore": "1", "plain": "2"}
    body = s3.get_object(Bucket="plumbing-objects", Key="dir/a b+c.txt")["Body"].read()
    assert body == b"\x00binary\xff"
    listed = s3.list_objects_v2(Bucket="plumbing-objects", Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a b+c.txt"]


def test_large_s3_upload_and_download(server: EmulatorServer, tmp_path: Path) -> None:
    s3 = make(server, "s3")
    s3.create_bucket(Bucket="plumbing-large")
    source = tmp_path / "big.bin"
    block = bytes(range(256)) * 4096  # 1 MiB
    with source.open("wb") as out:
        for i in range(40):
            out.write(block[i:] + block[:i])
    s3.upload_file(str(source), "plumbing-large", "big.bin")  # multipart (8 MiB parts)
    s3.put_object(Bucket="plumbing-large", Key="single.bin", Body=source.read_bytes())
    target = tmp_path / "back.bin"
    s3.download_file("plumbing-large", "big.bin", str(target))
    assert target.read_bytes() == source.read_bytes()
    single = s3.get_object(Bucket="plumbing-large", Key="single.bin")["Body"].read()
    assert single == source.read_bytes()


def test_s3_presigned_url(server: EmulatorServer) -> None:
    s3 = make(server, "s3")
    s3.create_bucket(Bucket="plumbing-presigned")
    s3.put_object(Bucket="plumbing-presigned", Key="k", Body=b"shared")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "plumbing-presigned", "Key": "k"}, ExpiresIn=60
    )
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b"shared"


def test_s3_errors_are_s3_errors(server: EmulatorServer) -> None:
    s3 = make(server, "s3")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket="plumbing-no-such-bucket")
    s3.create_bucket(Bucket="plumbing-errors")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="plumbing-errors", Key="missing")
