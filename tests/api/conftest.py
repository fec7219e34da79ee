"""boto3 against a real emulator server, once per runtime (process, docker).

Each runtime gets its own server and data dir for the session. The Docker runtime needs an engine
and the algorithm images: without them its tests fail, unless SAGEMAKER_EMULATOR_SKIP_DOCKER=1,
which skips them loudly (tests.docker.engine.require_docker).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emulator.runtime.images import image_uri
from sdk.launcher import EmulatorServer
from sdk.session import boto_session
from tests.conftest import require_runtime, session_emulator
from tests.sdk_recordio import write_dense_tensor

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
REGION = "us-east-1"


@dataclass
class Aws:
    """boto3 clients on one emulator, and the bucket the tests write to."""

    url: str
    runtime: str
    sm: Any
    rt: Any
    s3: Any
    logs: Any
    bucket: str
    region: str = REGION


def make_aws(
    server: EmulatorServer, runtime: str, bucket: str | None = None, region: str = REGION
) -> Aws:
    session = boto_session(server.url, region)
    s3 = session.client("s3")
    name = bucket or f"api-tests-{uuid.uuid4().hex[:10]}"
    if bucket is None:
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return Aws(
        url=server.url,
        runtime=runtime,
        sm=session.client("sagemaker"),
        rt=session.client("sagemaker-runtime"),
        s3=s3,
        logs=session.client("logs"),
        bucket=name,
        region=region,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) a test marked `runtime_only(...)` for the other runtimes' params.

    Some behaviour exists on one runtime only (bring-your-own images need Docker; the process
    runtime's children are checked through /proc): those tests are not generated for the other.
    """
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("runtime_only")
        callspec = getattr(item, "callspec", None)
        runtime = callspec.params.get("runtime_name") if callspec is not None else None
        if marker is not None and runtime is not None and runtime not in marker.args:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session", params=["process", "docker"])
def runtime_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    require_runtime(name)
    return name


@pytest.fixture(scope="session")
def emulator(
    runtime_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorServer]:
    with session_emulator(tmp_path_factory, runtime_name, "api") as server:
        yield server


@pytest.fixture(scope="session")
def aws(emulator: EmulatorServer, runtime_name: str) -> Aws:
    return make_aws(emulator, runtime_name)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- data -----------------------------------------------------------------------------------------


def blobs(n: int = 600, d: int = 4, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well separated gaussian blobs: (data float32 (n, d), true centres (k, d))."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-20, 20, size=(k, d)).astype(np.float32)
    labels = rng.integers(0, k, size=n)
    data = centres[labels] + rng.normal(scale=0.3, size=(n, d)).astype(np.float32)
    return data.astype(np.float32), centres


def low_rank(n: int = 500, d: int = 6, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(3, d))
    data = rng.normal(size=(n, 3)) * np.array([5.0, 2.0, 1.0]) @ basis
    data += rng.normal(scale=0.05, size=(n, d)) + 3.0
    low: np.ndarray = data.astype(np.float32)
    return low


def csv_bytes(matrix: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(float(x)) for x in row) for row in matrix).encode() + b"\n"


def upload_csv(aws: Aws, matrix: np.ndarray, prefix: str, parts: int = 2) -> str:
    """CSV files under s3://bucket/prefix/ (several objects, one in a sub folder)."""
    chunks = np.array_split(matrix, parts)
    for i, chunk in enumerate(chunks):
        key = f"{prefix}/part-{i}.csv" if i % 2 == 0 else f"{prefix}/sub/part-{i}.csv"
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=csv_bytes(chunk))
    return f"s3://{aws.bucket}/{prefix}/"


def upload_record_set(aws: Aws, matrix: np.ndarray, name: str, shards: int = 2) -> str:
    """What the SDK's record_set() writes: RecordIO shards and a manifest; returns its URI."""
    prefix = f"sagemaker-record-sets/{name}/"
    suffixes = []
    for i, chunk in enumerate(np.array_split(matrix, shards)):
        suffix = f"matrix_{i}.pbr"
        aws.s3.put_object(Bucket=aws.bucket, Key=prefix + suffix, Body=write_dense_tensor(chunk))
        suffixes.append(suffix)
    manifest = [{"prefix": f"s3://{aws.bucket}/{prefix}"}, *suffixes]
    aws.s3.put_object(
        Bucket=aws.bucket, Key=prefix + ".amazon.manifest", Body=json.dumps(manifest).encode()
    )
    return f"s3://{aws.bucket}/{prefix}.amazon.manifest"


