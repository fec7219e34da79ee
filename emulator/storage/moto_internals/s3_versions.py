"""moto's S3 object versions as the data dir stores them: every version of a key (delete markers
included), what is stored of one besides its body, the name of its body file (its token), and a
moto object made again from those, its body served from that file. See the package's notes
(`__init__.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.s3.models import FakeDeleteMarker, FakeKey

from emulator.aws.arns import ACCOUNT_ID
from emulator.storage.moto_internals.s3 import Bucket, Key, Version, key_facts

_TOKEN = "_emulator_token"


def key_versions(found: Bucket, name: str) -> list[Version]:
    """Every version of the key, oldest first (delete markers included); [] when none."""
    versions: list[Version] = list(found.keys.getlist(name, []))
    return versions


def is_delete_marker(version: Version) -> bool:
    return isinstance(version, FakeDeleteMarker)


def version_token(version: Version) -> str | None:
    """The name under which the data dir holds this very version (None: not stored yet).

    Tied to the object's identity: a copy moto makes of a stored key is not that stored key."""
    mark = getattr(version, _TOKEN, None)
    if mark is None or mark[1] != id(version):
        return None
    token: str = mark[0]
    return token


def set_version_token(version: Version, token: str) -> None:
    setattr(version, _TOKEN, (token, id(version)))


@dataclass(frozen=True)
class VersionFacts:
    """What is stored of one version besides its body."""

    version_id: str
    """"null" in a bucket that never had versioning."""
    is_delete_marker: bool
    last_modified: datetime | None
    """Naive UTC, as moto keeps it."""
    etag: str
    size: int
    metadata: dict[str, str]
    storage_class: str | None
    versioned: bool
    """Whether moto answers with its version id (it was put in a versioned bucket)."""


def version_facts(version: Version) -> VersionFacts:
    if isinstance(version, FakeDeleteMarker):
        return VersionFacts(
            str(version.version_id), True, version.last_modified, "", 0, {}, None, True
        )
    facts = key_facts(version)
    return VersionFacts(
        version_id=str(version.version_id),
        is_delete_marker=False,
        last_modified=facts.last_modified,
        etag=facts.etag,
        size=facts.size,
        metadata=facts.metadata,
        storage_class=facts.storage_class,
        versioned=bool(version._is_versioned),
    )


def make_version(
    bucket_name: str, region: str, name: str | int, facts: VersionFacts, body: Any
) -> Version:
    """A moto object for a stored version whose body is `body` (a file-like moto reads
    instead of a buffer of its own: `FileBody`)."""
    if facts.is_delete_marker:
        marker: Any = FakeDeleteMarker.__new__(FakeDeleteMarker)
        marker.key = None  # moto reads only the name of the key a marker was made for
        marker.name = name
        marker.last_modified = facts.last_modified
        marker._version_id = facts.version_id
        return marker
    key = FakeKey(
        name,  # type: ignore[arg-type]  # a part's name is its number
        b"",
        account_id=ACCOUNT_ID,
        region_name=region,
        etag=facts.etag,
        is_versioned=facts.versioned,
        version_id=None if facts.version_id == "null" else facts.version_id,
        bucket_name=bucket_name,
    )
    serve_body_from(key, body, facts.size)
    if facts.last_modified is not None:
        key.last_modified = facts.last_modified
    key.set_metadata(dict(facts.metadata))
    if facts.storage_class:
        key.set_storage_class(facts.storage_class)
    return key


def serve_body_from(key: Key, body: Any, size: int) -> None:
    """Swap the key's own body buffer (memory or a temporary file) for `body`, which holds the
    same bytes."""
    with key.lock:
        key._value_buffer.close()
        key._value_buffer = body
    key.contentsize = size
