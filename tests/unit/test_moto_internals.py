"""Every function of the emulator/storage/moto_internals/ package, against the installed moto.

What these functions write into moto's objects is checked through moto's own server app (the
wire API clients use), so a moto release that reads its objects differently fails here.

scripts/moto-oldest-venv.sh runs this file under the oldest moto that pyproject.toml allows too:
it imports nothing but moto, werkzeug (moto's own dependency), pytest and the package under test.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from werkzeug.test import Client

from emulator.storage import moto_internals
from emulator.storage.moto_internals import cloudwatch as moto_cloudwatch
from emulator.storage.moto_internals import iam as moto_iam
from emulator.storage.moto_internals import logs as moto_logs
from emulator.storage.moto_internals import s3 as moto_s3
from emulator.storage.moto_internals import s3_listing, s3_tracking, s3_uploads, s3_versions
from emulator.storage.moto_internals import sns as moto_sns

REGION = "me-south-1"  # a region no other test writes logs to


def _auth(service: str, region: str = "us-east-1") -> dict[str, str]:
    # moto picks the service (and region) from the credential scope; it does not check signatures.
    scope = f"Credential=AKIDEXAMPLE/20240101/{region}/{service}/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"}


def _logs(operation: str, **body: Any) -> dict[str, Any]:
    response = Client(moto_internals.server_app()).post(
        "/",
        data=json.dumps(body),
        headers={
            **_auth("logs", REGION),
            "X-Amz-Target": f"Logs_20140328.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json(force=True)
    return answer


def _s3(method: str, path: str, **kwargs: Any) -> Any:
    headers = {**_auth("s3"), **kwargs.pop("headers", {})}
    return Client(moto_internals.server_app()).open(path, method=method, headers=headers, **kwargs)


@pytest.fixture
def bucket_name() -> str:
    return f"internals-{uuid.uuid4().hex[:12]}"


# --- everything and the server app ------------------------------------------------------------


def test_reset_all_forgets_every_backend(bucket_name: str) -> None:
    moto_s3.create_bucket(bucket_name, "us-east-1")
    moto_logs.create_log_group(REGION, "/reset-all")
    moto_internals.reset_all()
    assert moto_s3.bucket(bucket_name) is None
    assert moto_logs.log_group(REGION, "/reset-all") is None
    moto_s3.create_bucket(bucket_name, "us-east-1")  # the name is free again
    moto_s3.drop_bucket(bucket_name)


def test_server_app_answers_and_keeps_the_original_header_names(bucket_name: str) -> None:
    assert isinstance(moto_internals.PRESERVED_HEADER_NAMES_KEY, str)
    assert moto_internals.preserves_header_name("x-amz-meta-Mixed_Case")
    assert not moto_internals.preserves_header_name("Content-Type")
    assert _s3("PUT", f"/{bucket_name}").status_code == 200
    assert bucket_name.encode() in _s3("GET", "/").get_data()
    # What the bridge does: moto reads the original spelling of x-amz-meta-* names from here.
    put = _s3(
        "PUT",
        f"/{bucket_name}/k",
        data=b"v",
        headers={"x-amz-meta-Mixed_Case": "yes"},
        environ_overrides={
            moto_internals.PRESERVED_HEADER_NAMES_KEY: {
                "HTTP_X_AMZ_META_MIXED_CASE": "x-amz-meta-Mixed_Case"
            }
        },
    )
    assert put.status_code == 200
    found = moto_s3.bucket(bucket_name)
    key = moto_s3.get_key(found, "k")
    # Without it moto would store x-amz-meta-mixed-case (WSGI folds "_" and "-" together).
    assert moto_s3.key_facts(key).metadata.get("x-amz-meta-mixed_case") == "yes"
    moto_s3.drop_key(found, "k")
    moto_s3.drop_bucket(bucket_name)


# --- S3 ----------------------------------------------------------------------------------------


def test_buckets_are_made_found_described_and_dropped(bucket_name: str) -> None:
    assert moto_s3.s3_backend() is moto_s3.s3_backend()
    assert moto_s3.bucket(bucket_name) is None
    created = datetime(2020, 5, 17, 8, 30, tzinfo=UTC)
    made = moto_s3.create_bucket(bucket_name, "eu-west-1", created)
    assert moto_s3.bucket(bucket_name) is made
    assert bucket_name in moto_s3.bucket_names()
    assert moto_s3.bucket_facts(made) == moto_s3.BucketFacts("eu-west-1", created)
    listing = _s3("GET", "/").get_data(as_text=True)
    assert "2020-05-17T08:30:00" in listing  # what ListBuckets says of the stored date

    key = moto_s3.new_key(bucket_name, "k")
    moto_s3.fill_key(key, [b"data"])
    moto_s3.drop_bucket(bucket_name)  # not empty: moto's DeleteBucket would refuse
    assert moto_s3.bucket(bucket_name) is None
    assert bucket_name not in moto_s3.bucket_names()
    assert _s3("HEAD", f"/{bucket_name}").status_code == 404
    again = moto_s3.create_bucket(bucket_name, "us-east-1")  # its name is free again
    assert moto_s3.bucket_facts(again).region == "us-east-1"
    assert moto_s3.bucket_keys(again) == {}
    moto_s3.drop_bucket(bucket_name)


def test_keys_are_filled_read_described_and_restored(bucket_name: str) -> None:
    found = moto_s3.create_bucket(bucket_name, "us-east-1")
    key = moto_s3.new_key(bucket_name, "dir/object")
    chunks = [b"a" * 1000, b"b" * 24, b""]
    moto_s3.fill_key(key, iter(chunks))
    body = b"".join(chunks)
    assert moto_s3.key_size(key) == len(body)
    assert moto_s3.content_type(key) in (None, "binary/octet-stream")
    moto_s3.set_content_type(key, "text/csv")
    assert moto_s3.content_type(key) == "text/csv"
    facts = moto_s3.key_facts(key)
    assert facts.etag == hashlib.md5(body).hexdigest()
    assert facts.size == len(body)
    assert facts.metadata.get("content-type") == "text/csv"  # moto keeps the names lower-case
    assert isinstance(facts.last_modified, datetime)
    out = io.BytesIO()
    moto_s3.copy_body(key, out)
    assert out.getvalue() == body
    assert moto_s3.get_key(found, "dir/object") is key
    assert moto_s3.bucket_keys(found) == {"dir/object": key}

    # Through the wire: what GetObject answers for what was filled in.
    got = _s3("GET", f"/{bucket_name}/dir/object")
    assert got.get_data() == body
    assert got.headers["ETag"] == f'"{facts.etag}"'
    assert got.headers["Content-Type"] == "text/csv"

    # A stored object put back (as at start): body, then its stored facts.
    restored = moto_s3.new_key(bucket_name, "restored")
    moto_s3.fill_key(restored, [b"xyz"])
    stamp = datetime(2021, 1, 2, 3, 4, 5)
    moto_s3.restore_key(
        restored,
        etag="0123456789abcdef0123456789abcdef-2",
        last_modified=stamp,
        metadata={"Content-Type": "application/x-recordio", "x-amz-meta-origin": "disk"},
        storage_class="STANDARD_IA",
    )
    after = moto_s3.key_facts(restored)
    assert after.etag == "0123456789abcdef0123456789abcdef-2"
    assert after.last_modified == stamp
    assert after.storage_class == "STANDARD_IA"
    assert after.metadata["x-amz-meta-origin"] == "disk"
    head = _s3("HEAD", f"/{bucket_name}/restored")
    assert head.headers["ETag"] == '"0123456789abcdef0123456789abcdef-2"'
    assert head.headers["Last-Modified"] == "Sat, 02 Jan 2021 03:04:05 GMT"
    assert head.headers["Content-Type"] == "application/x-recordio"
    assert head.headers["x-amz-meta-origin"] == "disk"
    assert head.headers["x-amz-storage-class"] == "STANDARD_IA"
    assert head.headers["Content-Length"] == "3"

    moto_s3.drop_key(found, "restored")
    assert moto_s3.get_key(found, "restored") is None
    assert _s3("HEAD", f"/{bucket_name}/restored").status_code == 404
    moto_s3.drop_key(found, "dir/object")
    moto_s3.drop_bucket(bucket_name)


def test_delete_markers_are_no_objects(bucket_name: str) -> None:
    assert _s3("PUT", f"/{bucket_name}").status_code == 200
    versioning = (
        '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        "<Status>Enabled</Status></VersioningConfiguration>"
    )
    assert _s3("PUT", f"/{bucket_name}?versioning", data=versioning).status_code == 200
    assert _s3("PUT", f"/{bucket_name}/gone", data=b"x").status_code == 200
    assert _s3("PUT", f"/{bucket_name}/kept", data=b"y").status_code == 200
    assert _s3("DELETE", f"/{bucket_name}/gone").status_code == 204
    found = moto_s3.bucket(bucket_name)
    assert sorted(moto_s3.bucket_keys(found)) == ["kept"]
    assert moto_s3.get_key(found, "gone") is None
    moto_s3.drop_bucket(bucket_name)


def test_bucket_cors_reads_put_bucket_cors(bucket_name: str) -> None:
    assert moto_s3.bucket_cors(bucket_name) == []  # no such bucket
    assert _s3("PUT", f"/{bucket_name}").status_code == 200
    assert moto_s3.bucket_cors(bucket_name) == []  # no configuration
    cors = (
        "<CORSConfiguration><CORSRule>"
        "<AllowedOrigin>https://*.example.com</AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>"
        "<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
        "<MaxAgeSeconds>300</MaxAgeSeconds>"
        "</CORSRule></CORSConfiguration>"
    )
    assert _s3("PUT", f"/{bucket_name}?cors", data=cors).status_code == 200
    (rule,) = moto_s3.bucket_cors(bucket_name)
    assert list(rule.allowed_methods) == ["GET", "PUT"]
    assert _strings(rule.allowed_origins) == ["https://*.example.com"]
    assert _strings(rule.allowed_headers) == ["*"]
    assert _strings(rule.exposed_headers) == ["ETag"]
    assert str(rule.max_age_seconds) == "300"
    moto_s3.drop_bucket(bucket_name)


def _strings(values: Any) -> list[str]:
    # moto keeps a single value as a string, several as a list (s3_cors reads both).
    return [values] if isinstance(values, str) else list(values)


def test_reset_s3_forgets_every_bucket(bucket_name: str) -> None:
    moto_s3.create_bucket(bucket_name, "us-east-1")
    s3_tracking.reset_s3()
    assert moto_s3.bucket(bucket_name) is None
    assert moto_s3.bucket_names() == []
    moto_s3.create_bucket(bucket_name, "us-east-1")  # its name is free again
    moto_s3.drop_bucket(bucket_name)


# --- CloudWatch Logs ---------------------------------------------------------------------------


def test_groups_are_made_found_set_and_dropped() -> None:
    moto_logs.reset_logs(REGION)
    assert moto_logs.logs_backend(REGION) is moto_logs.logs_backend(REGION)
    assert moto_logs.log_group(REGION, "/g") is None
    group = moto_logs.create_log_group(REGION, "/g")
    assert moto_logs.log_group(REGION, "/g") is group
    assert moto_logs.log_group_names(REGION) == ["/g"]
    fresh = moto_logs.group_settings(group)
    assert isinstance(fresh.created, datetime)
    assert (fresh.retention_days, fresh.kms_key_id) == (None, None)

    created = datetime(2022, 3, 4, 5, 6, 7)
    key_arn = f"arn:aws:kms:{REGION}:123456789012:key/1234"
    moto_logs.restore_group_settings(group, created, 7, key_arn)
    assert moto_logs.group_settings(group) == moto_logs.GroupSettings(created, 7, key_arn)
    moto_logs.restore_group_settings(group, None, None, None)  # None: the creation time stays
    assert moto_logs.group_settings(group) == moto_logs.GroupSettings(created, None, None)
    moto_logs.restore_group_settings(group, created, 7, key_arn)
    (described,) = _logs("DescribeLogGroups")["logGroups"]
    assert described["creationTime"] == _ms(created)
    assert described["retentionInDays"] == 7
    assert described["kmsKeyId"] == key_arn

    moto_logs.drop_log_group(REGION, "/g")
    moto_logs.drop_log_group(REGION, "/g")  # no error when there is none
    assert moto_logs.log_group(REGION, "/g") is None
    assert _logs("DescribeLogGroups")["logGroups"] == []


def test_streams_and_their_events() -> None:
    moto_logs.reset_logs(REGION)
    group = moto_logs.create_log_group(REGION, "/g")
    assert moto_logs.log_stream(REGION, "/g", "s") is None
    assert moto_logs.log_stream(REGION, "/missing", "s") is None
    moto_logs.create_log_stream(REGION, "/g", "s")
    stream = moto_logs.log_stream(REGION, "/g", "s")
    assert moto_logs.log_streams(group) == {"s": stream}
    assert isinstance(moto_logs.stream_created(stream), datetime)
    assert moto_logs.event_count(stream) == 0

    old = int(time.time() * 1000) - 30 * 86_400_000  # older than PutLogEvents takes from clients
    moto_logs.append_lines(stream, old, ["one", "two"])
    assert moto_logs.event_count(stream) == 2
    first, second = moto_logs.stream_events(stream)
    assert (first.timestamp, first.message) == (old, "one")
    assert isinstance(first.ingestion_time, int)
    assert moto_logs.stream_events(stream, 1) == [second]

    # Stored events go before the stream's own (they were put before a restart).
    stored = [
        moto_logs.Event(old - 2, 1_600_000_000_000, "zero"),
        moto_logs.Event(old - 1, 1_600_000_000_500, "half"),
    ]
    moto_logs.prepend_events(stream, stored)
    assert [e.message for e in moto_logs.stream_events(stream)] == ["zero", "half", "one", "two"]
    assert moto_logs.stream_events(stream, 0)[:2] == stored
    got = _logs("GetLogEvents", logGroupName="/g", logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["zero", "half", "one", "two"]
    assert got["events"][0]["ingestionTime"] == 1_600_000_000_000
    (described,) = _logs("DescribeLogStreams", logGroupName="/g")["logStreams"]
    assert described["storedBytes"] == len("zerohalfonetwo")
    assert described["firstEventTimestamp"] == old - 2

    # A stored stream put back without its events, with its stored creation time.
    created = datetime(2023, 6, 7, 8, 9, 10)
    restored = moto_logs.restore_log_stream(group, "r", created)
    assert moto_logs.log_stream(REGION, "/g", "r") is restored
    assert moto_logs.stream_created(restored) == created
    assert moto_logs.event_count(restored) == 0
    moto_logs.prepend_events(restored, [moto_logs.Event(5_000, 1_700_000_000_000, "back")])
    described = {
        s["logStreamName"]: s for s in _logs("DescribeLogStreams", logGroupName="/g")["logStreams"]
    }
    assert described["r"]["creationTime"] == _ms(created)
    assert described["r"]["lastIngestionTime"] == 1_700_000_000_000
    # Restoring a stream moto has empties it (its events are read from disk again).
    assert moto_logs.restore_log_stream(group, "s", None) is stream
    assert moto_logs.event_count(stream) == 0
    assert moto_logs.stream_created(stream) == moto_logs.stream_created(stream)

    moto_logs.reset_logs(REGION)
    assert moto_logs.log_group_names(REGION) == []


def _ms(value: datetime) -> int:
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


# --- SNS ---------------------------------------------------------------------------------------


def _query(service: str, region: str, **params: str) -> str:
    response = Client(moto_internals.server_app()).post(
        "/",
        data=urlencode(params),
        headers={**_auth(service, region), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    text: str = response.get_data(as_text=True)
    return text


def _between(text: str, tag: str) -> str:
    return text.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]


def test_sns_publish_reaches_a_subscribed_queue() -> None:
    region = "af-south-1"  # a region no other test publishes in
    name = f"internals-{uuid.uuid4().hex[:8]}"
    topic = _between(_query("sns", region, Action="CreateTopic", Name=name), "TopicArn")
    assert moto_sns.sns_topic_exists(region, topic)
    assert not moto_sns.sns_topic_exists(region, topic + "-missing")
    assert not moto_sns.sns_topic_exists("eu-west-1", topic)
    queue_url = _between(_query("sqs", region, Action="CreateQueue", QueueName=name), "QueueUrl")
    queue_arn = f"arn:aws:sqs:{region}:123456789012:{name}"
    _query(
        "sns",
        region,
        Action="Subscribe",
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        **{"Attributes.entry.1.key": "RawMessageDelivery", "Attributes.entry.1.value": "true"},
    )
    moto_sns.sns_publish(region, topic, '{"invocationStatus": "Completed"}')
    received = _query(
        "sqs", region, Action="ReceiveMessage", QueueUrl=queue_url, WaitTimeSeconds="0"
    )
    assert "invocationStatus" in _between(received, "Body")


def test_key_stores_track_changes_and_load_stored_versions_on_demand(bucket_name: str) -> None:
    assert _s3("PUT", f"/{bucket_name}").status_code == 200
    found = moto_s3.bucket(bucket_name)
    loaded: list[tuple[str, int]] = []
    stored = s3_versions.VersionFacts(
        version_id="null",
        is_delete_marker=False,
        last_modified=datetime(2026, 1, 2, 3, 4, 5),
        etag="0123456789abcdef0123456789abcdef",
        size=5,
        metadata={"content-type": "text/x-stored", "x-amz-meta-k": "v"},  # as moto keeps it
        storage_class="STANDARD",
        versioned=False,
    )

    def load(name: str, seq: int) -> Any:
        loaded.append((name, seq))
        version = s3_versions.make_version(
            bucket_name, "us-east-1", name, stored, io.BytesIO(b"hello")
        )
        s3_versions.set_version_token(version, f"token-{seq}")
        return version

    assert _s3("PUT", f"/{bucket_name}/before", data=b"b").status_code == 200
    source = _Stored({}, load)
    assert not s3_tracking.track_keys(found, source)  # not tracking: what it holds counts
    assert s3_tracking.track_keys(found, source)
    assert s3_tracking.take_changed_keys(found) == {"before"}
    assert s3_tracking.take_changed_keys(found) == set()
    s3_tracking.put_stored_versions(found, "lazy", [0])
    assert s3_tracking.take_changed_keys(found) == set() and loaded == []
    assert "lazy" in s3_tracking.all_key_names(found)
    # moto's own GET loads it, and serves what was stored.
    got = _s3("GET", f"/{bucket_name}/lazy")
    assert (got.status_code, got.data) == (200, b"hello")
    assert got.headers["ETag"] == '"0123456789abcdef0123456789abcdef"'
    assert got.headers["Content-Type"] == "text/x-stored"
    assert got.headers["x-amz-meta-k"] == "v"
    assert loaded == [("lazy", 0)]
    (version,) = s3_versions.key_versions(found, "lazy")
    assert s3_versions.version_token(version) == "token-0"
    assert s3_versions.version_facts(version) == stored
    assert s3_tracking.take_changed_keys(found) == set()

    # Versions and delete markers, their facts and tokens; a copy is not the stored version.
    versioning = (
        '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        "<Status>Enabled</Status></VersioningConfiguration>"
    )
    assert _s3("PUT", f"/{bucket_name}?versioning", data=versioning).status_code == 200
    assert moto_s3.versioning(found) == "Enabled"
    assert _s3("PUT", f"/{bucket_name}/lazy", data=b"second").status_code == 200
    assert _s3("DELETE", f"/{bucket_name}/lazy").status_code == 204
    assert s3_tracking.take_changed_keys(found) == {"lazy"}
    first, second, marker = s3_versions.key_versions(found, "lazy")
    assert s3_versions.version_token(second) is None
    assert [s3_versions.is_delete_marker(v) for v in (first, second, marker)] == [
        False,
        False,
        True,
    ]
    facts = s3_versions.version_facts(marker)
    assert facts.is_delete_marker and facts.version_id == marker.version_id
    remade = s3_versions.make_version(bucket_name, "us-east-1", "lazy", facts, None)
    assert s3_versions.is_delete_marker(remade) and s3_versions.version_facts(remade) == facts
    second_facts = s3_versions.version_facts(second)
    assert second_facts.versioned and second_facts.size == 6
    s3_versions.set_version_token(second, "t2")
    assert s3_versions.version_token(second) == "t2"
    assert s3_versions.version_token(copy.copy(second)) is None
    s3_versions.serve_body_from(second, io.BytesIO(b"SECOND"), 6)
    out = io.BytesIO()
    moto_s3.copy_body(second, out)
    assert out.getvalue() == b"SECOND"
    moto_s3.set_versioning(found, "Suspended")
    assert moto_s3.versioning(found) == "Suspended"

    # Putting stored versions back (an undo) drops what moto held for the key.
    s3_tracking.put_stored_versions(found, "lazy", [0])
    assert [s3_versions.version_token(v) for v in s3_versions.key_versions(found, "lazy")] == [
        "token-0"
    ]
    s3_tracking.put_stored_versions(found, "lazy", [])
    assert s3_versions.key_versions(found, "lazy") == []
    assert s3_tracking.take_changed_keys(found) == set()

    # A reset does not load what was never read.
    s3_tracking.put_stored_versions(found, "never-read", [7])
    count = len(loaded)
    s3_tracking.reset_s3()
    assert len(loaded) == count
    assert moto_s3.bucket(bucket_name) is None


class _Stored:
    """Stored keys as the S3 store's index gives them to moto's key store (here: a dict)."""

    def __init__(self, keys: dict[str, list[int]], load: Any) -> None:
        self.lock = threading.RLock()
        self.keys = keys
        self.load = load
        self.asked: list[str] = []
        self.read_whole = 0
        self.counted = 0

    def seqs(self, name: str) -> list[int]:
        self.asked.append(name)
        return list(self.keys.get(name, []))

    def everything(self) -> list[tuple[str, list[int]]]:
        self.read_whole += 1
        return [(name, list(seqs)) for name, seqs in sorted(self.keys.items())]

    def counts(self) -> tuple[int, int]:
        self.counted += 1
        return len(self.keys), sum(len(seqs) for seqs in self.keys.values())

    def names_from(self, start: str, inclusive: bool, limit: int) -> list[str]:
        names = sorted(n for n in self.keys if n > start or (inclusive and n == start))
        return names[:limit]


def test_a_started_bucket_reads_its_keys_when_first_asked_for(bucket_name: str) -> None:
    """At start a bucket holds none of its stored keys: a request takes in the ones it names;
    a listing from the index the ones of its page, moto's own listing every name; a count asks
    the index."""
    moto_s3.create_bucket(bucket_name, "us-east-1")
    found = moto_s3.bucket(bucket_name)
    assert found is not None

    def load(name: str, seq: int) -> Any:
        facts = s3_versions.VersionFacts(
            "null", False, datetime(2026, 1, 2), hashlib.md5(name.encode()).hexdigest(),
            len(name), {}, None, False,
        )  # fmt: skip
        version = s3_versions.make_version(
            bucket_name, "us-east-1", name, facts, io.BytesIO(name.encode())
        )
        s3_versions.set_version_token(version, f"{name}-{seq}")
        return version

    stored = _Stored({f"k{i:03d}": [0] for i in range(200)}, load)
    s3_tracking.serve_stored_keys(found, stored)
    assert s3_tracking.held_key_names(found) == set()
    got = _s3("GET", f"/{bucket_name}/k007")
    assert (got.status_code, got.data) == (200, b"k007")
    assert s3_tracking.held_key_names(found) == {"k007"}
    assert _s3("HEAD", f"/{bucket_name}/absent").status_code == 404
    assert _s3("PUT", f"/{bucket_name}/new", data=b"n").status_code == 200
    assert _s3("DELETE", f"/{bucket_name}/k008").status_code == 204
    assert s3_tracking.held_key_names(found) == {"k007", "new"}
    assert stored.read_whole == 0
    # Removed in moto but not yet from the index (the store syncs after the request): hidden.
    assert _s3("HEAD", f"/{bucket_name}/k008").status_code == 404
    assert s3_tracking.take_changed_keys(found) == {"new", "k008"}
    # The store's write commits: the index has what moto has; a count is the index's.
    stored.keys["new"] = [0]
    del stored.keys["k008"]
    s3_tracking.settle_keys(found, {"new", "k008"})
    assert len(found.keys) == 200 and stored.counted == 1 and stored.read_whole == 0
    assert _s3("HEAD", f"/{bucket_name}/k008").status_code == 404
    # A listing from the index reads its page's keys for its response only.
    s3_listing.serve_listings_from_index()
    listed = _s3("GET", f"/{bucket_name}?list-type=2&max-keys=3")
    assert listed.get_data(as_text=True).count("<Key>") == 3
    assert stored.read_whole == 0
    assert s3_tracking.held_key_names(found) == {"k007", "new"}
    # moto's own listing reads every name.
    s3_listing.serve_listings_from_index(False)
    try:
        listed = _s3("GET", f"/{bucket_name}?list-type=2&max-keys=1000")
    finally:
        s3_listing.serve_listings_from_index()
    assert listed.get_data(as_text=True).count("<Key>") == 200
    assert stored.read_whole == 1
    assert len(s3_tracking.held_key_names(found)) == 200
    s3_tracking.reset_s3()


def test_multipart_uploads_are_read_and_restored(bucket_name: str) -> None:
    assert _s3("PUT", f"/{bucket_name}").status_code == 200
    started = _s3(
        "POST",
        f"/{bucket_name}/big?uploads",
        headers={"Content-Type": "text/x-big", "x-amz-meta-owner": "me"},
    )
    assert started.status_code == 200
    upload_id = started.get_data(as_text=True).split("<UploadId>")[1].split("</UploadId>")[0]
    part = _s3("PUT", f"/{bucket_name}/big?partNumber=1&uploadId={upload_id}", data=b"p" * 10)
    assert part.status_code == 200
    found = moto_s3.bucket(bucket_name)
    (upload,) = s3_uploads.uploads(found).values()
    facts = s3_uploads.upload_facts(upload)
    assert facts.key == "big"
    assert facts.metadata.get("Content-Type") == "text/x-big"
    parts = s3_uploads.upload_parts(upload)
    assert list(parts) == [1]
    part_facts = s3_versions.version_facts(parts[1])
    assert part_facts.size == 10
    assert part.headers["ETag"] == f'"{part_facts.etag}"'

    s3_uploads.drop_upload(found, upload_id)
    assert s3_uploads.uploads(found) == {}
    remade = s3_versions.make_version(
        bucket_name, "us-east-1", 1, part_facts, io.BytesIO(b"p" * 10)
    )
    s3_uploads.restore_upload(found, "us-east-1", upload_id, facts, {1: remade})
    listed = _s3("GET", f"/{bucket_name}/big?uploadId={upload_id}")
    assert listed.status_code == 200 and f"<ETag>&quot;{part_facts.etag}&quot;</ETag>" in (
        listed.get_data(as_text=True).replace('"', "&quot;")
    )
    complete = (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
        f"<ETag>{part_facts.etag}</ETag></Part></CompleteMultipartUpload>"
    )
    done = _s3("POST", f"/{bucket_name}/big?uploadId={upload_id}", data=complete)
    assert done.status_code == 200, done.get_data(as_text=True)
    got = _s3("GET", f"/{bucket_name}/big")
    assert (got.data, got.headers["Content-Type"]) == (b"p" * 10, "text/x-big")
    moto_s3.drop_bucket(bucket_name)


def test_iam_principal_arns_lists_users_roles_and_groups() -> None:
    name = f"internals-{uuid.uuid4().hex[:8]}"
    user = _between(_query("iam", "us-east-1", Action="CreateUser", UserName=name), "Arn")
    role = _between(
        _query(
            "iam",
            "us-east-1",
            Action="CreateRole",
            RoleName=name,
            Path="/service/",
            AssumeRolePolicyDocument="{}",
        ),
        "Arn",
    )
    group = _between(_query("iam", "us-east-1", Action="CreateGroup", GroupName=name), "Arn")
    arns = moto_iam.iam_principal_arns()
    assert {user, role, group} <= arns
    assert role.endswith(f":role/service/{name}")


# --- CloudWatch (metrics) ----------------------------------------------------------------------


def _sums(region: str, namespace: str, name: str) -> str:
    return _query(
        "monitoring",
        region,
        Action="GetMetricStatistics",
        Version="2010-08-01",
        Namespace=namespace,
        MetricName=name,
        StartTime="2024-01-01T00:00:00Z",
        EndTime="2024-01-01T01:00:00Z",
        Period="60",
        **{"Statistics.member.1": "Sum", "Statistics.member.2": "SampleCount"},
        **{"Dimensions.member.1.Name": "D", "Dimensions.member.1.Value": "v"},
    )


def test_metric_points_are_put_read_restored_kept_and_truncated() -> None:
    region = "me-central-1"  # a region no other test writes metrics to
    moto_cloudwatch.reset_metrics(region)
    at = datetime(2024, 1, 1, 0, 10)
    dims = [{"Name": "D", "Value": "v"}]
    moto_cloudwatch.put_metric_data(
        region,
        "N",
        [
            {"MetricName": "m", "Dimensions": dims, "Timestamp": at, "Value": 2.5, "Unit": "None"},
            {
                "MetricName": "m",
                "Dimensions": dims,
                "Timestamp": at,
                "StatisticValues": {
                    "Sum": 10.0,
                    "SampleCount": 4.0,
                    "Minimum": 1.0,
                    "Maximum": 4.0,
                },
            },
        ],
    )
    assert moto_cloudwatch.metric_count(region) == 2
    single, aggregated = moto_cloudwatch.metric_points(region)
    assert single == moto_cloudwatch.MetricPoint("N", "m", (("D", "v"),), at, "None", 2.5, None)
    assert aggregated.statistics == (10.0, 4.0, 1.0, 4.0) and aggregated.value is None
    assert moto_cloudwatch.metric_points(region, 1) == [aggregated]
    text = _sums(region, "N", "m")
    assert "<Sum>12.5</Sum>" in text and "<SampleCount>5.0</SampleCount>" in text

    # Stored points go before what moto holds; the API reads them like any other.
    earlier = moto_cloudwatch.MetricPoint(
        "N", "m", (("D", "v"),), datetime(2024, 1, 1, 0, 5), None, 1.0, None
    )
    moto_cloudwatch.restore_metric_points(region, [earlier])
    assert moto_cloudwatch.metric_points(region)[0] == earlier
    assert "<Sum>1.0</Sum>" in _sums(region, "N", "m")
    moto_cloudwatch.keep_metric_points(region, [False, True, True])
    assert moto_cloudwatch.metric_points(region) == [single, aggregated]
    moto_cloudwatch.truncate_metric_points(region, 1)
    assert moto_cloudwatch.metric_points(region) == [single]
    moto_cloudwatch.reset_metrics(region)
    assert moto_cloudwatch.metric_count(region) == 0


def test_list_metrics_names_each_series_once() -> None:
    region = "me-central-1"
    moto_cloudwatch.reset_metrics(region)
    moto_cloudwatch.list_metrics_in_linear_time()
    at = datetime(2024, 1, 1, 0, 10)
    dims = [{"Name": "D", "Value": "v"}]
    moto_cloudwatch.put_metric_data(
        region,
        "N",
        [
            {"MetricName": "m", "Dimensions": dims, "Timestamp": at, "Value": 1.0},
            {"MetricName": "m", "Dimensions": dims, "Timestamp": at, "Value": 2.0},
            {"MetricName": "bare", "Timestamp": at, "Value": 1.0},
            {"MetricName": "bare", "Timestamp": at, "Value": 2.0},
        ],
    )
    text = _query("monitoring", region, Action="ListMetrics", Version="2010-08-01", Namespace="N")
    assert text.count("<MetricName>m</MetricName>") == 1
    assert text.count("<MetricName>bare</MetricName>") == 1
    only = _query(
        "monitoring",
        region,
        Action="ListMetrics",
        Version="2010-08-01",
        Namespace="N",
        **{"Dimensions.member.1.Name": "D", "Dimensions.member.1.Value": "v"},
    )
    assert "<MetricName>m</MetricName>" in only and "bare" not in only
    moto_cloudwatch.reset_metrics(region)


def test_cloudwatch_metrics_and_get_metric_data() -> None:
    region = "il-central-1"  # a region no other test puts metrics in
    namespace = f"internals/{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    params = {"Action": "PutMetricData", "Namespace": namespace}
    points = (("job/algo-1", 3.0), ("job/algo-1", 1.0), ("job/algo-2", 7.0))
    for i, (host, value) in enumerate(points):
        member = f"MetricData.member.{i + 1}"
        params |= {
            f"{member}.MetricName": "train:loss",
            f"{member}.Value": str(value),
            f"{member}.Timestamp": datetime.fromtimestamp(
                now.timestamp() - 10 + 2 * i, UTC
            ).isoformat(),
            f"{member}.Dimensions.member.1.Name": "Host",
            f"{member}.Dimensions.member.1.Value": host,
        }
    _query("monitoring", region, **params)
    found = moto_cloudwatch.cloudwatch_metrics(region, namespace)
    assert found == [
        ("train:loss", {"Host": "job/algo-1"}),
        ("train:loss", {"Host": "job/algo-2"}),
    ]
    assert moto_cloudwatch.cloudwatch_metrics(region, namespace + "-other") == []
    query = {
        "Id": "a",
        "Label": "loss",
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": "train:loss",
                "Dimensions": [{"Name": "Host", "Value": "job/algo-1"}],
            },
            "Period": 1,
            "Stat": "Average",
        },
    }
    [result] = moto_cloudwatch.cloudwatch_metric_data(
        region, [query], datetime.fromtimestamp(now.timestamp() - 60, UTC), now
    )
    assert result["Id"] == "a" and result["Label"] == "loss"
    assert result["Values"] == [3.0, 1.0]
    assert result["Timestamps"] == sorted(result["Timestamps"])
    assert all(t.tzinfo is not None for t in result["Timestamps"])
    assert moto_cloudwatch.cloudwatch_metric_data(region, [], now, now) == []
