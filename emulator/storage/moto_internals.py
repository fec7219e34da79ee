"""Every use of moto's internals, in one place: the only module of the emulator that imports moto.

The stores persist what moto holds and put it back at start, so they read and write moto's model
objects (S3's FakeBucket/FakeKey and its body buffer, Logs' LogGroup/LogStream/LogEvent), which
moto does not document and may change in any release; asynchronous inference publishes to its SNS
backend. Here each such use is one small function,
and tests/unit/test_moto_internals.py exercises every one of them, so an upgrade that breaks one
fails there, by name, instead of silently losing data at a restart.

Checked against moto 5.2.5, the newest release when this was written and the oldest that
pyproject.toml allows: older releases lack `moto.core.request`'s preserved header names (without
them an x-amz-meta-* name's underscores become dashes), and 5.0 kept Logs' creation times as epoch
milliseconds, not datetimes. When the dev venv gets a newer moto than that lower bound,
`scripts/moto-oldest-venv.sh` builds `.venv-moto-oldest` with the bound, and
tests/unit/test_moto_oldest.py runs tests/unit/test_moto_internals.py there as well. On a moto
upgrade, run that test file first.

moto's objects are passed around as opaque handles (`Bucket`, `Key`, `Group`, `Stream`): callers
hand them back to functions of this module and never touch their attributes. None of these
functions lock: moto is not thread-safe, and the callers hold their store's lock around them.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, NamedTuple, TypeAlias

from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    should_preserve_original_header_name,
)
from moto.logs.models import LogEvent, LogStream, logs_backends
from moto.s3.models import FakeKey, s3_backends

from emulator.aws.arns import ACCOUNT_ID, PARTITION

Bucket: TypeAlias = Any
"""moto's FakeBucket."""
Key: TypeAlias = Any
"""moto's FakeKey: the current version of one S3 object."""
Group: TypeAlias = Any
"""moto's LogGroup."""
Stream: TypeAlias = Any
"""moto's LogStream."""
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_COPY_CHUNK = 8 * 1024 * 1024

# --- everything -------------------------------------------------------------------------------


def reset_all() -> None:
    """Forget everything moto holds (S3, Logs, IAM, STS... in every region), as its
    `/moto-api/reset` route does."""
    # Imported here: only a reset needs moto's admin backend (the stores' tests never load it).
    from moto.moto_api._internal.models import moto_api_backend

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
    s3_backend().reset()


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


# --- CloudWatch Logs ---------------------------------------------------------------------------


def logs_backend(region: str) -> Any:
    """moto's Logs backend of the emulator's account in `region`."""
    return logs_backends[ACCOUNT_ID][region]


def reset_logs(region: str) -> None:
    """Forget every log group of `region` (what a fresh process starts with)."""
    logs_backend(region).reset()


def log_group(region: str, name: str) -> Group | None:
    found: Group | None = logs_backend(region).groups.get(name)
    return found


def log_group_names(region: str) -> list[str]:
    return list(logs_backend(region).groups)


def create_log_group(region: str, name: str) -> Group:
    return logs_backend(region).create_log_group(name, {})


def drop_log_group(region: str, name: str) -> None:
    """Forget a group and its streams (no error when there is none)."""
    logs_backend(region).groups.pop(name, None)


@dataclass(frozen=True)
class GroupSettings:
    created: datetime
    """Naive UTC, as moto keeps it."""
    retention_days: int | None
    kms_key_id: str | None


def group_settings(group: Group) -> GroupSettings:
    return GroupSettings(group.creation_time, group.retention_in_days, group.kms_key_id)


def restore_group_settings(
    group: Group, created: datetime | None, retention_days: int | None, kms_key_id: str | None
) -> None:
    """Put back a group's stored settings (`created` None: leave its creation time)."""
    if created is not None:
        group.creation_time = created
    group.retention_in_days = retention_days
    group.kms_key_id = kms_key_id


def log_streams(group: Group) -> dict[str, Stream]:
    """The group's streams by name (a copy: changing it changes nothing in moto)."""
    return dict(group.streams)


