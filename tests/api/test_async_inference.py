"""Asynchronous inference through boto3: InvokeEndpointAsync queues, the endpoint's container
answers into S3, SNS topics (read through a subscribed SQS queue) get the notifications, and a
queue survives a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from sdk.launcher import start_emulator
from sdk.session import boto_session
from tests.api.conftest import (
    REGION,
    ROLE,
    Aws,
    Trained,
    csv_bytes,
    deploy,
    low_rank,
    make_aws,
    unique,
    wait_endpoint,
)


class Topic:
    """An SNS topic with an SQS queue subscribed to it (raw delivery off: SNS envelopes)."""

    def __init__(self, aws: Aws, name: str) -> None:
        session = boto_session(aws.url, REGION)
        self.sns = session.client("sns")
        self.sqs = session.client("sqs")
        self.arn: str = self.sns.create_topic(Name=name)["TopicArn"]
        self.queue_url: str = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.arn, Protocol="sqs", Endpoint=queue_arn)

    def notification(self, inference_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                payload: dict[str, Any] = json.loads(json.loads(message["Body"])["Message"])
                if payload["inferenceId"] == inference_id:
                    return payload
        raise AssertionError(f"no notification for {inference_id}")


def _async_config(aws: Aws, name: str, **notification: str) -> dict[str, Any]:
    output: dict[str, Any] = {
        "S3OutputPath": f"s3://{aws.bucket}/async-out/{name}",
        "S3FailurePath": f"s3://{aws.bucket}/async-failures/{name}/",
    }
    if notification:
        output["NotificationConfig"] = notification
    return {"OutputConfig": output, "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2}}


def deploy_async(aws: Aws, model_data: str, algorithm: str, config: dict[str, Any]) -> str:
    name = unique(f"async-{algorithm}")
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image_uri(algorithm, REGION), "ModelDataUrl": model_data},
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
        AsyncInferenceConfig=config,
    )
    aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    description = wait_endpoint(aws, name)
    assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    return name


def wait_object(aws: Aws, uri: str, timeout: float = 60.0) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    deadline = time.monotonic() + timeout
    while True:
        try:
            found: dict[str, Any] = aws.s3.get_object(Bucket=bucket, Key=key)
            return found
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchKey" or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _absent(aws: Aws, uri: str) -> bool:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    listed = aws.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
    return not listed


@pytest.fixture(scope="module")
def topics(aws: Aws) -> tuple[Topic, Topic]:
    return Topic(aws, unique("async-ok")), Topic(aws, unique("async-error"))


@pytest.fixture(scope="module")
def pca_async(aws: Aws, pca_trained: Trained, topics: tuple[Topic, Topic]) -> str:
    success, error = topics
    config = _async_config(aws, "pca", SuccessTopic=success.arn, ErrorTopic=error.arn)
    return deploy_async(aws, pca_trained.model_data, "pca", config)


def test_input_location_is_processed_into_the_output_and_notified(
    aws: Aws, pca_async: str, pca_trained: Trained, topics: tuple[Topic, Topic]
) -> None:
    key = f"async-in/{unique('rows')}.csv"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=csv_bytes(pca_trained.data[:7]))
    response = aws.rt.invoke_endpoint_async(
        EndpointName=pca_async,
        InputLocation=f"s3://{aws.bucket}/{key}",
        ContentType="text/csv",
        Accept="application/json",
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    inference_id = response["InferenceId"]
    assert response["OutputLocation"] == f"s3://{aws.bucket}/async-out/pca/{inference_id}.out"
    assert response["FailureLocation"] == (
        f"s3://{aws.bucket}/async-failures/pca/{inference_id}-error.out"
    )
    output = wait_object(aws, response["OutputLocation"])
    assert output["ContentType"] == "application/json"
    assert len(json.loads(output["Body"].read())["projections"]) == 7
    assert _absent(aws, response["FailureLocation"])
    payload = topics[0].notification(inference_id)
    assert payload["invocationStatus"] == "Completed"
    assert payload["eventSource"] == "aws:sagemaker"
    assert payload["responseParameters"]["outputLocation"] == response["OutputLocation"]
    assert payload["requestParameters"]["inputLocation"] == f"s3://{aws.bucket}/{key}"


def test_inline_body_and_an_inference_id_of_ones_own(
    aws: Aws, pca_async: str, pca_trained: Trained
) -> None:
    response = aws.rt.invoke_endpoint_async(
        EndpointName=pca_async,
        Body=csv_bytes(pca_trained.data[:3]),
        ContentType="text/csv",
        Accept="application/json",
        InferenceId="my-id-1",
        S3OutputPathExtension="run-1",
    )
    assert response["InferenceId"] == "my-id-1"
    assert response["OutputLocation"] == f"s3://{aws.bucket}/async-out/pca/run-1/my-id-1.out"
    body = wait_object(aws, response["OutputLocation"])["Body"].read()
    assert len(json.loads(body)["projections"]) == 3


def test_a_failing_request_writes_the_failure_and_notifies_the_error_topic(
    aws: Aws, pca_async: str, topics: tuple[Topic, Topic]
) -> None:
    bad = aws.rt.invoke_endpoint_async(
        EndpointName=pca_async, Body=b"not,numbers\n", ContentType="text/csv"
    )
    failure = wait_object(aws, bad["FailureLocation"])["Body"].read().decode()
    assert "primary" in failure, failure
    assert _absent(aws, bad["OutputLocation"])
    payload = topics[1].notification(bad["InferenceId"])
    assert payload["invocationStatus"] == "Failed"
    assert payload["responseParameters"]["failureLocation"] == bad["FailureLocation"]

    missing = aws.rt.invoke_endpoint_async(
        EndpointName=pca_async, InputLocation=f"s3://{aws.bucket}/async-in/nothing-here.csv"
    )
    failure = wait_object(aws, missing["FailureLocation"])["Body"].read().decode()
    assert "nothing-here.csv" in failure


def _validation_error(exc: pytest.ExceptionInfo[ClientError]) -> str:
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    message: str = exc.value.response["Error"]["Message"]
    return message


def test_each_kind_of_endpoint_refuses_the_other_kind_of_invocation(
    aws: Aws, pca_async: str, pca_trained: Trained
) -> None:
    with pytest.raises(ClientError) as sync_call:
        aws.rt.invoke_endpoint(EndpointName=pca_async, Body=b"1,2", ContentType="text/csv")
    assert "can only receive asynchronous invocations" in _validation_error(sync_call)

    realtime = deploy(aws, pca_trained.model_data, "pca")
    with pytest.raises(ClientError) as async_call:
        aws.rt.invoke_endpoint_async(EndpointName=realtime, Body=b"1,2")
    assert "not an asynchronous inference endpoint" in _validation_error(async_call)

    with pytest.raises(ClientError) as both:
        aws.rt.invoke_endpoint_async(
            EndpointName=pca_async, Body=b"1,2", InputLocation=f"s3://{aws.bucket}/x"
        )
    assert "mutually exclusive" in _validation_error(both)
    with pytest.raises(ClientError) as missing:
        aws.rt.invoke_endpoint_async(EndpointName="no-such-endpoint", Body=b"1")
    assert "not found" in _validation_error(missing)


def test_a_nonexistent_topic_is_a_notification_failure_not_a_crash(
    aws: Aws, pca_trained: Trained
) -> None:
    ghost = f"arn:aws:sns:{REGION}:123456789012:{unique('ghost')}"
    config = _async_config(aws, "ghost", SuccessTopic=ghost, ErrorTopic=ghost)
    name = deploy_async(aws, pca_trained.model_data, "pca", config)
    response = aws.rt.invoke_endpoint_async(
        EndpointName=name, Body=csv_bytes(pca_trained.data[:2]), ContentType="text/csv"
    )
    wait_object(aws, response["OutputLocation"])
    # The queue still works after the failed notification.
    again = aws.rt.invoke_endpoint_async(
        EndpointName=name, Body=csv_bytes(pca_trained.data[:2]), ContentType="text/csv"
    )
    wait_object(aws, again["OutputLocation"])


def test_queued_requests_survive_a_restart(
    runtime_name: str, tmp_path: Path, pca_trained: Trained, aws: Aws
) -> None:
    data_dir = tmp_path / "data"
    first = start_emulator(data_dir, runtime=runtime_name)
    try:
        mine = make_aws(first, runtime_name)
        # The model of the session's training, copied into this server's S3.
        bucket, _, key = pca_trained.model_data.removeprefix("s3://").partition("/")
        artifact = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        mine.s3.put_object(Bucket=mine.bucket, Key="model.tar.gz", Body=artifact)
        config = _async_config(mine, "restart")
        config["ClientConfig"]["MaxConcurrentInvocationsPerInstance"] = 1
        name = deploy_async(mine, f"s3://{mine.bucket}/model.tar.gz", "pca", config)
        # A large request first, so that the small ones behind it are still queued at the kill.
        big = np.tile(low_rank(n=1000), (300, 1))
        mine.s3.put_object(
            Bucket=mine.bucket, Key="big.csv", Body=csv_bytes(big), ContentType="text/csv"
        )
        locations = [
            mine.rt.invoke_endpoint_async(
                EndpointName=name, InputLocation=f"s3://{mine.bucket}/big.csv"
            )["OutputLocation"]
        ]
        for _ in range(3):
            locations.append(
                mine.rt.invoke_endpoint_async(
                    EndpointName=name, Body=csv_bytes(pca_trained.data[:2]), ContentType="text/csv"
                )["OutputLocation"]
            )
    finally:
        first.kill()
    second = start_emulator(data_dir, runtime=runtime_name)
    try:
        again = make_aws(second, runtime_name, bucket=mine.bucket)
        for location in locations:
            wait_object(again, location, timeout=120)
        assert "queued again after a restart" in second.log_text()
    finally:
        second.stop()
