"""Batch transform through boto3: CreateTransformJob ... StopTransformJob, on both runtimes.

Outputs are read back from S3 and checked against the trained models' math (PCA: (x - mean) v;
k-means: the nearest centroid).
"""

from __future__ import annotations

import gzip
import importlib
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from tests.api.conftest import (
    REGION,
    ROLE,
    Aws,
    Trained,
    csv_bytes,
    load_model,
    unique,
    upload_csv,
)

ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012"


def _model(aws: Aws, algorithm: str, model_data: str) -> str:
    name = unique(f"{algorithm}-tm")
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image_uri(algorithm, REGION), "ModelDataUrl": model_data},
        ExecutionRoleArn=ROLE,
    )
    return name


@pytest.fixture(scope="module")
def pca_model(aws: Aws, pca_trained: Trained) -> str:
    return _model(aws, "pca", pca_trained.model_data)


@pytest.fixture(scope="module")
def kmeans_model(aws: Aws, kmeans_trained: Trained) -> str:
    return _model(aws, "kmeans", kmeans_trained.model_data)


def create_transform(
    aws: Aws,
    name: str,
    model: str,
    source_uri: str,
    *,
    data_type: str = "S3Prefix",
    content_type: str = "text/csv",
    split_type: str = "Line",
    accept: str | None = "application/jsonlines",
    assemble_with: str = "Line",
    compression: str = "None",
    **extra: Any,
) -> str:
    output: dict[str, Any] = {
        "S3OutputPath": f"s3://{aws.bucket}/transform-out/{name}",
        "AssembleWith": assemble_with,
    }
    if accept is not None:
        output["Accept"] = accept
    aws.sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": source_uri}},
            "ContentType": content_type,
            "SplitType": split_type,
            "CompressionType": compression,
        },
        TransformOutput=output,
        TransformResources=extra.pop(
            "TransformResources", {"InstanceType": "ml.m5.large", "InstanceCount": 1}
        ),
        **extra,
    )
    return str(output["S3OutputPath"])


