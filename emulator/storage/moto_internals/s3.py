"""moto's S3: its backend of the emulator's account, buckets, and their objects' current versions
(what the services' S3Store reads and writes). See the package's notes (`__init__.py`).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, TypeAlias

from moto.s3.models import FakeKey, s3_backends

from emulator.aws.arns import ACCOUNT_ID, PARTITION

Bucket: TypeAlias = Any
"""moto's FakeBucket."""
Key: TypeAlias = Any
"""moto's FakeKey: the current version of one S3 object."""
Version: TypeAlias = Any
"""moto's FakeKey or FakeDeleteMarker: one version of an S3 object."""

_COPY_CHUNK = 8 * 1024 * 1024


def s3_backend() -> Any:
    """moto's S3 backend of the emulator's account."""
    return s3_backends[ACCOUNT_ID][PARTITION]


def bucket(name: str) -> Bucket | None:
    found: Bucket | None = s3_backend().buckets.get(name)
    return found


def bucket_names() -> list[str]:
    return list(s3_backend().buckets)


def create_bucket(name: str, region: str, created: datetime | None = None) -> Bucket:
    """A new, empty bucket; `created`: its creation date as stored (default: now)."""
    made = s3_backend().create_bucket(name, region)
    if created is not None:
        made.creation_date = created
    return made


def drop_bucket(name: str) -> None:
    """Forget a bucket, whatever it holds (moto's DeleteBucket refuses a non-empty one)."""
    s3_backend().buckets.pop(name, None)
    # moto also keeps a global name -> account map (bucket names are global); a name left there
    # would stay taken.
    s3_backends.bucket_accounts.pop(name, None)


@dataclass(frozen=True)
class BucketFacts:
    region: str
    created: datetime | None


def bucket_facts(found: Bucket) -> BucketFacts:
    return BucketFacts(str(found.region_name), found.creation_date)


def bucket_keys(found: Bucket) -> dict[str, Key]:
    """The bucket's objects (their current versions; delete markers are no object)."""
    return {name: key for name, key in found.keys.items() if isinstance(key, FakeKey)}


def get_key(found: Bucket, name: str) -> Key | None:
    key = found.keys.get(name)
    return key if isinstance(key, FakeKey) else None


def drop_key(found: Bucket, name: str) -> None:
    """Forget an object (every version), without a delete marker."""
    if name in found.keys:
        found.keys.pop(name)  # moto's key store takes no default


def new_key(bucket_name: str, name: str) -> Key:
    """An empty object put into an existing bucket (no event notification is sent for it)."""
    return s3_backend().put_object(bucket_name, name, b"", disable_notification=True)


def fill_key(key: Key, chunks: Iterable[bytes]) -> None:
    """Write a body into moto's key buffer chunk by chunk (no whole-object copy in memory), and
    set its size and ETag as a PutObject of those bytes would."""
    size = 0
    digest = hashlib.md5(usedforsecurity=False)
    with key.lock:
        buffer = key._value_buffer
        buffer.seek(0)
        buffer.truncate()
        for chunk in chunks:
            buffer.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    key.contentsize = size
    key._etag = digest.hexdigest()


def copy_body(key: Key, out: IO[bytes]) -> None:
    """Write the object's body to `out` chunk by chunk (no whole-object copy in memory)."""
    with key.lock:
        key._value_buffer.seek(0)
        shutil.copyfileobj(key._value_buffer, out, _COPY_CHUNK)


def key_size(key: Key) -> int:
    return int(key.size)


@dataclass(frozen=True)
class KeyFacts:
    """What S3 says of an object besides its body."""

    etag: str
    """Without quotes."""
    last_modified: datetime | None
    """Naive UTC, as moto keeps it."""
    size: int
    metadata: dict[str, str]
    """Content-Type and the other headers stored with it, and the x-amz-meta-* ones."""
    storage_class: str | None


def key_facts(key: Key) -> KeyFacts:
    return KeyFacts(
        etag=str(key.etag).strip('"'),
        last_modified=key.last_modified,
        size=int(key.size),
        metadata={str(k): str(v) for k, v in dict(key.metadata).items()},
        storage_class=key.storage_class,
    )


def restore_key(
    key: Key,
    etag: str,
    last_modified: datetime,
    metadata: dict[str, str],
    storage_class: str | None,
) -> None:
    """Put back what was stored of an object besides its body (after `fill_key`)."""
    key._etag = etag
    key.last_modified = last_modified
    key.set_metadata(dict(metadata))
    if storage_class:
        key.set_storage_class(storage_class)


def set_content_type(key: Key, content_type: str) -> None:
    key.set_metadata({"Content-Type": content_type})


def content_type(key: Key) -> str | None:
    value = key.metadata.get("Content-Type")  # moto's metadata dict ignores the names' case
    return None if value is None else str(value)


def versioning(found: Bucket) -> str | None:
    """The bucket's versioning status: None (never set), "Enabled" or "Suspended"."""
    status: str | None = found.versioning_status
    return status


def set_versioning(found: Bucket, status: str | None) -> None:
    found.versioning_status = status


@dataclass(frozen=True)
class CorsRule:
    """One rule of a bucket's CORS configuration (PutBucketCors), as moto parsed it."""

    allowed_methods: Any
    allowed_origins: Any
    allowed_headers: Any
    exposed_headers: Any
    max_age_seconds: Any


def bucket_cors(name: str) -> list[CorsRule]:
    """The bucket's CORS rules ([] when it has none, or does not exist)."""
    found = bucket(name)
    return [
        CorsRule(
            allowed_methods=rule.allowed_methods,
            allowed_origins=rule.allowed_origins,
            allowed_headers=rule.allowed_headers,
            exposed_headers=rule.exposed_headers,
            max_age_seconds=rule.max_age_seconds,
        )
        for rule in (getattr(found, "cors", None) or [])
    ]
