"""The call history: bounded per resource and in all, its file rewritten before it grows past
about twice what is kept, reloaded as it was; and what it keeps of a call (emulator.aws.call_events:
the resource, the request without secrets)."""

from __future__ import annotations

from pathlib import Path

from emulator.aws import call_events
from emulator.aws.call_events import HIDDEN, CallEvent, s3_operation, sagemaker_event
from emulator.storage.call_history import CallHistory


def _call(resource: str, n: int, padding: int = 0) -> CallEvent:
    return CallEvent(resource, {"eventName": f"Op{n}", "eventTime": n, "pad": "x" * padding})


def test_a_resource_keeps_its_first_call_and_its_latest(tmp_path: Path) -> None:
    history = CallHistory(tmp_path / "h.jsonl", per_resource=5)
    for n in range(100):
        history.record(_call("arn:a", n))
    assert [c["eventName"] for c in history.calls("arn:a")] == [
        "Op0",
        "Op96",
        "Op97",
        "Op98",
        "Op99",
    ]
    assert history.size()[0] == 5


def test_the_history_is_bounded_in_entries_and_bytes_oldest_resources_first(
    tmp_path: Path,
) -> None:
    history = CallHistory(tmp_path / "h.jsonl", max_entries=50, max_bytes=10**9)
    for n in range(1_000):
        history.record(_call(f"arn:{n}", n))
    entries, _ = history.size()
    assert entries == 50
    assert history.calls("arn:0") == []  # the least recently changed went first
    assert [c["eventName"] for c in history.calls("arn:999")] == ["Op999"]

    by_bytes = CallHistory(tmp_path / "b.jsonl", max_entries=10**6, max_bytes=20_000)
    for n in range(1_000):
        by_bytes.record(_call(f"arn:{n}", n, padding=1_000))
    assert by_bytes.size()[1] <= 20_000
    assert by_bytes.calls("arn:999")


def test_the_file_stays_near_the_bound_and_reloads_as_kept(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    history = CallHistory(path, per_resource=3, max_entries=40)
    for n in range(20_000):
        history.record(_call(f"arn:{n % 100}", n))
    lines = path.read_text().splitlines()
    # Rewritten from memory whenever it holds more than twice the live entries (plus slack).
    assert len(lines) <= 2 * 40 + 1_000 + 1
    again = CallHistory(path, per_resource=3, max_entries=40)
    assert again.size() == history.size()
    for n in range(100):
        assert again.calls(f"arn:{n}") == history.calls(f"arn:{n}")


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    history = CallHistory(path)
    history.record(_call("arn:a", 1))
    with path.open("a") as journal:
        journal.write('{"resource": "arn:a", "event": {"eventNa')
    assert [c["eventName"] for c in CallHistory(path).calls("arn:a")] == ["Op1"]


def test_reads_are_not_events_and_sensitive_members_are_hidden() -> None:
    assert sagemaker_event("DescribeModel", {"ModelName": "m"}, "us-east-1", "r") is None
    assert sagemaker_event("ListModels", {}, "us-east-1", "r") is None
    stop = sagemaker_event(
        "StopHyperParameterTuningJob", {"HyperParameterTuningJobName": "Tune-1"}, "eu-west-1", "r"
    )
    assert stop is not None
    assert stop.resource == (
        "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/tune-1"
    )
    endpoint = sagemaker_event(
        "CreateEndpoint", {"EndpointName": "e", "EndpointConfigName": "c"}, "us-east-1", "r"
    )
    assert endpoint is not None and endpoint.resource.endswith(":endpoint/e")

    headers = {
        "x-amz-server-side-encryption-customer-key": "a-secret-key",
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKID/...",
        "content-type": "text/plain",
    }
    put = call_events.s3_event(
        "PUT", "/b/k", "X-Amz-Signature=abc", headers, lambda: b"the body", "us-east-1", "r"
    )
    assert put is not None and put.event["eventName"] == "PutObject"
    asked = put.event["requestParameters"]
    assert asked["SSECustomerKey"] == HIDDEN
    assert asked["SSECustomerAlgorithm"] == "AES256"
    assert "the body" not in str(asked) and "AKID" not in str(asked) and "abc" not in str(asked)


def test_s3_operations_are_matched_from_the_model_s_bindings() -> None:
    assert s3_operation("PUT", False, {}, {}) == "CreateBucket"
    assert s3_operation("PUT", True, {}, {}) == "PutObject"
    assert s3_operation("PUT", True, {}, {"x-amz-copy-source": "b/k"}) == "CopyObject"
    parts = {"partNumber": ["1"], "uploadId": ["u"]}
    assert s3_operation("PUT", True, parts, {}) == "UploadPart"
    assert s3_operation("POST", True, {"uploads": [""]}, {}) == "CreateMultipartUpload"
    assert s3_operation("PUT", False, {"lifecycle": [""]}, {}) == "PutBucketLifecycleConfiguration"
    assert s3_operation("DELETE", True, {}, {}) == "DeleteObject"
    assert s3_operation("POST", False, {"delete": [""]}, {}) == "DeleteObjects"
