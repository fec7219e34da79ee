"""ListObjects, ListObjectsV2 and ListObjectVersions answered from the S3 index
(emulator/storage/moto_internals/s3_listing.py) give moto's own answer, byte for byte, on
awkward keys (unicode on both sides of U+FFFF, '/', spaces, '+', '%', shared prefixes,
versions, delete markers), for many parameter combinations and every page of each; and a listing
after a start leaves no key in moto.

In process: the S3 store over a temporary data dir, requests through moto's server app (the
wire API), each mutating one followed by the store's sync, as the edge does.
"""

from __future__ import annotations

import gc
import itertools
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from werkzeug.test import Client

from emulator.storage import moto_internals
from emulator.storage.moto_internals import s3 as moto_s3
from emulator.storage.moto_internals import s3_listing
from emulator.storage.moto_internals.s3_tracking import held_key_names, listing_source, reset_s3
from emulator.storage.s3 import S3Store

KEYS = [
    "a",
    "a/",
    "a/b",
    "a/b/c",
    "a/b/d",
    "a b",
    "a+b",
    "a%2F",
    "ab",
    "A",
    "dir/leaf",
    "dir/sub/leaf",
    "dir/sub2/leaf",
    "dir-x",
    "dir.x",
    "é",
    "é/x",
    "ü",
    "日本/語",
    "日本語",
    "\uff01wide",
    "emoji😀",
    "emoji😀/x",
    "~",
    "space /x",
    "-",
]


def _auth() -> dict[str, str]:
    scope = "Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"}


class _S3:
    """moto's server app, each mutating request followed by the store's sync."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.client = Client(moto_internals.server_app())

    def call(
        self, method: str, bucket: str, key: str = "", query: str = "", body: bytes = b""
    ) -> Any:
        path = f"/{bucket}/{quote(key, safe='')}" if key else f"/{bucket}"
        url = f"{path}?{query}" if query else path
        with self.store.lock:
            response = self.client.open(url, method=method, headers=_auth(), data=body)
            if method != "GET":
                self.store.sync_bucket(bucket)
        assert response.status_code < 300, response.get_data(as_text=True)
        return response

    def body(self, bucket: str, params: dict[str, str], from_index: bool) -> bytes:
        s3_listing.serve_listings_from_index(from_index)
        try:
            query = urlencode(params, quote_via=quote)
            data: bytes = self.call("GET", bucket, query=query).get_data()
            return data
        finally:
            s3_listing.serve_listings_from_index(True)


def _fill(s3: _S3, plain: str, versioned: str) -> None:
    s3.call("PUT", plain)
    for index, key in enumerate(KEYS):
        s3.call("PUT", plain, key, body=f"body {index}".encode())
    s3.call("DELETE", plain, "dir-x")
    s3.call("PUT", versioned)
    config = (
        b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Status>Enabled</Status></VersioningConfiguration>"
    )
    s3.call("PUT", versioned, query="versioning", body=config)
    for index, key in enumerate(KEYS):
        s3.call("PUT", versioned, key, body=f"v1 {index}".encode())
        if index % 3 == 0:
            s3.call("PUT", versioned, key, body=f"v2 {index}".encode())
    for key in ("a/b/c", "dir/sub2/leaf", "é", "日本語", "-"):
        s3.call("DELETE", versioned, key)  # delete markers (dir/sub2/ holds nothing current)
    s3.call("PUT", versioned, "é", body=b"back again")


def _tag(body: bytes, tag: str) -> str | None:
    found = re.search(rf"<{tag}>(.*?)</{tag}>".encode(), body)
    return found.group(1).decode() if found else None


def _pages(s3: _S3, bucket: str, kind: str, params: dict[str, str]) -> Iterator[dict[str, str]]:
    """The parameters of each page of a listing, as its client follows the index's answers."""
    for _ in range(100):
        yield params
        if params.get("max-keys") == "0":
            return  # moto calls every such page truncated
        body = s3.body(bucket, params, from_index=True)
        if _tag(body, "IsTruncated") != "true":
            return
        params = dict(params)
        if kind == "v2":
            params["continuation-token"] = _tag(body, "NextContinuationToken") or ""
        elif kind == "v1":
            params["marker"] = _tag(body, "NextMarker") or ""
        else:
            params["key-marker"] = _tag(body, "NextKeyMarker") or ""
            version = _tag(body, "NextVersionIdMarker")
            if version:
                params["version-id-marker"] = version
            else:
                params.pop("version-id-marker", None)
    raise AssertionError(f"more than 100 pages: {params}")