def wait_transform(aws: Aws, name: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = aws.sm.describe_transform_job(TransformJobName=name)
        if description["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"transform job {name} still {description['TransformJobStatus']}")
        time.sleep(0.1)


def read(aws: Aws, uri: str) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    body: bytes = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def _completed(aws: Aws, name: str) -> dict[str, Any]:
    description = wait_transform(aws, name)
    assert description["TransformJobStatus"] == "Completed", description.get("FailureReason")
    return description


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def test_pca_csv_lines_multirecord(
    aws: Aws, pca_trained: Trained, pca_model: str, tmp_path: Path
) -> None:
    model = load_model(aws, pca_trained.model_data, tmp_path)
    rows = pca_trained.data[:120]
    name = unique("PCA-Transform")
    # Two objects, one in a sub folder: the output keeps each one's path below the prefix.
    source = upload_csv(aws, rows, f"transform-in/{name}")
    output = create_transform(
        aws, name, pca_model, source, BatchStrategy="MultiRecord", MaxPayloadInMB=1
    )
    description = _completed(aws, name)
    assert description["TransformJobArn"] == f"{ARN_PREFIX}:transform-job/{name.lower()}"
    assert description["ModelName"] == pca_model
    assert description["BatchStrategy"] == "MultiRecord"
    assert description["MaxPayloadInMB"] == 1
    assert description["TransformStartTime"] <= description["TransformEndTime"]
    assert description["CreationTime"] <= description["TransformStartTime"]
    assert "FailureReason" not in description
    lines = []
    for part in ("part-0.csv.out", "sub/part-1.csv.out"):
        body = read(aws, f"{output}/{part}").decode()
        assert body.endswith("\n")
        lines += [json.loads(line) for line in body.splitlines()]
    got = np.array([line["projection"] for line in lines])
    expected = (rows - model["mean"]) @ model["v"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    streams = aws.logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert len(streams) == 1


def test_pca_single_record_gzip_json(
    aws: Aws, pca_trained: Trained, pca_model: str, tmp_path: Path
) -> None:
    """SingleRecord: one request per line, so one JSON answer per line with AssembleWith Line."""
    model = load_model(aws, pca_trained.model_data, tmp_path)
    rows = pca_trained.data[:9]
    name = unique("pca-single")
    key = f"transform-in/{name}/rows.csv.gz"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=gzip.compress(csv_bytes(rows)))
    output = create_transform(
        aws,
        name,
        pca_model,
        f"s3://{aws.bucket}/{key}",
        accept="application/json",
        compression="Gzip",
        BatchStrategy="SingleRecord",
        MaxConcurrentTransforms=3,
    )
    _completed(aws, name)
    answers = [json.loads(line) for line in read(aws, f"{output}/rows.csv.gz.out").splitlines()]
    assert len(answers) == len(rows)
    assert all(len(answer["projections"]) == 1 for answer in answers)
    got = np.array([answer["projections"][0]["projection"] for answer in answers])
    np.testing.assert_allclose(got, (rows - model["mean"]) @ model["v"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_kmeans_recordio_from_a_manifest(
    aws: Aws, kmeans_trained: Trained, kmeans_model: str, strategy: str, tmp_path: Path
) -> None:
    # The SDK's own RecordIO writer and reader (untyped), independent of the emulator's codec.
    common: Any = importlib.import_module("sagemaker.amazon.common")
    (centroids,) = load_model(aws, kmeans_trained.model_data, tmp_path)
    rows = kmeans_trained.data[:50]
    name = unique("kmeans-rio")
    prefix = f"transform-in/{name}/"
    shards = np.array_split(rows, 2)
    for i, shard in enumerate(shards):
        buffer = io.BytesIO()
        common.write_numpy_to_dense_tensor(buffer, shard)
        aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}shard-{i}.pbr", Body=buffer.getvalue())
    manifest = [{"prefix": f"s3://{aws.bucket}/{prefix}"}, "shard-0.pbr", "shard-1.pbr"]
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}manifest", Body=json.dumps(manifest))
    output = create_transform(
        aws,
        name,
        kmeans_model,
        f"s3://{aws.bucket}/{prefix}manifest",
        data_type="ManifestFile",
        content_type="application/x-recordio-protobuf",
        split_type="RecordIO",
        accept="application/x-recordio-protobuf",
        assemble_with="None",
        BatchStrategy=strategy,
    )
    _completed(aws, name)
    for i, shard in enumerate(shards):
        records = common.read_records(io.BytesIO(read(aws, f"{output}/shard-{i}.pbr.out")))
        got = [int(r.label["closest_cluster"].float32_tensor.values[0]) for r in records]
        distances = np.linalg.norm(shard[:, None, :] - centroids[None], axis=2)
        assert got == distances.argmin(1).tolist()


def test_missing_model_is_a_validation_error(aws: Aws) -> None:
    with pytest.raises(ClientError) as exc:
        create_transform(aws, unique("no-model"), "no-such-model", f"s3://{aws.bucket}/x/")
    code, message = _error(exc)
    assert code == "ValidationException"
    assert "no-such-model" in message


def test_bad_payload_fails_the_job_with_the_containers_answer(aws: Aws, pca_model: str) -> None:
    name = unique("pca-bad")
    key = f"transform-in/{name}/wrong-width.csv"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=b"1,2\n3,4\n")
    create_transform(aws, name, pca_model, f"s3://{aws.bucket}/{key}")
    description = wait_transform(aws, name)
    assert description["TransformJobStatus"] == "Failed"
    reason = description["FailureReason"]
    assert reason.startswith("ClientError: ")
    assert f"s3://{aws.bucket}/{key}" in reason
    assert "HTTP 400" in reason


def test_empty_input_and_unsupported_data_processing_fail(aws: Aws, pca_model: str) -> None:
    empty = unique("pca-empty")
    create_transform(aws, empty, pca_model, f"s3://{aws.bucket}/nothing-here/{empty}/")
    description = wait_transform(aws, empty)
    assert description["TransformJobStatus"] == "Failed"
    assert "No S3 objects found" in description["FailureReason"]

    filtered = unique("pca-filter")
    key = f"transform-in/{filtered}/rows.csv"
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=b"1,2,3,4,5,6\n")
    create_transform(
        aws,
        filtered,
        pca_model,
        f"s3://{aws.bucket}/{key}",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "None"},
    )
    description = wait_transform(aws, filtered)
    assert description["TransformJobStatus"] == "Failed"
    assert description["DataProcessing"]["InputFilter"] == "$[1:]"
    assert "DataProcessing.InputFilter" in description["FailureReason"]


