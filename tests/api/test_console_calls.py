"""The console's item pages show the calls that made and changed each resource (its call
history), from boto3 calls against a real server, on each runtime: the Create call with its
request as received, later changes (AddTags, PutObjectTagging, PutRetentionPolicy...), and
never a secret, a signature or an object's body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from sdk.launcher import start_emulator
from tests.api.conftest import ROLE, Aws, Trained, make_aws, unique

UI = "/_emulator/ui"


def _get(aws: Aws, path: str, **params: Any) -> Any:
    response = httpx.get(aws.url + UI + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _page(aws: Aws, path: str, **params: Any) -> str:
    response = httpx.get(aws.url + UI + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def _no_secret(text: str) -> None:
    # boto3 signs with access key "testing": neither it nor any signature part is kept.
    for secret in ("Signature=", "Credential=", "AWS4-HMAC-SHA256", "testing"):
        assert secret not in text, secret


def test_a_model_shows_its_create_call_and_its_tags_call(aws: Aws) -> None:
    name = unique("calls-model")
    container = {
        "Image": image_uri("kmeans", aws.region),
        "Environment": {"MODE": "calls"},
    }
    created = aws.sm.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=ROLE)
    tagged = aws.sm.add_tags(ResourceArn=created["ModelArn"], Tags=[{"Key": "k", "Value": "v"}])
    aws.sm.delete_tags(ResourceArn=created["ModelArn"], TagKeys=["k"])

    calls = _get(aws, f"/api/models/{name}")["calls"]
    assert [c["eventName"] for c in calls] == ["CreateModel", "AddTags", "DeleteTags"]
    create, tags, untagged = calls
    assert untagged["requestParameters"]["TagKeys"] == ["k"]
    assert create["requestParameters"] == {
        "ModelName": name,
        "PrimaryContainer": container,
        "ExecutionRoleArn": ROLE,
    }
    assert create["requestID"] == created["ResponseMetadata"]["RequestId"]
    assert create["awsRegion"] == aws.region
    assert create["eventSource"] == "sagemaker.amazonaws.com"
    assert create["resources"] == [{"ARN": created["ModelArn"]}]
    assert tags["requestID"] == tagged["ResponseMetadata"]["RequestId"]
    assert tags["requestParameters"]["Tags"] == [{"Key": "k", "Value": "v"}]

    page = _page(aws, f"/models/{name}")
    assert 'id="calls"' in page
    for operation in ("CreateModel", "AddTags", "DeleteTags"):
        assert f'data-operation="{operation}"' in page
    assert created["ResponseMetadata"]["RequestId"] in page
    _no_secret(page)


def test_reads_and_failed_calls_are_not_kept(aws: Aws) -> None:
    name = unique("calls-config")
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image_uri("kmeans", aws.region)},
        ExecutionRoleArn=ROLE,
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    aws.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    aws.sm.describe_endpoint_config(EndpointConfigName=name)
    aws.sm.list_endpoint_configs(NameContains=name)
    with pytest.raises(ClientError):  # a name taken: refused, so not a change
        aws.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    calls = _get(aws, f"/api/endpoint-configs/{name}")["calls"]
    assert [c["eventName"] for c in calls] == ["CreateEndpointConfig"]
    assert calls[0]["requestParameters"]["ProductionVariants"] == [variant]


def test_a_training_job_shows_its_create_call(aws: Aws, kmeans_trained: Trained) -> None:
    described = aws.sm.describe_training_job(TrainingJobName=kmeans_trained.job)
    calls = _get(aws, f"/api/training-jobs/{kmeans_trained.job}")["calls"]
    assert calls[0]["eventName"] == "CreateTrainingJob"
    asked = calls[0]["requestParameters"]
    assert asked["TrainingJobName"] == kmeans_trained.job
    assert asked["HyperParameters"] == described["HyperParameters"]
    assert (
        asked["AlgorithmSpecification"]["TrainingImage"]
        == (described["AlgorithmSpecification"]["TrainingImage"])
    )
    assert calls[0]["resources"] == [{"ARN": described["TrainingJobArn"]}]


def test_s3_calls_are_kept_without_the_object_s_body(aws: Aws) -> None:
    key = f"calls/{unique('object')}.csv"
    body = b"a body that is never kept 3c1f9e\n"
    put = aws.s3.put_object(
        Bucket=aws.bucket,
        Key=key,
        Body=body,
        ContentType="text/csv",
        Metadata={"purpose": "calls-test"},
    )
    aws.s3.put_object_tagging(
        Bucket=aws.bucket, Key=key, Tagging={"TagSet": [{"Key": "team", "Value": "ml"}]}
    )

    shown = _get(aws, f"/api/s3/{aws.bucket}/object", key=key)
    assert shown["Size"] == len(body)
    names = [c["eventName"] for c in shown["calls"]]
    assert names == ["PutObject", "PutObjectTagging"]
    put_call = shown["calls"][0]
    assert put_call["eventSource"] == "s3.amazonaws.com"
    assert put_call["requestParameters"]["Bucket"] == aws.bucket
    assert put_call["requestParameters"]["Key"] == key
    assert put_call["requestParameters"]["ContentType"] == "text/csv"
    assert put_call["requestParameters"]["Metadata"] == {"purpose": "calls-test"}
    assert put_call["requestID"] == put["ResponseMetadata"]["RequestId"]
    assert "team" in shown["calls"][1]["requestParameters"]["Tagging"]
    text = json.dumps(shown)
    assert "3c1f9e" not in text
    _no_secret(text)

    bucket_calls = _get(aws, f"/api/s3/{aws.bucket}")["calls"]
    assert bucket_calls[0]["eventName"] == "CreateBucket"

    page = _page(aws, f"/s3/{aws.bucket}/object", key=key)
    assert 'data-operation="PutObject"' in page and "calls-test" in page
    assert "3c1f9e" not in page
    _no_secret(page)
    assert 'data-operation="CreateBucket"' in _page(aws, f"/s3/{aws.bucket}")


def test_a_log_group_shows_its_calls_but_not_its_events(aws: Aws) -> None:
    group = f"/calls/{unique('group')}"
    aws.logs.create_log_group(logGroupName=group, tags={"team": "ml"})
    aws.logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    aws.logs.create_log_stream(logGroupName=group, logStreamName="s")
    aws.logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": 1_700_000_000_000, "message": "an event 77ab"}],
    )
    calls = _get(aws, "/api/logs/streams", group=group)["calls"]
    assert [c["eventName"] for c in calls] == [
        "CreateLogGroup",
        "PutRetentionPolicy",
        "CreateLogStream",
    ]
    assert calls[0]["requestParameters"] == {"logGroupName": group, "tags": {"team": "ml"}}
    assert calls[1]["requestParameters"]["retentionInDays"] == 7
    page = _page(aws, "/logs/group", group=group)
    assert 'data-operation="PutRetentionPolicy"' in page and "77ab" not in page


def test_the_calls_survive_a_restart(tmp_path: Path, runtime_name: str) -> None:
    data = tmp_path / "data"
    with start_emulator(data, runtime_name) as first:
        aws = make_aws(first, runtime_name)
        name = unique("calls-kept")
        aws.sm.create_model(
            ModelName=name,
            PrimaryContainer={"Image": image_uri("pca", aws.region)},
            ExecutionRoleArn=ROLE,
        )
    with start_emulator(data, runtime_name) as second:
        again = make_aws(second, runtime_name, bucket=aws.bucket)
        calls = _get(again, f"/api/models/{name}")["calls"]
        assert [c["eventName"] for c in calls] == ["CreateModel"]
        assert calls[0]["requestParameters"]["ModelName"] == name
