"""Bring-your-own images through boto3 (Docker runtime): the image runs as-is under the contract.

The process runtime runs only the built-ins (test_training.py checks its clear failure); these
scenarios run on the Docker runtime with the test image of tests/docker/byo.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from typing import Any

import pytest

from tests.api.conftest import (
    ROLE,
    Aws,
    channel,
    create_job,
    unique,
    wait_endpoint,
    wait_job,
)
from tests.api.test_async_inference import wait_object

# Bring-your-own images need the Docker runtime (the process runtime: see test_training.py).
pytestmark = pytest.mark.runtime_only("docker")


@pytest.fixture(scope="module")
def byo(aws: Aws) -> str:
    from tests.docker.engine import build_byo_image

    return build_byo_image()


def _input(aws: Aws) -> str:
    prefix = f"byo/{unique('in')}"
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}/a.csv", Body=b"1,2\n")
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}/deep/b.csv", Body=b"3,4\n")
    return f"s3://{aws.bucket}/{prefix}/"


def test_byo_train_then_serve(aws: Aws, byo: str) -> None:
    name = unique("byo-ok")
    create_job(
        aws,
        name,
        "",
        [channel(_input(aws))],
        {"behaviour": "ok", "lr": "0.1"},
        image=byo,
        AlgorithmSpecification={"MetricDefinitions": [{"Name": "lines", "Regex": r"line (\d+)"}]},
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert d["AlgorithmSpecification"]["TrainingImage"] == byo
    assert [m["Value"] for m in d["FinalMetricDataList"] if m["MetricName"] == "lines"] == [2.0]
    uri = d["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, _, key = uri[len("s3://") :].partition("/")
    body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        names = set(tar.getnames())
        model = json.load(tar.extractfile("model.json"))  # type: ignore[arg-type]
    assert {"model.json", "sub/weights.bin"} <= names
    assert model["hyperparameters"] == {"behaviour": "ok", "lr": "0.1"}
    assert model["channels"] == {"train": ["a.csv", "deep"]}

    aws.sm.create_model(
        ModelName=name, PrimaryContainer={"Image": byo, "ModelDataUrl": uri}, ExecutionRoleArn=ROLE
    )
    aws.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_endpoint(aws, name)["EndpointStatus"] == "InService"
    response = aws.rt.invoke_endpoint(
        EndpointName=name,
        Body=b"\x00hello",
        ContentType="x/y",
        Accept="application/x-thing",
        CustomAttributes="trace=42",
    )
    answer = json.loads(response["Body"].read())
    assert answer["echo"] == "\x00hello"
    assert answer["model"]["hyperparameters"]["lr"] == "0.1"
    # The supported headers reach the container untouched; the signature headers do not.
    headers = answer["headers"]
    assert headers["content-type"] == "x/y"
    assert headers["accept"] == "application/x-thing"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "trace=42"
    assert not {"authorization", "x-amz-date", "x-amz-content-sha256"} & set(headers)
    # The container's custom attributes come back to the caller.
    assert response["CustomAttributes"] == "seen=trace=42"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    aws.sm.delete_endpoint(EndpointName=name)


def test_byo_failure_file_is_the_reason(aws: Aws, byo: str) -> None:
    name = unique("byo-fail")
    create_job(aws, name, "", [channel(_input(aws))], {"behaviour": "fail"}, image=byo)
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"] == "ClientError: the byo container refused its input"


def _log_messages(aws: Aws, job: str) -> list[str]:
    """The job's CloudWatch log lines so far (none before its stream exists)."""
    streams = aws.logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job + "/"
    )["logStreams"]
    if not streams:
        return []
    events = aws.logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    return [str(e["message"]) for e in events]


def test_byo_stop_sends_sigterm(aws: Aws, byo: str) -> None:
    name = unique("byo-sleep")
    create_job(aws, name, "", [channel(_input(aws))], {"behaviour": "sleep"}, image=byo)
    # The container prints "sleeping" once its SIGTERM handler is in place: stop only then.
    deadline = time.monotonic() + 120
    while "sleeping" not in _log_messages(aws, name):
        assert time.monotonic() < deadline, "the container never reached its sleep"
        time.sleep(0.1)
    aws.sm.stop_training_job(TrainingJobName=name)
    d = wait_job(aws, name, timeout=60)
    assert d["TrainingJobStatus"] == "Stopped"
    assert _log_messages(aws, name)[-1] == "terminated"


