"""A start takes in S3's buckets, not what they hold: each key is read from the index when a
request first names it, and every operation on keys no request has read yet behaves as on the
keys moto made itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sdk.launcher import EmulatorServer
from tests.conftest import boto_kwargs

StartEmulator = Callable[..., EmulatorServer]
KEYS = 120


def _client(service: str, server: EmulatorServer) -> Any:
    return boto3.client(service, **boto_kwargs(server.url))


def _listed(s3: Any, bucket: str) -> dict[str, int]:
    return {
        entry["Key"]: entry["Size"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for entry in page.get("Contents", [])
    }


def test_a_start_takes_in_no_key_until_a_request_names_it(tmp_path: Path) -> None:
    from emulator.storage.moto_internals import s3 as moto_s3
    from emulator.storage.moto_internals.s3_tracking import held_key_names, reset_s3
    from emulator.storage.s3 import S3Store

    root = tmp_path / "s3"
    reset_s3()
    store = S3Store(root)
    store.create_bucket("many")
    store.create_bucket("few")
    for i in range(500):
        store.put_object("many", f"k{i:03d}", f"body {i}".encode())
    store.put_object("few", "only", b"one")
    store.close()
    reset_s3()

    again = S3Store(root)
    many, few = moto_s3.bucket("many"), moto_s3.bucket("few")
    assert held_key_names(many) == set() and held_key_names(few) == set()
    assert again.get_object("many", "k042") == b"body 42"
    assert held_key_names(many) == {"k042"}
    # The services' listing reads the index, not moto: nothing more is taken in.
    assert len(again.list_keys("many")) == 500
    assert again.get_object("few", "only") == b"one"
    assert held_key_names(many) == {"k042"} and held_key_names(few) == {"only"}
    again.close()
    reset_s3()


def test_keys_no_request_has_read_yet_behave_as_any(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = emulator_factory(data_dir=data_dir)
    s3 = _client("s3", first)
    s3.create_bucket(Bucket="lazy")
    for i in range(KEYS):
        s3.put_object(
            Bucket="lazy", Key=f"k{i:03d}", Body=f"body {i}".encode(), Metadata={"n": str(i)}
        )
    s3.create_bucket(Bucket="lazy-versions")
    s3.put_bucket_versioning(Bucket="lazy-versions", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="lazy-versions", Key="doc", Body=b"one")["VersionId"]
    s3.put_object(Bucket="lazy-versions", Key="doc", Body=b"two")
    first.kill()

    second = emulator_factory(data_dir=data_dir)
    s3 = _client("s3", second)
    head = s3.head_object(Bucket="lazy", Key="k005")
    assert (head["ContentLength"], head["Metadata"]) == (len(b"body 5"), {"n": "5"})
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket="lazy", Key="absent")
    assert info.value.response["Error"]["Code"] == "404"
    s3.copy_object(Bucket="lazy", Key="copy", CopySource={"Bucket": "lazy", "Key": "k007"})
    assert s3.get_object(Bucket="lazy", Key="copy")["Body"].read() == b"body 7"
    s3.put_object(Bucket="lazy", Key="k008", Body=b"replaced")
    s3.delete_object(Bucket="lazy", Key="k009")
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="lazy", Key="k009")
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as info:
        s3.delete_bucket(Bucket="lazy")  # holds keys no request has read
    assert info.value.response["Error"]["Code"] == "BucketNotEmpty"
    # moto's CloudWatch counts every bucket's objects (the index answers).
    now = datetime.now(UTC)
    counted = _client("cloudwatch", second).get_metric_statistics(
        Namespace="AWS/S3",
        MetricName="NumberOfObjects",
        Dimensions=[
            {"Name": "StorageType", "Value": "AllStorageTypes"},
            {"Name": "BucketName", "Value": "lazy"},
        ],
        StartTime=now - timedelta(days=2),
        EndTime=now + timedelta(days=1),
        Period=86400,
        Statistics=["Maximum"],
    )
    assert [point["Maximum"] for point in counted["Datapoints"]] == [KEYS]
    expected = {f"k{i:03d}": len(f"body {i}") for i in range(KEYS) if i != 9}
    expected |= {"copy": len(b"body 7"), "k008": len(b"replaced")}
    assert _listed(s3, "lazy") == expected
    old = s3.get_object(Bucket="lazy-versions", Key="doc", VersionId=v1)["Body"].read()
    assert old == b"one"
    second.stop()

    third = emulator_factory(data_dir=data_dir)
    s3 = _client("s3", third)
    versions = s3.list_object_versions(Bucket="lazy-versions")["Versions"]
    assert [(v["Key"], v["IsLatest"]) for v in versions] == [("doc", True), ("doc", False)]
    assert s3.get_object(Bucket="lazy", Key="k008")["Body"].read() == b"replaced"
    assert _listed(s3, "lazy") == expected
    for key in expected:
        s3.delete_object(Bucket="lazy", Key=key)
    s3.delete_bucket(Bucket="lazy")
    third.stop()

    fourth = emulator_factory(data_dir=data_dir)
    names = [b["Name"] for b in _client("s3", fourth).list_buckets()["Buckets"]]
    assert names == ["lazy-versions"]