def log_stream(region: str, group: str, stream: str) -> Stream | None:
    found = log_group(region, group)
    return None if found is None else found.streams.get(stream)


def create_log_stream(region: str, group: str, stream: str) -> None:
    logs_backend(region).create_log_stream(group, stream)


def restore_log_stream(group: Group, name: str, created: datetime | None) -> Stream:
    """Put a stored stream into `group` without its events (they are read later), or empty the
    one there."""
    stream = group.streams.get(name) or LogStream(group, name)
    group.streams[name] = stream
    if created is not None:
        stream.creation_time = created
    stream.events = []
    return stream


def stream_created(stream: Stream) -> datetime:
    """Naive UTC, as moto keeps it."""
    created: datetime = stream.creation_time
    return created


class Event(NamedTuple):
    timestamp: int
    """Milliseconds since the epoch, as the writer gave it."""
    ingestion_time: int
    """Milliseconds since the epoch, when Logs took it."""
    message: str


def event_count(stream: Stream) -> int:
    return len(stream.events)


def stream_events(stream: Stream, start: int = 0) -> list[Event]:
    """The stream's events from index `start` on, in the order they were put."""
    return [Event(e.timestamp, e.ingestion_time, e.message) for e in stream.events[start:]]


def prepend_events(stream: Stream, events: list[Event]) -> None:
    """Put stored events before those the stream holds (which came after them), keeping its
    stored bytes and last ingestion time right."""
    stream.events = [
        LogEvent(e.ingestion_time, {"timestamp": e.timestamp, "message": e.message}) for e in events
    ] + stream.events
    stream.stored_bytes = sum(len(e.message) for e in stream.events)
    if events:
        stream.last_ingestion_time = datetime.fromtimestamp(
            max(e.ingestion_time for e in events) / 1000, UTC
        ).replace(tzinfo=None)


def append_lines(stream: Stream, timestamp_ms: int, lines: list[str]) -> None:
    """Append `lines` as events, all at `timestamp_ms`, ingested now.

    The stream's own method: the backend's PutLogEvents drops events older than 14 days, as the
    real one does for clients, but these are a job's own lines.
    """
    stream.put_log_events([{"timestamp": timestamp_ms, "message": line} for line in lines])


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


# --- CloudWatch --------------------------------------------------------------------------------


def cloudwatch_metrics(region: str, namespace: str) -> list[tuple[str, dict[str, str]]]:
    """Each distinct metric of `namespace` (its name and dimensions), as ListMetrics finds them,
    in a stable order."""
    from moto.cloudwatch.models import cloudwatch_backends

    seen: dict[tuple[str, tuple[tuple[str, str], ...]], None] = {}
    for datum in cloudwatch_backends[ACCOUNT_ID][region].get_all_metrics():
        if datum.namespace == namespace:
            dims = tuple(sorted((str(d.name), str(d.value)) for d in datum.dimensions))
            seen[(datum.name, dims)] = None
    return [(name, dict(dims)) for name, dims in sorted(seen)]


def cloudwatch_metric_data(
    region: str, queries: list[dict[str, Any]], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """GetMetricData: `queries` are its MetricDataQueries (Id, Label, MetricStat); the answer is
    one result per query, in order, with Timestamps (aware UTC, oldest first) and Values."""
    from moto.cloudwatch.models import cloudwatch_backends

    if not queries:
        return []
    backend = cloudwatch_backends[ACCOUNT_ID][region]
    naive = [t.astimezone(UTC).replace(tzinfo=None) for t in (start, end)]  # as moto keeps them
    results = backend.get_metric_data(queries, naive[0], naive[1], "TimestampAscending")
    return [
        {
            "Id": result["id"],
            "Label": result["label"],
            "Timestamps": [t.replace(tzinfo=UTC) for t in result["timestamps"]],
            "Values": [float(v) for v in result["values"]],
            "StatusCode": result.get("status_code", "Complete"),
        }
        for result in results
    ]