def test_byo_environment_reaches_the_container(aws: Aws, byo: str) -> None:
    # What the process runtime refuses (the loader's and the interpreter's variables) runs in a
    # container as on AWS: the container's own, not the emulator's, loader reads them.
    environment = {
        "LD_LIBRARY_PATH": "/opt/ml/input/data/train",
        "LD_PRELOAD": "",
        "PYTHONHASHSEED": "7",
        "GCONV_PATH": "/opt/ml/gconv",
        "OMP_NUM_THREADS": "1",
    }
    name = unique("byo-env")
    create_job(
        aws,
        name,
        "",
        [channel(_input(aws))],
        {"behaviour": "env"},
        image=byo,
        Environment=environment,
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    lines = set(_log_messages(aws, name))
    for variable, value in environment.items():
        assert f"env {variable}={value}" in lines
    # The contract variables are there too; nothing of the process runtime's leaks.
    assert f"env TRAINING_JOB_NAME={name}" in lines
    assert not any(line.startswith("env SAGEMAKER_BASE_DIR=") for line in lines)


def test_byo_exit_code_without_failure_file(aws: Aws, byo: str) -> None:
    name = unique("byo-exit")
    create_job(aws, name, "", [channel(_input(aws))], {"behaviour": "no-such"}, image=byo)
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Failed"
    assert d["FailureReason"].startswith(
        "AlgorithmError: the training container exited with code 2"
    )
    assert "unknown behaviour no-such" in d["FailureReason"]


def _model_member(aws: Aws, description: dict[str, Any], member: str) -> Any:
    uri = description["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, _, key = uri[len("s3://") :].partition("/")
    body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return json.load(tar.extractfile(member))  # type: ignore[arg-type]


def test_byo_reads_a_fifo_per_epoch_in_pipe_mode(aws: Aws, byo: str) -> None:
    name = unique("byo-pipe")
    create_job(
        aws,
        name,
        "",
        [channel(_input(aws))],
        {"behaviour": "pipe"},
        image=byo,
        AlgorithmSpecification={"TrainingInputMode": "Pipe"},
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    # Both epochs stream every object of the channel, in key order, through a FIFO.
    passes = _model_member(aws, d, "pipe.json")
    assert passes == [{"fifo": True, "text": "1,2\n3,4\n"}] * 2


def test_byo_channels_are_read_only(aws: Aws, byo: str) -> None:
    name = unique("byo-ro")
    create_job(aws, name, "", [channel(_input(aws))], {"behaviour": "readonly"}, image=byo)
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert _model_member(aws, d, "readonly.json") == {
        "input/data/train/new.csv": "EROFS",
        "input/data/new.csv": "EROFS",
    }


def _byo_async_endpoint(aws: Aws, byo: str, name: str) -> None:
    """An asynchronous endpoint of the BYO image, one request at a time per instance."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        model = json.dumps({"hyperparameters": {}}).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(model)
        tar.addfile(info, io.BytesIO(model))
    key = f"byo/{name}/model.tar.gz"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=archive.getvalue())
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": byo, "ModelDataUrl": f"s3://{aws.bucket}/{key}"},
        ExecutionRoleArn=ROLE,
    )
    aws.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        AsyncInferenceConfig={
            "OutputConfig": {
                "S3OutputPath": f"s3://{aws.bucket}/byo-async/{name}/out",
                "S3FailurePath": f"s3://{aws.bucket}/byo-async/{name}/failed",
            },
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 1},
        },
    )
    aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_endpoint(aws, name)["EndpointStatus"] == "InService"


def _object_text(aws: Aws, uri: str, timeout: float) -> str:
    body: bytes = wait_object(aws, uri, timeout)["Body"].read()
    return body.decode()


def test_async_invocation_timeout_and_request_ttl_write_their_failures(aws: Aws, byo: str) -> None:
    name = unique("byo-async")
    _byo_async_endpoint(aws, byo, name)
    # A model that does not answer within InvocationTimeoutSeconds: the failure is written.
    hung = aws.rt.invoke_endpoint_async(
        EndpointName=name,
        InputLocation=_upload(aws, name, "hang-1"),
        InvocationTimeoutSeconds=1,
    )
    failure = _object_text(aws, hung["FailureLocation"], timeout=60)
    assert "timed out" in failure, failure
    # One request at a time: a second request queued behind a hung one waits longer than its
    # RequestTTLSeconds (60, the least AWS allows) and expires without reaching the model.
    blocking = aws.rt.invoke_endpoint_async(
        EndpointName=name,
        InputLocation=_upload(aws, name, "hang-2"),
        InvocationTimeoutSeconds=600,
    )
    queued = aws.rt.invoke_endpoint_async(
        EndpointName=name,
        InputLocation=_upload(aws, name, "served"),
        RequestTTLSeconds=60,
    )
    failure = _object_text(aws, queued["FailureLocation"], timeout=180)
    assert "RequestTTLSeconds" in failure, failure
    listed = aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix=f"byo-async/{name}/out")
    assert not listed.get("Contents"), "an expired request reached the model"
    aws.sm.delete_endpoint(EndpointName=name)
    # The request the model held fails once its endpoint is gone, never silently vanishes.
    assert _object_text(aws, blocking["FailureLocation"], timeout=120)


def _upload(aws: Aws, name: str, what: str) -> str:
    body = b"hang" if what.startswith("hang") else b"hello"
    key = f"byo-async/{name}/in/{what}"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=body, ContentType="application/octet-stream")
    return f"s3://{aws.bucket}/{key}"