def channel(
    uri: str,
    name: str = "train",
    data_type: str = "S3Prefix",
    content_type: str | None = None,
    distribution: str = "FullyReplicated",
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": data_type,
                "S3Uri": uri,
                "S3DataDistributionType": distribution,
            }
        },
    }
    if content_type is not None:
        entry["ContentType"] = content_type
    return entry


# --- jobs and endpoints ---------------------------------------------------------------------------


def create_job(
    aws: Aws,
    name: str,
    algorithm: str,
    channels: list[dict[str, Any]],
    hyperparameters: dict[str, str],
    max_runtime: int = 600,
    image: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    spec = {
        "TrainingImage": image or image_uri(algorithm, aws.region),
        "TrainingInputMode": "File",
    }
    spec.update(extra.pop("AlgorithmSpecification", {}))
    response: dict[str, Any] = aws.sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification=spec,
        RoleArn=ROLE,
        InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{aws.bucket}/output/"},
        ResourceConfig=extra.pop(
            "ResourceConfig",
            {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        ),
        StoppingCondition={"MaxRuntimeInSeconds": max_runtime},
        HyperParameters=hyperparameters,
        **extra,
    )
    return response


def wait_job(aws: Aws, name: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = aws.sm.describe_training_job(TrainingJobName=name)
        if description["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"job {name} still {description['TrainingJobStatus']}")
        time.sleep(0.1)


def wait_training_started(aws: Aws, name: str, timeout: float = 120.0) -> None:
    """Until the job's container runs (SecondaryStatus Training); a job that ends first fails."""
    deadline = time.monotonic() + timeout
    while True:
        description = aws.sm.describe_training_job(TrainingJobName=name)
        if description["SecondaryStatus"] == "Training":
            return
        assert description["TrainingJobStatus"] == "InProgress", description.get("FailureReason")
        if time.monotonic() > deadline:
            raise AssertionError(f"job {name} still {description['SecondaryStatus']}")
        time.sleep(0.1)


def wait_endpoint(aws: Aws, name: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = aws.sm.describe_endpoint(EndpointName=name)
        if description["EndpointStatus"] not in ("Creating", "Updating"):
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"endpoint {name} still {description['EndpointStatus']}")
        time.sleep(0.1)


def load_model(aws: Aws, s3_uri: str, tmp_path: Path) -> Any:
    """Download model.tar.gz and load model_algo-1 (MXNet NDArray file)."""
    from algorithms.common import ndarray_file

    bucket, _, key = s3_uri[len("s3://") :].partition("/")
    body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        assert tar.getnames() == ["model_algo-1"]
        tar.extractall(tmp_path, filter="data")
    return ndarray_file.load(tmp_path / "model_algo-1")


def deploy(
    aws: Aws,
    model_data: str,
    algorithm: str,
    name: str | None = None,
    *,
    model_extra: dict[str, Any] | None = None,
    **variant: Any,
) -> str:
    """Model + endpoint config + endpoint, waited to InService; returns the endpoint name.

    `model_extra` adds CreateModel members (EnableNetworkIsolation...); `variant` adds
    production-variant members."""
    name = name or unique(algorithm)
    aws.sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image_uri(algorithm, aws.region), "ModelDataUrl": model_data},
        ExecutionRoleArn=ROLE,
        **(model_extra or {}),
    )
    aws.sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                **variant,
            }
        ],
    )
    aws.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    description = wait_endpoint(aws, name)
    assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    return name


@dataclass
class Trained:
    job: str
    model_data: str
    data: np.ndarray


@pytest.fixture(scope="session")
def pca_trained(aws: Aws) -> Trained:
    """A PCA job trained from CSV under an S3 prefix (shared by several tests)."""
    data = low_rank()
    name = unique("pca-csv")
    uri = upload_csv(aws, data, f"data/{name}")
    create_job(
        aws,
        name,
        "pca",
        [channel(uri, content_type="text/csv;label_size=0")],
        {"feature_dim": str(data.shape[1]), "num_components": "3", "mini_batch_size": "100"},
    )
    description = wait_job(aws, name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    return Trained(name, description["ModelArtifacts"]["S3ModelArtifacts"], data)


@pytest.fixture(scope="session")
def kmeans_trained(aws: Aws) -> Trained:
    """A k-means job trained from the SDK's record_set layout (ManifestFile, RecordIO)."""
    data, _ = blobs()
    name = unique("kmeans-rs")
    uri = upload_record_set(aws, data, name)
    create_job(
        aws,
        name,
        "kmeans",
        [channel(uri, data_type="ManifestFile", distribution="ShardedByS3Key")],
        {"feature_dim": str(data.shape[1]), "k": "3", "force_dense": "True"},
    )
    description = wait_job(aws, name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    return Trained(name, description["ModelArtifacts"]["S3ModelArtifacts"], data)
