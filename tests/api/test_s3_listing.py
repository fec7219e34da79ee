"""The S3 listings through the server after a restart, page by page as boto3's paginators ask
for them: answered from the index (emulator/storage/moto_internals/s3_listing.py; its byte-for-byte
comparison with moto's own listings is tests/unit/test_s3_listing.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.exceptions import ClientError

from sdk.launcher import EmulatorServer
from tests.conftest import boto_kwargs

StartEmulator = Callable[..., EmulatorServer]
KEYS = sorted(
    [f"logs/{day:02d}/part-{part}" for day in range(1, 8) for part in range(3)]
    + ["logs/readme", "logs/é/x", "logs/日本/y", "logs/a b/z", "model.tar.gz", "zz"]
)


def _paged(s3: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    paginator = s3.get_paginator(operation)
    return list(paginator.paginate(**params, PaginationConfig={"PageSize": 2}))


def test_listings_after_a_restart_page_through_the_index(
    emulator_factory: StartEmulator, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = emulator_factory(data_dir=data_dir)
    s3 = boto3.client("s3", **boto_kwargs(first.url))
    s3.create_bucket(Bucket="tree")
    for key in reversed(KEYS):
        s3.put_object(Bucket="tree", Key=key, Body=key.encode())
    s3.create_bucket(Bucket="history")
    s3.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Enabled"})
    written: set[tuple[str, str]] = set()
    for round_ in range(3):
        for key in ("a", "b/c", "d"):
            put = s3.put_object(Bucket="history", Key=key, Body=f"{key} {round_}".encode())
            written.add((key, put["VersionId"]))
    marker = s3.delete_object(Bucket="history", Key="d")["VersionId"]
    first.kill()

    second = emulator_factory(data_dir=data_dir)
    s3 = boto3.client("s3", **boto_kwargs(second.url))
    pages = _paged(s3, "list_objects_v2", Bucket="tree", Prefix="logs/", Delimiter="/")
    assert len(pages) > 3
    keys = [entry["Key"] for page in pages for entry in page.get("Contents", [])]
    folders = [entry["Prefix"] for page in pages for entry in page.get("CommonPrefixes", [])]
    assert keys == ["logs/readme"]
    assert folders == sorted({key.rsplit("/", 1)[0] + "/" for key in KEYS if key.count("/") > 1})
    # Asked for by the caller, the encoding is the caller's to undo (boto3 asks for it itself
    # otherwise, and undoes it).
    pages = _paged(s3, "list_objects_v2", Bucket="tree", EncodingType="url")
    assert [entry["Key"] for page in pages for entry in page["Contents"]] == [
        quote(key) for key in KEYS
    ]
    pages = _paged(s3, "list_objects", Bucket="tree", Prefix="logs/0")
    assert [entry["Key"] for page in pages for entry in page["Contents"]] == [
        key for key in KEYS if key.startswith("logs/0")
    ]

    pages = _paged(s3, "list_object_versions", Bucket="history")
    versions = [entry for page in pages for entry in page.get("Versions", [])]
    markers = [entry for page in pages for entry in page.get("DeleteMarkers", [])]
    assert {(entry["Key"], entry["VersionId"]) for entry in versions} == written
    assert [entry["Key"] for entry in versions] == ["a"] * 3 + ["b/c"] * 3 + ["d"] * 3
    assert [(entry["Key"], entry["VersionId"], entry["IsLatest"]) for entry in markers] == [
        ("d", marker, True)
    ]
    assert [entry["Key"] for entry in versions if entry["IsLatest"]] == ["a", "b/c"]

    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket="tree", ContinuationToken="not-a-token")
    assert info.value.response["Error"]["Code"] == "InvalidArgument"
    second.stop()
