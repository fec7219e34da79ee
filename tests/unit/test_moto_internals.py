"""Every function of emulator/storage/moto_internals.py, against the installed moto.

What these functions write into moto's objects is checked through moto's own server app (the
wire API clients use), so a moto release that reads its objects differently fails here.

scripts/moto-oldest-venv.sh runs this file under the oldest moto that pyproject.toml allows too:
it imports nothing but moto, werkzeug (moto's own dependency), pytest and the module under test.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from werkzeug.test import Client

from emulator.storage import moto_internals as moto

REGION = "me-south-1"  # a region no other test writes logs to


def _auth(service: str, region: str = "us-east-1") -> dict[str, str]:
    # moto picks the service (and region) from the credential scope; it does not check signatures.
    scope = f"Credential=AKIDEXAMPLE/20240101/{region}/{service}/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"}


def _logs(operation: str, **body: Any) -> dict[str, Any]:
    response = Client(moto.server_app()).post(
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
    return Client(moto.server_app()).open(path, method=method, headers=headers, **kwargs)


@pytest.fixture
def bucket_name() -> str:
    return f"internals-{uuid.uuid4().hex[:12]}"


# --- everything and the server app ------------------------------------------------------------


def test_reset_all_forgets_every_backend(bucket_name: str) -> None:
    moto.create_bucket(bucket_name, "us-east-1")
    moto.create_log_group(REGION, "/reset-all")
    moto.reset_all()
    assert moto.bucket(bucket_name) is None
    assert moto.log_group(REGION, "/reset-all") is None
    moto.create_bucket(bucket_name, "us-east-1")  # the name is free again
    moto.drop_bucket(bucket_name)


def test_server_app_answers_and_keeps_the_original_header_names(bucket_name: str) -> None:
    assert isinstance(moto.PRESERVED_HEADER_NAMES_KEY, str)
    assert moto.preserves_header_name("x-amz-meta-Mixed_Case")
    assert not moto.preserves_header_name("Content-Type")
    assert _s3("PUT", f"/{bucket_name}").status_code == 200
    assert bucket_name.encode() in _s3("GET", "/").get_data()
    # What the bridge does: moto reads the original spelling of x-amz-meta-* names from here.
    put = _s3(
        "PUT",
        f"/{bucket_name}/k",
        data=b"v",
        headers={"x-amz-meta-Mixed_Case": "yes"},
        environ_overrides={
            moto.PRESERVED_HEADER_NAMES_KEY: {"HTTP_X_AMZ_META_MIXED_CASE": "x-amz-meta-Mixed_Case"}
        },
    )
    assert put.status_code == 200
    found = moto.bucket(bucket_name)
    key = moto.get_key(found, "k")
    # Without it moto would store x-amz-meta-mixed-case (WSGI folds "_" and "-" together).
    assert moto.key_facts(key).metadata.get("x-amz-meta-mixed_case") == "yes"
    moto.drop_key(found, "k")
    moto.drop_bucket(bucket_name)


# --- S3 ----------------------------------------------------------------------------------------


def test_buckets_are_made_found_described_and_dropped(bucket_name: str) -> None:
    assert moto.s3_backend() is moto.s3_backend()
    assert moto.bucket(bucket_name) is None
    created = datetime(2020, 5, 17, 8, 30, tzinfo=UTC)
    made = moto.create_bucket(bucket_name, "eu-west-1", created)
    assert moto.bucket(bucket_name) is made
    assert bucket_name in moto.bucket_names()
    assert moto.bucket_facts(made) == moto.BucketFacts("eu-west-1", created)
    listing = _s3("GET", "/").get_data(as_text=True)
    assert "2020-05-17T08:30:00" in listing  # what ListBuckets says of the stored date

    key = moto.new_key(bucket_name, "k")
    moto.fill_key(key, [b"data"])
    moto.drop_bucket(bucket_name)  # not empty: moto's DeleteBucket would refuse
    assert moto.bucket(bucket_name) is None
    assert bucket_name not in moto.bucket_names()
    assert _s3("HEAD", f"/{bucket_name}").status_code == 404
    again = moto.create_bucket(bucket_name, "us-east-1")  # its name is free again
    assert moto.bucket_facts(again).region == "us-east-1"
    assert moto.bucket_keys(again) == {}
    moto.drop_bucket(bucket_name)


def test_keys_are_filled_read_described_and_restored(bucket_name: str) -> None:
    found = moto.create_bucket(bucket_name, "us-east-1")
    key = moto.new_key(bucket_name, "dir/object")
    empty = moto.key_signature(key)
    chunks = [b"a" * 1000, b"b" * 24, b""]
    moto.fill_key(key, iter(chunks))
    body = b"".join(chunks)
    assert moto.key_size(key) == len(body)
    assert moto.key_signature(key) != empty
    assert moto.key_signature(key) == moto.key_signature(key)
    assert moto.content_type(key) in (None, "binary/octet-stream")
    moto.set_content_type(key, "text/csv")
    assert moto.content_type(key) == "text/csv"
    facts = moto.key_facts(key)
    assert facts.etag == hashlib.md5(body).hexdigest()
    assert facts.size == len(body)
    assert facts.metadata.get("content-type") == "text/csv"  # moto keeps the names lower-case
    assert isinstance(facts.last_modified, datetime)
    out = io.BytesIO()
    moto.copy_body(key, out)
    assert out.getvalue() == body
    assert moto.get_key(found, "dir/object") is key
    assert moto.bucket_keys(found) == {"dir/object": key}

    # Through the wire: what GetObject answers for what was filled in.
    got = _s3("GET", f"/{bucket_name}/dir/object")
    assert got.get_data() == body
    assert got.headers["ETag"] == f'"{facts.etag}"'
    assert got.headers["Content-Type"] == "text/csv"

    # A stored object put back (as at start): body, then its stored facts.
    restored = moto.new_key(bucket_name, "restored")
    moto.fill_key(restored, [b"xyz"])
    stamp = datetime(2021, 1, 2, 3, 4, 5)
    moto.restore_key(
        restored,
        etag="0123456789abcdef0123456789abcdef-2",
        last_modified=stamp,
        metadata={"Content-Type": "application/x-recordio", "x-amz-meta-origin": "disk"},
        storage_class="STANDARD_IA",
    )
    after = moto.key_facts(restored)
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

    moto.drop_key(found, "restored")
    assert moto.get_key(found, "restored") is None
    assert _s3("HEAD", f"/{bucket_name}/restored").status_code == 404
    moto.drop_key(found, "dir/object")
    moto.drop_bucket(bucket_name)


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
    found = moto.bucket(bucket_name)
    assert sorted(moto.bucket_keys(found)) == ["kept"]
    assert moto.get_key(found, "gone") is None
    moto.drop_bucket(bucket_name)


def test_bucket_cors_reads_put_bucket_cors(bucket_name: str) -> None:
    assert moto.bucket_cors(bucket_name) == []  # no such bucket
    assert _s3("PUT", f"/{bucket_name}").status_code == 200
    assert moto.bucket_cors(bucket_name) == []  # no configuration
    cors = (
        "<CORSConfiguration><CORSRule>"
        "<AllowedOrigin>https://*.example.com</AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>"
        "<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
        "<MaxAgeSeconds>300</MaxAgeSeconds>"
        "</CORSRule></CORSConfiguration>"
    )
    assert _s3("PUT", f"/{bucket_name}?cors", data=cors).status_code == 200
    (rule,) = moto.bucket_cors(bucket_name)
    assert list(rule.allowed_methods) == ["GET", "PUT"]
    assert _strings(rule.allowed_origins) == ["https://*.example.com"]
    assert _strings(rule.allowed_headers) == ["*"]
    assert _strings(rule.exposed_headers) == ["ETag"]
    assert str(rule.max_age_seconds) == "300"
    moto.drop_bucket(bucket_name)


def _strings(values: Any) -> list[str]:
    # moto keeps a single value as a string, several as a list (s3_cors reads both).
    return [values] if isinstance(values, str) else list(values)


def test_reset_s3_forgets_every_bucket(bucket_name: str) -> None:
    moto.create_bucket(bucket_name, "us-east-1")
    moto.reset_s3()
    assert moto.bucket(bucket_name) is None
    assert moto.bucket_names() == []
    moto.create_bucket(bucket_name, "us-east-1")  # its name is free again
    moto.drop_bucket(bucket_name)


# --- CloudWatch Logs ---------------------------------------------------------------------------


def test_groups_are_made_found_set_and_dropped() -> None:
    moto.reset_logs(REGION)
    assert moto.logs_backend(REGION) is moto.logs_backend(REGION)
    assert moto.log_group(REGION, "/g") is None
    group = moto.create_log_group(REGION, "/g")
    assert moto.log_group(REGION, "/g") is group
    assert moto.log_group_names(REGION) == ["/g"]
    fresh = moto.group_settings(group)
    assert isinstance(fresh.created, datetime)
    assert (fresh.retention_days, fresh.kms_key_id) == (None, None)

    created = datetime(2022, 3, 4, 5, 6, 7)
    key_arn = f"arn:aws:kms:{REGION}:123456789012:key/1234"
    moto.restore_group_settings(group, created, 7, key_arn)
    assert moto.group_settings(group) == moto.GroupSettings(created, 7, key_arn)
    moto.restore_group_settings(group, None, None, None)  # None: the creation time stays
    assert moto.group_settings(group) == moto.GroupSettings(created, None, None)
    moto.restore_group_settings(group, created, 7, key_arn)
    (described,) = _logs("DescribeLogGroups")["logGroups"]
    assert described["creationTime"] == _ms(created)
    assert described["retentionInDays"] == 7
    assert described["kmsKeyId"] == key_arn

    moto.drop_log_group(REGION, "/g")
    moto.drop_log_group(REGION, "/g")  # no error when there is none
    assert moto.log_group(REGION, "/g") is None
    assert _logs("DescribeLogGroups")["logGroups"] == []


def test_streams_and_their_events() -> None:
    moto.reset_logs(REGION)
    group = moto.create_log_group(REGION, "/g")
    assert moto.log_stream(REGION, "/g", "s") is None
    assert moto.log_stream(REGION, "/missing", "s") is None
    moto.create_log_stream(REGION, "/g", "s")
    stream = moto.log_stream(REGION, "/g", "s")
    assert moto.log_streams(group) == {"s": stream}
    assert isinstance(moto.stream_created(stream), datetime)
    assert moto.event_count(stream) == 0

    old = int(time.time() * 1000) - 30 * 86_400_000  # older than PutLogEvents takes from clients
    moto.append_lines(stream, old, ["one", "two"])
    assert moto.event_count(stream) == 2
    first, second = moto.stream_events(stream)
    assert (first.timestamp, first.message) == (old, "one")
    assert isinstance(first.ingestion_time, int)
    assert moto.stream_events(stream, 1) == [second]

    # Stored events go before the stream's own (they were put before a restart).
    stored = [
        moto.Event(old - 2, 1_600_000_000_000, "zero"),
        moto.Event(old - 1, 1_600_000_000_500, "half"),
    ]
    moto.prepend_events(stream, stored)
    assert [e.message for e in moto.stream_events(stream)] == ["zero", "half", "one", "two"]
    assert moto.stream_events(stream, 0)[:2] == stored
    got = _logs("GetLogEvents", logGroupName="/g", logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["zero", "half", "one", "two"]
    assert got["events"][0]["ingestionTime"] == 1_600_000_000_000
    (described,) = _logs("DescribeLogStreams", logGroupName="/g")["logStreams"]
    assert described["storedBytes"] == len("zerohalfonetwo")
    assert described["firstEventTimestamp"] == old - 2

    # A stored stream put back without its events, with its stored creation time.
    created = datetime(2023, 6, 7, 8, 9, 10)
    restored = moto.restore_log_stream(group, "r", created)
    assert moto.log_stream(REGION, "/g", "r") is restored
    assert moto.stream_created(restored) == created
    assert moto.event_count(restored) == 0
    moto.prepend_events(restored, [moto.Event(5_000, 1_700_000_000_000, "back")])
    described = {
        s["logStreamName"]: s for s in _logs("DescribeLogStreams", logGroupName="/g")["logStreams"]
    }
    assert described["r"]["creationTime"] == _ms(created)
    assert described["r"]["lastIngestionTime"] == 1_700_000_000_000
    # Restoring a stream moto has empties it (its events are read from disk again).
    assert moto.restore_log_stream(group, "s", None) is stream
    assert moto.event_count(stream) == 0
    assert moto.stream_created(stream) == moto.stream_created(stream)

    moto.reset_logs(REGION)
    assert moto.log_group_names(REGION) == []


def _ms(value: datetime) -> int:
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


# --- SNS ---------------------------------------------------------------------------------------


def _query(service: str, region: str, **params: str) -> str:
    response = Client(moto.server_app()).post(
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
    assert moto.sns_topic_exists(region, topic)
    assert not moto.sns_topic_exists(region, topic + "-missing")
    assert not moto.sns_topic_exists("eu-west-1", topic)
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
    moto.sns_publish(region, topic, '{"invocationStatus": "Completed"}')
    received = _query(
        "sqs", region, Action="ReceiveMessage", QueueUrl=queue_url, WaitTimeSeconds="0"
    )
    assert "invocationStatus" in _between(received, "Body")


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
    arns = moto.iam_principal_arns()
    assert {user, role, group} <= arns
    assert role.endswith(f":role/service/{name}")


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
    found = moto.cloudwatch_metrics(region, namespace)
    assert found == [
        ("train:loss", {"Host": "job/algo-1"}),
        ("train:loss", {"Host": "job/algo-2"}),
    ]
    assert moto.cloudwatch_metrics(region, namespace + "-other") == []
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
    [result] = moto.cloudwatch_metric_data(
        region, [query], datetime.fromtimestamp(now.timestamp() - 60, UTC), now
    )
    assert result["Id"] == "a" and result["Label"] == "loss"
    assert result["Values"] == [3.0, 1.0]
    assert result["Timestamps"] == sorted(result["Timestamps"])
    assert all(t.tzinfo is not None for t in result["Timestamps"])
    assert moto.cloudwatch_metric_data(region, [], now, now) == []
