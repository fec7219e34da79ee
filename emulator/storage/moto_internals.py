"""Every use of moto's internals, in one place: with `moto_logs.py` (CloudWatch Logs) and
`moto_cloudwatch.py` (CloudWatch metrics), the only modules of the emulator that import moto.

The stores persist what moto holds and put it back at start, so they read and write moto's model
objects (S3's FakeBucket/FakeKey and its body buffer, Logs' LogGroup/LogStream/LogEvent), which
moto does not document and may change in any release; asynchronous inference publishes to its SNS
backend. Here (and, for CloudWatch Logs, in `moto_logs.py`) each such use is one small function,
and tests/unit/test_moto_internals.py exercises every one of them, so an upgrade that breaks one
fails there, by name, instead of silently losing data at a restart.

Checked against moto 5.2.5, the newest release when this was written and the oldest that
pyproject.toml allows: older releases lack `moto.core.request`'s preserved header names (without
them an x-amz-meta-* name's underscores become dashes), and 5.0 kept Logs' creation times as epoch
milliseconds, not datetimes. When the dev venv gets a newer moto than that lower bound,
`scripts/moto-oldest-venv.sh` builds `.venv-moto-oldest` with the bound, and
tests/unit/test_moto_oldest.py runs tests/unit/test_moto_internals.py there as well. On a moto
upgrade, run that test file first.

moto's objects are passed around as opaque handles (`Bucket`, `Key`; Logs' `Group`, `Stream`): callers
hand them back to functions of this module and never touch their attributes. None of these
functions lock: moto is not thread-safe, and the callers hold their store's lock around them.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, TypeAlias

from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    should_preserve_original_header_name,
)
from moto.s3.models import FakeDeleteMarker, FakeKey, FakeMultipart, s3_backends
from moto.utilities.utils import CaseInsensitiveDict

from emulator.aws.arns import ACCOUNT_ID, PARTITION
from emulator.storage.moto_key_store import forget_unloaded_keys

Bucket: TypeAlias = Any
"""moto's FakeBucket."""
Key: TypeAlias = Any
"""moto's FakeKey: the current version of one S3 object."""
Version: TypeAlias = Any
"""moto's FakeKey or FakeDeleteMarker: one version of an S3 object."""
Upload: TypeAlias = Any
"""moto's FakeMultipart: a multipart upload in progress."""
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_COPY_CHUNK = 8 * 1024 * 1024

# --- everything -------------------------------------------------------------------------------


def reset_all() -> None:
    """Forget everything moto holds (S3, Logs, IAM, STS... in every region), as its
    `/moto-api/reset` route does."""
    # Imported here: only a reset needs moto's admin backend (the stores' tests never load it).
    from moto.moto_api._internal.models import moto_api_backend

    _forget_unloaded_keys()
    moto_api_backend.reset()


# --- moto's server app -------------------------------------------------------------------------


def server_app() -> WsgiApp:
    """moto's server app: one Flask app per service, chosen by the request (as `moto_server`)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    return app


PRESERVED_HEADER_NAMES_KEY: str = PRESERVED_HEADER_NAMES_ENVIRON_KEY
"""The WSGI environ key under which moto looks up the original spelling of some header names."""


def preserves_header_name(name: str) -> bool:
    """Whether moto wants the original spelling of this header's name (x-amz-meta-*)."""
    return bool(should_preserve_original_header_name(name))


# --- S3 ----------------------------------------------------------------------------------------


def s3_backend() -> Any:
    """moto's S3 backend of the emulator's account."""
    return s3_backends[ACCOUNT_ID][PARTITION]


def reset_s3() -> None:
    """Forget every bucket (what a fresh process starts with)."""
    _forget_unloaded_keys()
    s3_backend().reset()


def _forget_unloaded_keys() -> None:
    forget_unloaded_keys(s3_backend().buckets.values())


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


KeySignature = tuple[int, str, datetime | None, int]
"""What identifies one stored version of a key: (id of moto's object, etag, mtime, size)."""


def key_signature(key: Key) -> KeySignature:
    # Cheap on purpose: every mutating request compares this for every key of its bucket.
    return (id(key), key.etag, key.last_modified, int(key.size))


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


# --- S3 persistence (the key store: moto_key_store.py): versions, bodies served from files -----

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


def versioning(found: Bucket) -> str | None:
    """The bucket's versioning status: None (never set), "Enabled" or "Suspended"."""
    status: str | None = found.versioning_status
    return status


def set_versioning(found: Bucket, status: str | None) -> None:
    found.versioning_status = status


def uploads(found: Bucket) -> dict[str, Upload]:
    """The bucket's multipart uploads in progress, by upload id."""
    return dict(found.multiparts)


@dataclass(frozen=True)
class UploadFacts:
    key: str
    metadata: dict[str, str]
    storage_class: str | None
    tags: dict[str, str]
    sse_encryption: str | None
    kms_key_id: str | None


def upload_facts(upload: Upload) -> UploadFacts:
    return UploadFacts(
        key=str(upload.key_name),
        metadata={str(k): str(v) for k, v in dict(upload.metadata or {}).items()},
        storage_class=upload.storage,
        tags=dict(upload.tags or {}),
        sse_encryption=upload.sse_encryption,
        kms_key_id=upload.kms_key_id,
    )


def upload_parts(upload: Upload) -> dict[int, Key]:
    """The parts uploaded so far, by part number."""
    return dict(upload.parts)


def restore_upload(
    found: Bucket, region: str, upload_id: str, facts: UploadFacts, parts: dict[int, Key]
) -> Upload:
    """Put a stored multipart upload (and its parts, from `make_version`) back into the bucket."""
    upload = FakeMultipart(
        facts.key,
        CaseInsensitiveDict(facts.metadata),
        account_id=ACCOUNT_ID,
        region_name=region,
        storage=facts.storage_class,
        tags=facts.tags,
        acl=None,
        sse_encryption=facts.sse_encryption,
        kms_key_id=facts.kms_key_id,
    )
    upload.id = upload_id
    upload.parts = dict(parts)
    upload.partlist = sorted(parts)
    found.multiparts[upload_id] = upload
    return upload


def drop_upload(found: Bucket, upload_id: str) -> None:
    if upload_id in found.multiparts:
        del found.multiparts[upload_id]


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


# --- SNS ---------------------------------------------------------------------------------------


def _sns_backend(region: str) -> Any:
    # Imported here: only asynchronous inference's notifications need SNS.
    from moto.sns.models import sns_backends

    return sns_backends[ACCOUNT_ID][region]


def sns_topic_exists(region: str, topic_arn: str) -> bool:
    return topic_arn in _sns_backend(region).topics


def sns_publish(region: str, topic_arn: str, message: str) -> None:
    """Publish to an existing topic: its subscribers (an SQS queue...) get the message. Raises
    moto's own errors (a message too long...)."""
    _sns_backend(region).publish(message, arn=topic_arn)


# --- IAM ---------------------------------------------------------------------------------------


def iam_principal_arns(account_id: str = ACCOUNT_ID) -> set[str]:
    """The ARNs of every user, role and group moto's IAM holds in `account_id`."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id][PARTITION]
    entities: list[Any] = [
        *backend.users.values(),
        *backend.roles.values(),
        *backend.groups.values(),
    ]
    return {str(entity.arn) for entity in entities}
