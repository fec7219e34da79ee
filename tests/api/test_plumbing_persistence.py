"""S3 and CloudWatch Logs survive a restart on the same data dir, a `kill -9` included."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from sdk.launcher import EmulatorServer
from tests.conftest import boto_kwargs

StartEmulator = Callable[..., EmulatorServer]
ODD_KEYS = ["100%/q?x=1#frag", "a//b", "ünï/code ✓", " lead", "x%2Fy", "tilde~/plus+"]


def s3_of(server: EmulatorServer) -> Any:
    return boto3.client("s3", **boto_kwargs(server.url))


def snapshot(s3: Any) -> dict[str, dict[str, tuple[int, str, str]]]:
    """bucket -> key -> (size, etag, sha256 of the body)."""
    state: dict[str, dict[str, tuple[int, str, str]]] = {}
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        state[name] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for entry in page.get("Contents", []):
                body = s3.get_object(Bucket=name, Key=entry["Key"])["Body"].read()
                digest = hashlib.sha256(body).hexdigest()
                state[name][entry["Key"]] = (entry["Size"], entry["ETag"], digest)
    return state


def test_s3_survives_a_clean_restart(emulator_factory: StartEmulator, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = emulator_factory(data_dir=data_dir)
    s3 = s3_of(first)
    s3.create_bucket(Bucket="persist-a")
    s3.create_bucket(Bucket="persist-gone")
    s3.put_object(Bucket="persist-a", Key="small.txt", Body=b"hello", ContentType="text/plain")
    s3.put_object(Bucket="persist-a", Key="meta", Body=b"m", Metadata={"owner": "me"})
    s3.put_object(Bucket="persist-a", Key="overwritten", Body=b"old")
    s3.put_object(Bucket="persist-a", Key="overwritten", Body=b"new")
    s3.put_object(Bucket="persist-a", Key="deleted", Body=b"x")
    s3.delete_object(Bucket="persist-a", Key="deleted")
    s3.copy_object(Bucket="persist-a", Key="copy.txt", CopySource="persist-a/small.txt")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    s3.upload_file(str(big), "persist-a", "dir/big.bin")  # multipart
    s3.delete_objects(Bucket="persist-a", Delete={"Objects": [{"Key": "meta"}, {"Key": "missing"}]})
    s3.put_object(Bucket="persist-a", Key="meta2", Body=b"m", Metadata={"owner": "me"})
    s3.delete_bucket(Bucket="persist-gone")
    s3.create_bucket(Bucket="persist-odd")
    for odd in ODD_KEYS:
        s3.put_object(Bucket="persist-odd", Key=odd, Body=odd.encode())
    before = snapshot(s3)
    first.stop()

    second = emulator_factory(data_dir=data_dir)
    s3 = s3_of(second)
    assert snapshot(s3) == before
    assert set(before["persist-a"]) == {
        "small.txt",
        "overwritten",
        "copy.txt",
        "dir/big.bin",
        "meta2",
    }
    assert s3.get_object(Bucket="persist-a", Key="overwritten")["Body"].read() == b"new"
    head = s3.head_object(Bucket="persist-a", Key="meta2")
    assert head["Metadata"] == {"owner": "me"}
    assert s3.head_object(Bucket="persist-a", Key="small.txt")["ContentType"] == "text/plain"
    assert "persist-gone" not in before
    assert set(before["persist-odd"]) == set(ODD_KEYS)
    for odd in ODD_KEYS:
        assert s3.get_object(Bucket="persist-odd", Key=odd)["Body"].read() == odd.encode()


def test_s3_writes_acknowledged_before_a_kill_9_survive(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = emulator_factory(data_dir=data_dir)
    s3 = s3_of(first)
    s3.create_bucket(Bucket="crash-bucket")
    payload = os.urandom(3 * 1024 * 1024)
    s3.put_object(Bucket="crash-bucket", Key="last-write.bin", Body=payload)
    first.kill()  # SIGKILL right after the PUT was acknowledged: no shutdown hook runs
    assert first.process.returncode == -9

    second = emulator_factory(data_dir=data_dir)
    s3 = s3_of(second)
    body = s3.get_object(Bucket="crash-bucket", Key="last-write.bin")["Body"].read()
    assert body == payload
    # And the restarted server keeps persisting: one more round trip through a crash.
    s3.delete_object(Bucket="crash-bucket", Key="last-write.bin")
    s3.put_object(Bucket="crash-bucket", Key="after.txt", Body=b"after")
    second.kill()
    third = emulator_factory(data_dir=data_dir)
    listed = s3_of(third).list_objects_v2(Bucket="crash-bucket")
    assert [entry["Key"] for entry in listed["Contents"]] == ["after.txt"]


def test_log_store_events_replay_after_a_restart(tmp_path: Path) -> None:
    """LogStore writes (the services' container output) are stored per stream and read back."""
    from emulator.storage.logs import LogStore
    from emulator.storage.moto_internals import logs as moto

    def messages() -> list[str]:
        return [e.message for e in moto.stream_events(moto.log_stream(region, group, stream))]

    region = "eu-west-3"  # a region no other test in this process writes to
    group, stream = "/aws/sagemaker/TrainingJobs", "job-1/algo-1-1700000000"
    store = LogStore(tmp_path / "logs", region)
    store.ensure_stream(group, "job-1/empty-stream")
    store.put_lines(group, stream, ["first", "second"], timestamp_ms=1_000)  # older than 14 days
    store.put_lines(group, stream, ["third"])
    store.close()
    (events_file,) = [p for p in (tmp_path / "logs").rglob("*.jsonl") if p.stat().st_size]
    with events_file.open("a") as events:
        events.write("[1700000000000, 17")  # what kill -9 mid-write leaves

    moto.reset_logs(region)  # a fresh process: moto starts empty
    replayed = LogStore(tmp_path / "logs", region)
    replayed.load_for_request("Logs_20140328.GetLogEvents", {"logGroupName": group}, region)
    streams = moto.log_streams(moto.log_group(region, group))
    assert set(streams) == {stream, "job-1/empty-stream"}
    assert messages() == ["first", "second", "third"]
    assert moto.stream_events(streams[stream])[0].timestamp == 1_000
    replayed.put_lines(group, stream, ["fourth"])
    replayed.close()

    moto.reset_logs(region)
    again = LogStore(tmp_path / "logs", region)
    assert messages() == []  # read on demand
    again.load_for_request("Logs_20140328.GetLogEvents", {"logGroupName": group}, region)
    assert messages() == ["first", "second", "third", "fourth"]
    moto.logs_backend(region).delete_log_group(group)  # what a client can do through the Logs API
    again.put_lines(group, stream, ["fifth"])
    assert messages() == ["fifth"]
    again.close()


@pytest.mark.parametrize("key", ["plain", "dir/with spaces/ünïcode.txt", "a" * 900])
def test_s3_store_round_trip_through_the_data_dir(tmp_path: Path, key: str) -> None:
    """The services' S3Store: put/get/list/open, persisted and reloaded by a new store."""
    from emulator.storage.moto_internals import s3_tracking
    from emulator.storage.s3 import NoSuchBucket, NoSuchKey, S3Store

    bucket = "store-round-trip"
    s3_tracking.reset_s3()
    store = S3Store(tmp_path / "s3")
    assert not store.head_bucket(bucket)
    with pytest.raises(NoSuchBucket):
        store.put_object(bucket, key, b"x")
    store.create_bucket(bucket)
    store.put_object(bucket, key, b"first")
    with (tmp_path / "payload").open("wb") as out:
        out.write(b"y" * 100_000)
    with (tmp_path / "payload").open("rb") as stream:
        store.put_object(bucket, key + ".stream", stream)
    assert store.get_object(bucket, key) == b"first"
    with pytest.raises(NoSuchKey):
        store.get_object(bucket, "missing")

    s3_tracking.reset_s3()
    reloaded = S3Store(tmp_path / "s3")
    assert reloaded.head_bucket(bucket)
    assert reloaded.list_keys(bucket, "") == sorted([(key, 5), (key + ".stream", 100_000)])
    with reloaded.open_object(bucket, key + ".stream") as stream:
        assert stream.read() == b"y" * 100_000
    s3_tracking.reset_s3()


def test_serve_seed_dir_uploads_buckets_at_start(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    seed = tmp_path / "seed"
    (seed / "seed-bucket" / "data" / "nested").mkdir(parents=True)
    (seed / "seed-bucket" / "data" / "train.csv").write_bytes(b"1,2\n3,4\n")
    (seed / "seed-bucket" / "data" / "nested" / "x.bin").write_bytes(b"\x00\x01")
    (seed / "second-bucket").mkdir()
    server = emulator_factory(data_dir=tmp_path / "data", extra_args=["--seed-dir", str(seed)])
    s3 = s3_of(server)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="seed-bucket")["Contents"]]
    assert keys == ["data/nested/x.bin", "data/train.csv"]
    head = s3.head_object(Bucket="seed-bucket", Key="data/train.csv")
    assert head["ContentType"] == "text/csv"
    assert "second-bucket" in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_serve_refuses_a_seed_dir_with_loose_files(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    from sdk.launcher import EmulatorStartError

    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "loose.txt").write_text("no bucket")
    with pytest.raises(EmulatorStartError) as info:
        emulator_factory(data_dir=tmp_path / "data", extra_args=["--seed-dir", str(seed)])
    assert "top-level folders are buckets" in str(info.value)
    assert "Traceback" not in str(info.value)


def test_a_nul_in_an_object_key_is_refused_as_s3_errors_are(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    from botocore.exceptions import ClientError

    s3 = s3_of(emulator_factory(data_dir=tmp_path / "data"))
    s3.create_bucket(Bucket="nul-keys")
    s3.put_object(Bucket="nul-keys", Key="plain", Body=b"x")
    for call, kwargs in (
        (s3.put_object, {"Key": "a\0b", "Body": b"x"}),
        (s3.get_object, {"Key": "a\0b"}),
        (s3.copy_object, {"Key": "c", "CopySource": "nul-keys/a\0b"}),
    ):
        with pytest.raises(ClientError) as info:
            call(Bucket="nul-keys", **kwargs)
        assert info.value.response["Error"]["Code"] == "InvalidArgument"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as info:
        s3.delete_objects(Bucket="nul-keys", Delete={"Objects": [{"Key": "a\0b"}]})
    assert info.value.response["Error"]["Code"] == "MalformedXML"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="nul-keys")["Contents"]] == ["plain"]
