"""S3 across restarts: versions and delete markers, multipart uploads in progress, and writes
interrupted by `kill -9` (what was acknowledged is there, byte for byte; nothing half-written is
visible)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from sdk.launcher import EmulatorServer
from tests.conftest import boto_kwargs

StartEmulator = Callable[..., EmulatorServer]
MIB = 1024 * 1024


def s3_of(server: EmulatorServer) -> Any:
    return boto3.client("s3", **boto_kwargs(server.url))


def versions_of(s3: Any, bucket: str) -> list[tuple[str, str, bool, str]]:
    """(key, version id, is latest, etag or "marker") of every version and delete marker."""
    listed = s3.list_object_versions(Bucket=bucket)
    found = [
        (v["Key"], v["VersionId"], v["IsLatest"], v["ETag"]) for v in listed.get("Versions", [])
    ]
    found += [
        (m["Key"], m["VersionId"], m["IsLatest"], "marker") for m in listed.get("DeleteMarkers", [])
    ]
    return sorted(found)


def test_versions_and_delete_markers_survive_a_kill_9(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = emulator_factory(data_dir=data_dir)
    s3 = s3_of(first)
    s3.create_bucket(Bucket="versioned")
    s3.put_object(Bucket="versioned", Key="doc", Body=b"before versioning")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="versioned", Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="versioned", Key="doc", Body=b"two", Metadata={"n": "2"})["VersionId"]
    marker = s3.delete_object(Bucket="versioned", Key="doc")["VersionId"]
    s3.put_object(Bucket="versioned", Key="gone", Body=b"x")
    s3.delete_object(Bucket="versioned", Key="gone")
    s3.create_bucket(Bucket="suspended")
    s3.put_bucket_versioning(Bucket="suspended", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="suspended", Key="k", Body=b"kept")
    s3.put_bucket_versioning(Bucket="suspended", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket="suspended", Key="k", Body=b"null version")
    before = {bucket: versions_of(s3, bucket) for bucket in ("versioned", "suspended")}
    first.kill()

    second = emulator_factory(data_dir=data_dir)
    s3 = s3_of(second)
    assert {bucket: versions_of(s3, bucket) for bucket in before} == before
    assert s3.get_bucket_versioning(Bucket="versioned")["Status"] == "Enabled"
    assert s3.get_bucket_versioning(Bucket="suspended")["Status"] == "Suspended"
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="versioned", Key="doc")  # the delete marker is the latest
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    assert s3.get_object(Bucket="versioned", Key="doc", VersionId=v1)["Body"].read() == b"one"
    two = s3.get_object(Bucket="versioned", Key="doc", VersionId=v2)
    assert (two["Body"].read(), two["Metadata"]) == (b"two", {"n": "2"})
    null = s3.get_object(Bucket="versioned", Key="doc", VersionId="null")
    assert null["Body"].read() == b"before versioning"
    assert s3.get_object(Bucket="suspended", Key="k")["Body"].read() == b"null version"

    # The restarted server keeps versioning: removing the marker brings "two" back, for good.
    s3.delete_object(Bucket="versioned", Key="doc", VersionId=marker)
    v3 = s3.put_object(Bucket="versioned", Key="doc", Body=b"three")["VersionId"]
    s3.delete_object(Bucket="versioned", Key="doc", VersionId=v1)
    second.kill()
    third = emulator_factory(data_dir=data_dir)
    s3 = s3_of(third)
    ids = [vid for key, vid, _, _ in versions_of(s3, "versioned") if key == "doc"]
    assert sorted(ids) == sorted(["null", v2, v3])
    assert s3.get_object(Bucket="versioned", Key="doc")["Body"].read() == b"three"


def test_a_multipart_upload_in_progress_survives_a_kill_9(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = emulator_factory(data_dir=data_dir)
    s3 = s3_of(first)
    s3.create_bucket(Bucket="uploads")
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1234)]
    upload = s3.create_multipart_upload(
        Bucket="uploads", Key="big.bin", ContentType="application/x-test", Metadata={"a": "b"}
    )["UploadId"]
    aborted = s3.create_multipart_upload(Bucket="uploads", Key="aborted.bin")["UploadId"]
    s3.upload_part(Bucket="uploads", Key="aborted.bin", UploadId=aborted, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="uploads", Key="aborted.bin", UploadId=aborted)
    etags = {}
    for number in (1, 2):
        etags[number] = s3.upload_part(
            Bucket="uploads", Key="big.bin", UploadId=upload, PartNumber=number, Body=b"stale"
        )["ETag"]
    etags[2] = s3.upload_part(  # a part uploaded again replaces the first one
        Bucket="uploads", Key="big.bin", UploadId=upload, PartNumber=2, Body=parts[1]
    )["ETag"]
    etags[1] = s3.upload_part(
        Bucket="uploads", Key="big.bin", UploadId=upload, PartNumber=1, Body=parts[0]
    )["ETag"]
    first.kill()

    second = emulator_factory(data_dir=data_dir)
    s3 = s3_of(second)
    listed = s3.list_multipart_uploads(Bucket="uploads").get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("big.bin", upload)]
    stored = s3.list_parts(Bucket="uploads", Key="big.bin", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in stored] == [
        (1, etags[1], 5 * MIB),
        (2, etags[2], 5 * MIB),
    ]
    etags[3] = s3.upload_part(
        Bucket="uploads", Key="big.bin", UploadId=upload, PartNumber=3, Body=parts[2]
    )["ETag"]
    second.kill()

    third = emulator_factory(data_dir=data_dir)
    s3 = s3_of(third)
    s3.complete_multipart_upload(
        Bucket="uploads",
        Key="big.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]},
    )
    got = s3.get_object(Bucket="uploads", Key="big.bin")
    assert got["Body"].read() == b"".join(parts)
    assert (got["ContentType"], got["Metadata"]) == ("application/x-test", {"a": "b"})
    assert s3.list_multipart_uploads(Bucket="uploads").get("Uploads", []) == []
    third.stop()
    fourth = emulator_factory(data_dir=data_dir)
    s3 = s3_of(fourth)
    assert s3.get_object(Bucket="uploads", Key="big.bin")["Body"].read() == b"".join(parts)
    assert s3.list_multipart_uploads(Bucket="uploads").get("Uploads", []) == []
    # The parts' bodies went with the upload: one body file is left, the object's.
    assert len([p for p in (data_dir / "s3" / "bodies").rglob("*") if p.is_file()]) == 1


class _Writers:
    """Threads that put objects as fast as the server takes them, and remember what they sent."""

    def __init__(self, url: str, bucket: str, count: int) -> None:
        self.bucket = bucket
        self.lock = threading.Lock()
        self.acknowledged: dict[str, bytes] = {}
        """key -> the body of its last acknowledged write."""
        self.in_flight: dict[str, bytes] = {}
        """key -> the body of a write sent but not acknowledged (it may or may not have landed)."""
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(url, n), daemon=True) for n in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, url: str, number: int) -> None:
        s3 = s3_of_url(url)
        step = 0
        while not self.stop.is_set():
            # Every other write overwrites this writer's own key: a crash may catch a replace.
            key = f"w{number}/shared" if step % 2 else f"w{number}/{step:05d}"
            body = os.urandom(1 + (step * 7919 + number * 104729) % (2 * MIB))
            with self.lock:
                self.in_flight[key] = body
            try:
                s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            except (BotoCoreError, ClientError):
                return  # the server is gone
            with self.lock:
                self.acknowledged[key] = body
                del self.in_flight[key]
            step += 1

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def s3_of_url(url: str) -> Any:
    return boto3.client("s3", **boto_kwargs(url))


def test_writes_interrupted_by_a_kill_9_are_whole_or_absent(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = emulator_factory(data_dir=data_dir)
    s3_of(first).create_bucket(Bucket="crashing")
    writers = _Writers(first.url, "crashing", 4)
    deadline = time.monotonic() + 120
    while writers.count() < 60 and time.monotonic() < deadline:
        writers.threads[0].join(0.05)  # wait for acknowledged writes, not for a fixed time
    assert writers.count() >= 60
    first.kill()  # while the writers are sending more
    writers.stop.set()
    for thread in writers.threads:
        thread.join(30)
    with writers.lock:
        acknowledged = dict(writers.acknowledged)
        in_flight = dict(writers.in_flight)

    second = emulator_factory(data_dir=data_dir)
    s3 = s3_of(second)
    listed = {
        entry["Key"]: entry
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="crashing")
        for entry in page.get("Contents", [])
    }
    for key, body in acknowledged.items():
        if key in in_flight:
            continue  # overwritten by a write the crash interrupted: checked below
        got = s3.get_object(Bucket="crashing", Key=key)["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), key
    for key, entry in listed.items():
        got = s3.get_object(Bucket="crashing", Key=key)["Body"].read()
        allowed = [b for b in (acknowledged.get(key), in_flight.get(key)) if b is not None]
        assert got in allowed, f"{key}: {len(got)} bytes, neither acknowledged nor whole"
        assert entry["Size"] == len(got)
        assert entry["ETag"].strip('"') == hashlib.md5(got, usedforsecurity=False).hexdigest()
    assert set(acknowledged) <= set(listed)
    # A body the crash left without its index row is removed at start: one file per object.
    bodies = [p for p in (data_dir / "s3" / "bodies").rglob("*") if p.is_file()]
    assert len(bodies) == len(listed)


def test_the_layout_of_earlier_versions_is_taken_over(tmp_path: Path) -> None:
    """A data dir of an earlier version (one metadata file per object under objects/)."""
    from emulator.storage.moto_internals import s3 as moto_s3
    from emulator.storage.moto_internals import s3_tracking
    from emulator.storage.s3 import S3Store

    root = tmp_path / "s3"
    (root / "objects").mkdir(parents=True)
    created = "2026-11-01T10:00:00+00:00"
    (root / "buckets.json").write_text(
        json.dumps({"old": {"region": "eu-west-1", "created": created}})
    )
    for key, body in (("a.txt", b"alpha"), ("dir/b.bin", os.urandom(70_000))):
        digest = hashlib.sha256(key.encode()).hexdigest()
        folder = root / "objects" / "old" / digest[:2]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{digest}.0123456789ab").write_bytes(body)
        meta = {
            "key": key,
            "body": f"{digest}.0123456789ab",
            "etag": hashlib.md5(body, usedforsecurity=False).hexdigest(),
            "last_modified": "2026-11-02T11:00:00+00:00",
            "size": len(body),
            "metadata": {"Content-Type": "text/plain", "x-amz-meta-owner": "me"},
            "storage_class": "STANDARD",
        }
        (folder / f"{digest}.json").write_text(json.dumps(meta))
    expected = sorted([("a.txt", 5), ("dir/b.bin", 70_000)])
    b_body = (root / "objects" / "old").rglob("*.0123456789ab")
    sizes = sorted(p.stat().st_size for p in b_body)
    assert sizes == [5, 70_000]

    s3_tracking.reset_s3()
    store = S3Store(root, "us-east-1")
    assert not (root / "objects").exists()
    assert store.list_keys("old") == expected
    assert store.get_object("old", "a.txt") == b"alpha"
    assert store.content_type("old", "a.txt") == "text/plain"
    store.close()
    s3_tracking.reset_s3()
    again = S3Store(root, "us-east-1")
    assert again.list_keys("old") == expected
    assert again.get_object("old", "a.txt") == b"alpha"
    found = moto_s3.bucket("old")
    assert moto_s3.bucket_facts(found).region == "eu-west-1"
    again.close()
    s3_tracking.reset_s3()


def test_a_start_removes_the_bodies_an_interrupted_write_left(tmp_path: Path) -> None:
    """What `kill -9` between writing a body and committing its row leaves (and between the
    commit that drops a replaced body's row and the removal of its file)."""
    from emulator.storage.moto_internals import s3_tracking
    from emulator.storage.s3 import S3Store

    root = tmp_path / "s3"
    s3_tracking.reset_s3()
    store = S3Store(root)
    store.create_bucket("journal")
    store.put_object("journal", "kept", b"kept")
    store.close()
    written, replaced = "ab" + "1" * 30, "cd" + "2" * 30
    for token in (written, replaced):
        (root / "bodies" / token[:2] / token).write_bytes(b"left behind")
    with (root / "bodies.journal").open("ab") as journal:
        journal.write(f"w {written}\nd {replaced}\nw ef".encode())  # the last line torn
    s3_tracking.reset_s3()
    again = S3Store(root)
    assert again.get_object("journal", "kept") == b"kept"
    bodies = [p for p in (root / "bodies").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in bodies] == [b"kept"]
    assert (root / "bodies.journal").stat().st_size == 0
    again.close()
    s3_tracking.reset_s3()