def _combinations() -> Iterator[tuple[str, dict[str, str]]]:
    prefixes = [None, "a", "a/", "dir/", "日本", "emoji😀", "é", "zzz"]
    delimiters = [None, "/", "b"]
    sizes = ["1", "2", "1000"]
    for prefix, delimiter, size in itertools.product(prefixes, delimiters, sizes):
        params = {"max-keys": size}
        if prefix is not None:
            params["prefix"] = prefix
        if delimiter is not None:
            params["delimiter"] = delimiter
        yield "v1", params
        yield "v2", {"list-type": "2", **params}
        yield "versions", {"versions": "", **params}
    yield "v2", {"list-type": "2", "encoding-type": "url", "delimiter": "/", "max-keys": "2"}
    yield "v2", {"list-type": "2", "fetch-owner": "true", "max-keys": "3"}
    yield "v2", {"list-type": "2", "start-after": "a/b", "delimiter": "/", "max-keys": "2"}
    yield "v2", {"list-type": "2", "start-after": "dir/", "max-keys": "1000"}
    yield "v2", {"list-type": "2", "max-keys": "0"}
    yield "v1", {"encoding-type": "url", "delimiter": "/"}
    yield "v1", {"marker": "dir/", "max-keys": "3"}
    yield "v1", {"max-keys": "0", "delimiter": "/"}
    yield "versions", {"versions": "", "key-marker": "a/b", "max-keys": "3"}
    yield "versions", {"versions": "", "key-marker": "a/", "delimiter": "/"}
    yield "versions", {"versions": "", "key-marker": "é", "version-id-marker": "nope"}
    yield "versions", {"versions": "", "max-keys": "0", "delimiter": "/"}


def _moto_keys_alive() -> int:
    gc.collect()
    return sum(1 for found in gc.get_objects() if type(found).__name__ == "FakeKey")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[S3Store]:
    reset_s3()
    made = S3Store(tmp_path / "s3")
    yield made
    made.close()
    reset_s3()


def _restart(store: S3Store, root: Path) -> S3Store:
    store.close()
    reset_s3()
    return S3Store(root)


def test_listings_from_the_index_are_motos_byte_for_byte(store: S3Store, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    plain, versioned = f"plain-{tag}", f"versioned-{tag}"
    _fill(_S3(store), plain, versioned)
    store = _restart(store, tmp_path / "s3")  # the keys are in the index, none in moto
    try:
        s3 = _S3(store)
        assert listing_source(moto_s3.bucket(plain)) is not None  # the index answers
        # Every page from the index first (the keys no request has read yet), then moto's.
        requests = [
            (bucket, page)
            for bucket in (plain, versioned)
            for kind, params in _combinations()
            for page in _pages(s3, bucket, kind, params)
        ]
        assert len(requests) > 300
        from_index = [s3.body(bucket, page, from_index=True) for bucket, page in requests]
        for (bucket, page), answer in zip(requests, from_index, strict=True):
            assert answer == s3.body(bucket, page, from_index=False), (bucket, page)
        # And once moto holds every key (its own listing read them all in).
        for bucket, page in requests[:60]:
            assert s3.body(bucket, page, from_index=True) == s3.body(bucket, page, False)
    finally:
        store.close()


def test_an_unknown_continuation_token_is_s3s_invalid_argument(store: S3Store) -> None:
    bucket = f"token-{uuid.uuid4().hex[:8]}"
    store.create_bucket(bucket)
    store.put_object(bucket, "k", b"x")
    s3 = _S3(store)
    with store.lock:
        response = s3.client.get(f"/{bucket}?list-type=2&continuation-token=bogus", headers=_auth())
    assert response.status_code == 400
    assert _tag(response.get_data(), "Code") == "InvalidArgument"
    assert _tag(response.get_data(), "Message") == "The continuation token provided is incorrect"


def test_a_listing_after_a_start_keeps_no_key_in_moto(store: S3Store, tmp_path: Path) -> None:
    bucket = f"page-{uuid.uuid4().hex[:8]}"
    store.create_bucket(bucket)
    for index in range(300):
        store.put_object(bucket, f"k{index:03d}", b"x")
    store = _restart(store, tmp_path / "s3")
    try:
        s3 = _S3(store)
        body = s3.body(bucket, {"list-type": "2", "max-keys": "5", "prefix": "k1"}, True)
        assert re.findall(rb"<Key>(.*?)</Key>", body) == [
            b"k100",
            b"k101",
            b"k102",
            b"k103",
            b"k104",
        ]
        # Read for the response only: the store holds what it held (nothing), and moto's list
        # of every key it made does not keep them either.
        assert held_key_names(moto_s3.bucket(bucket)) == set()
        alive = _moto_keys_alive()
        for _ in range(3):
            s3.body(bucket, {"list-type": "2", "max-keys": "50"}, True)
        assert _moto_keys_alive() == alive
        versions = s3.body(bucket, {"versions": "", "max-keys": "3"}, True)
        assert _tag(versions, "NextKeyMarker") == "k002"
        assert held_key_names(moto_s3.bucket(bucket)) == set()
        # A key a request has read stays as it is: listed from what the store holds.
        s3.call("PUT", bucket, "k101", body=b"changed")
        body = s3.body(bucket, {"list-type": "2", "max-keys": "2", "prefix": "k10"}, True)
        assert re.findall(rb"<Size>(.*?)</Size>", body) == [b"1", b"7"]
        assert held_key_names(moto_s3.bucket(bucket)) == {"k101"}
    finally:
        store.close()