def test_stop_transform_job(aws: Aws, pca_model: str) -> None:
    name = unique("pca-stop")
    key = f"transform-in/{name}/many.csv"
    rows = np.tile(np.arange(6, dtype=np.float32), (20000, 1))
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=csv_bytes(rows))
    output = create_transform(
        aws, name, pca_model, f"s3://{aws.bucket}/{key}", BatchStrategy="SingleRecord"
    )
    aws.sm.stop_transform_job(TransformJobName=name)
    assert aws.sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    description = wait_transform(aws, name)
    assert description["TransformJobStatus"] == "Stopped"
    assert "TransformEndTime" in description
    with pytest.raises(ClientError) as exc:
        read(aws, f"{output}/many.csv.out")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as stopped:
        aws.sm.stop_transform_job(TransformJobName=name)
    assert _error(stopped)[0] == "ValidationException"


def test_list_describe_and_errors(aws: Aws, pca_trained: Trained, pca_model: str) -> None:
    tag = unique("lst")
    source = upload_csv(aws, pca_trained.data[:4], f"transform-in/{tag}", parts=1)
    names = [f"{tag}-{i}" for i in range(3)]
    for name in names:
        create_transform(aws, name, pca_model, source, Tags=[{"Key": "suite", "Value": "api"}])
    for name in names:
        _completed(aws, name)
    with pytest.raises(ClientError) as duplicate:
        create_transform(aws, names[0], pca_model, source)
    assert _error(duplicate)[0] == "ResourceInUse"

    listed = aws.sm.list_transform_jobs(NameContains=tag, SortBy="Name", SortOrder="Ascending")
    summaries = listed["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in summaries] == names
    assert {s["TransformJobStatus"] for s in summaries} == {"Completed"}
    assert all("TransformEndTime" in s and "LastModifiedTime" in s for s in summaries)
    first = aws.sm.list_transform_jobs(NameContains=tag, SortBy="Name", MaxResults=2)
    assert len(first["TransformJobSummaries"]) == 2
    rest = aws.sm.list_transform_jobs(
        NameContains=tag, SortBy="Name", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [s["TransformJobName"] for s in rest["TransformJobSummaries"]] == [names[0]]
    assert "NextToken" not in rest
    assert (
        aws.sm.list_transform_jobs(NameContains=tag, StatusEquals="Failed")["TransformJobSummaries"]
        == []
    )

    arn = aws.sm.describe_transform_job(TransformJobName=names[0])["TransformJobArn"]
    assert aws.sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "suite", "Value": "api"}]
    with pytest.raises(ClientError) as missing:
        aws.sm.describe_transform_job(TransformJobName=f"{tag}-missing")
    assert _error(missing)[0] == "ValidationException"
    with pytest.raises(ClientError) as not_found:
        aws.sm.stop_transform_job(TransformJobName=f"{tag}-missing")
    assert _error(not_found)[0] == "ResourceNotFound"


def test_several_instances_divide_the_input_objects(
    aws: Aws, kmeans_trained: Trained, kmeans_model: str
) -> None:
    """InstanceCount 2: two serving containers, the objects divided between them by key, every
    output written, one log stream per instance (what the SDK tails)."""
    rows = kmeans_trained.data[:60]
    name = unique("km-two")
    source = upload_csv(aws, rows, f"transform-in/{name}", parts=4)
    output = create_transform(
        aws,
        name,
        kmeans_model,
        source,
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
    )
    _completed(aws, name)
    answered = 0
    for part in ("part-0.csv.out", "sub/part-1.csv.out", "part-2.csv.out", "sub/part-3.csv.out"):
        answered += len(read(aws, f"{output}/{part}").decode().splitlines())
    assert answered == len(rows)
    streams = aws.logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{name}/"
    )["logStreams"]
    assert len(streams) == 2
