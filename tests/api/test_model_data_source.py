"""CreateModel with ModelDataSource.S3DataSource through boto3: each form is staged into
/opt/ml/model and serves; the forms and combinations AWS refuses are refused."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from tests.api.conftest import REGION, ROLE, Aws, Trained, unique, wait_endpoint


def _source(uri: str, data_type: str, compression: str) -> dict[str, Any]:
    return {"S3DataSource": {"S3Uri": uri, "S3DataType": data_type, "CompressionType": compression}}


def _create_model(aws: Aws, name: str, source: dict[str, Any], **container: Any) -> None:
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image_uri("pca", REGION),
            "ModelDataSource": source,
            **container,
        },
        ExecutionRoleArn=ROLE,
    )


def _create_endpoint(aws: Aws, name: str) -> dict[str, Any]:
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
    return wait_endpoint(aws, name)


def _model_algo(aws: Aws, model_data: str) -> bytes:
    bucket, _, key = model_data.removeprefix("s3://").partition("/")
    body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = tar.extractfile("model_algo-1")
        assert member is not None
        return member.read()


def _assert_serves(aws: Aws, name: str, rows: np.ndarray) -> None:
    body = "\n".join(",".join(repr(float(x)) for x in row) for row in rows).encode()
    response = aws.rt.invoke_endpoint(
        EndpointName=name, Body=body, ContentType="text/csv", Accept="application/json"
    )
    projections = json.loads(response["Body"].read())["projections"]
    assert len(projections) == len(rows)
    assert len(projections[0]["projection"]) == 3


def _deploy_and_invoke(aws: Aws, pca_trained: Trained, form: str) -> None:
    name = unique(f"mds-{form.lower()}")
    if form == "ObjectGzip":
        _create_model(aws, name, _source(pca_trained.model_data, "S3Object", "Gzip"))
    else:
        weights = _model_algo(aws, pca_trained.model_data)
        prefix = f"uncompressed/{name}/"
        aws.s3.put_object(Bucket=aws.bucket, Key=prefix + "model_algo-1", Body=weights)
        if form == "ObjectNone":
            uri = f"s3://{aws.bucket}/{prefix}model_algo-1"
            _create_model(aws, name, _source(uri, "S3Object", "None"))
        else:
            # Nested keys become folders under /opt/ml/model.
            aws.s3.put_object(Bucket=aws.bucket, Key=prefix + "extra/notes.txt", Body=b"x")
            _create_model(aws, name, _source(f"s3://{aws.bucket}/{prefix}", "S3Prefix", "None"))
    description = _create_endpoint(aws, name)
    assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    assert aws.sm.describe_model(ModelName=name)["PrimaryContainer"]["ModelDataSource"]
    _assert_serves(aws, name, pca_trained.data[:5])
    aws.sm.delete_endpoint(EndpointName=name)


@pytest.mark.parametrize("form", ["ObjectGzip", "ObjectNone", "PrefixNone"])
def test_each_model_data_source_form_is_staged_and_serves(
    aws: Aws, pca_trained: Trained, form: str
) -> None:
    _deploy_and_invoke(aws, pca_trained, form)


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        (["model_algo-1", "sub/"], "0-byte folder object"),
        (["weights", "weights/part1"], "names clash"),
        (["a//model_algo-1"], "empty or blank"),
        (["a/ /model_algo-1"], "empty or blank"),
        (["x" * 256], "longer than 255 bytes"),
    ],
)
def test_an_s3_prefix_with_a_forbidden_layout_fails_the_deployment(
    aws: Aws, keys: list[str], reason: str
) -> None:
    name = unique("mds-bad")
    prefix = f"bad/{name}/"
    for key in keys:
        body = b"" if key.endswith("/") else b"data"
        aws.s3.put_object(Bucket=aws.bucket, Key=prefix + key, Body=body)
    _create_model(aws, name, _source(f"s3://{aws.bucket}/{prefix}", "S3Prefix", "None"))
    description = _create_endpoint(aws, name)
    assert description["EndpointStatus"] == "Failed"
    assert reason in description["FailureReason"], description["FailureReason"]
    aws.sm.delete_endpoint(EndpointName=name)


def _refused(exc: pytest.ExceptionInfo[ClientError]) -> str:
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    message: str = exc.value.response["Error"]["Message"]
    return message


def test_combinations_aws_refuses_are_refused_at_create_model(
    aws: Aws, pca_trained: Trained
) -> None:
    with pytest.raises(ClientError) as both:
        _create_model(
            aws,
            unique("mds-both"),
            _source(pca_trained.model_data, "S3Object", "Gzip"),
            ModelDataUrl=pca_trained.model_data,
        )
    assert "one and only one" in _refused(both)
    with pytest.raises(ClientError) as prefix_gzip:
        _create_model(
            aws, unique("mds-pg"), _source(f"s3://{aws.bucket}/uncompressed/", "S3Prefix", "Gzip")
        )
    assert "S3Prefix" in _refused(prefix_gzip)
    with pytest.raises(ClientError) as missing:
        _create_model(
            aws,
            unique("mds-missing"),
            _source(f"s3://{aws.bucket}/nope.tar.gz", "S3Object", "Gzip"),
        )
    assert "Could not find model data" in _refused(missing)


def test_batch_transform_refuses_a_model_with_model_data_source(
    aws: Aws, pca_trained: Trained
) -> None:
    name = unique("mds-batch")
    _create_model(aws, name, _source(pca_trained.model_data, "S3Object", "Gzip"))
    with pytest.raises(ClientError) as caught:
        aws.sm.create_transform_job(
            TransformJobName=name,
            ModelName=name,
            TransformInput={
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{aws.bucket}/in/"}
                },
                "ContentType": "text/csv",
            },
            TransformOutput={"S3OutputPath": f"s3://{aws.bucket}/out/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
    assert _refused(caught) == (
        "SageMaker Batch currently doesn't support Model entity with container definitions "
        "which use ModelDataSource attribute"
    )


def test_a_serverless_endpoint_refuses_a_model_with_model_data_source(
    aws: Aws, pca_trained: Trained
) -> None:
    name = unique("mds-sls")
    _create_model(aws, name, _source(pca_trained.model_data, "S3Object", "Gzip"))
    aws.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    with pytest.raises(ClientError) as caught:
        aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert "serverless" in _refused(caught)
