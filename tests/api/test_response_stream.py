"""InvokeEndpointWithResponseStream through boto3: a container that streams (the BYO test image,
Docker) has its parts relayed as PayloadPart events; a stream cut short ends with a
ModelStreamError event; the built-in algorithms, which do not stream, are refused with a
ValidationError on both runtimes. The built-in endpoint also answers sdk.recordio's
RecordSerializer/RecordDeserializer (docs/recordio.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError, EventStreamError

from sdk.recordio import RecordDeserializer, RecordSerializer
from tests.api.conftest import ROLE, Aws, Trained, deploy, unique, wait_endpoint


@pytest.fixture(scope="module")
def kmeans_endpoint(aws: Aws, kmeans_trained: Trained) -> Iterator[str]:
    name = deploy(aws, kmeans_trained.model_data, "kmeans")
    yield name
    aws.sm.delete_endpoint(EndpointName=name)


def test_builtin_algorithm_does_not_stream(aws: Aws, kmeans_endpoint: str) -> None:
    with pytest.raises(ClientError) as raised:
        aws.rt.invoke_endpoint_with_response_stream(
            EndpointName=kmeans_endpoint, Body=b"1,2,3,4\n", ContentType="text/csv"
        )
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "does not support response streaming" in error["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The endpoint still answers InvokeEndpoint: the refusal left its instance in rotation.
    answer = aws.rt.invoke_endpoint(
        EndpointName=kmeans_endpoint, Body=b"1,2,3,4\n", ContentType="text/csv"
    )
    assert answer["Body"].read()


def test_unknown_endpoint_is_a_validation_error(aws: Aws) -> None:
    with pytest.raises(ClientError) as raised:
        aws.rt.invoke_endpoint_with_response_stream(EndpointName="no-such-endpoint", Body=b"x")
    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_record_serializer_pair_against_a_builtin_endpoint(
    aws: Aws, kmeans_endpoint: str, kmeans_trained: Trained
) -> None:
    serializer, deserializer = RecordSerializer(), RecordDeserializer()
    rows = kmeans_trained.data[:5].astype(np.float32)
    answer = aws.rt.invoke_endpoint(
        EndpointName=kmeans_endpoint,
        Body=serializer.serialize(rows),
        ContentType=serializer.CONTENT_TYPE,
        Accept=deserializer.ACCEPT[0],
    )
    assert answer["ContentType"] == "application/x-recordio-protobuf"
    records = deserializer.deserialize(answer["Body"], answer["ContentType"])
    assert len(records) == 5
    clusters = [r.label["closest_cluster"].float32_tensor.values[0] for r in records]
    assert all(0 <= c < 3 for c in clusters)


# --- a container that streams (bring-your-own image: Docker only) ----------------------------


@pytest.fixture(scope="module")
def streaming_endpoint(aws: Aws) -> Iterator[str]:
    if aws.runtime != "docker":
        pytest.fail("bring-your-own images run on the Docker runtime only")
    from tests.docker.engine import build_byo_image

    image = build_byo_image()
    name = unique("byo-stream")
    aws.sm.create_model(ModelName=name, PrimaryContainer={"Image": image}, ExecutionRoleArn=ROLE)
    aws.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "Streamer",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    description = wait_endpoint(aws, name)
    assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    yield name
    aws.sm.delete_endpoint(EndpointName=name)


def _parts(response: dict[str, Any]) -> list[bytes]:
    return [event["PayloadPart"]["Bytes"] for event in response["Body"]]


@pytest.mark.runtime_only("docker")
def test_byo_container_streams_payload_parts(aws: Aws, streaming_endpoint: str) -> None:
    response = aws.rt.invoke_endpoint_with_response_stream(
        EndpointName=streaming_endpoint,
        Body=b"alpha beta gamma",
        ContentType="text/plain",
        Accept="application/x-words",
        CustomAttributes="trace=7",
    )
    assert response["InvokedProductionVariant"] == "Streamer"
    assert response["ContentType"] == "application/x-words"
    assert response["CustomAttributes"] == "seen=trace=7"
    parts = _parts(response)
    assert b"".join(parts) == b"alpha\nbeta\ngamma\n"
    assert len(parts) >= 1


@pytest.mark.runtime_only("docker")
def test_a_stream_cut_short_ends_with_model_stream_error(aws: Aws, streaming_endpoint: str) -> None:
    response = aws.rt.invoke_endpoint_with_response_stream(
        EndpointName=streaming_endpoint, Body=b"first break never"
    )
    received: list[bytes] = []
    with pytest.raises(EventStreamError) as raised:
        for event in response["Body"]:
            received.append(event["PayloadPart"]["Bytes"])
    assert b"".join(received) == b"first\n"
    assert raised.value.response["Error"]["Code"] == "ModelStreamError"
    # The endpoint serves the next request.
    again = aws.rt.invoke_endpoint_with_response_stream(
        EndpointName=streaming_endpoint, Body=b"again"
    )
    assert b"".join(_parts(again)) == b"again\n"
