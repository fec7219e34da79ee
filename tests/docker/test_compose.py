"""docker-compose.yml: the file is valid, and the emulator it starts runs training and serving
containers as siblings on the host's engine (where bind mounts of its own paths cannot work)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import boto3
import docker
import numpy as np
import pytest
import yaml
from botocore.config import Config

from algorithms.common.recordio import encode_dense
from emulator.runtime.docker_runtime import LABEL_SCOPE
from emulator.runtime.images import image_uri
from emulator.runtime.select import runtime_scope
from tests.docker.compose import compose_command, compose_stack
from tests.docker.engine import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"


def test_compose_file_has_what_the_emulator_needs() -> None:
    # Checked with no engine and no compose tool: the structure the README promises.
    config = yaml.safe_load(COMPOSE_FILE.read_text())
    emulator = config["services"]["emulator"]
    assert emulator["build"]["dockerfile"] == "containers/emulator.Dockerfile"
    assert (ROOT / emulator["build"]["dockerfile"]).is_file()
    assert "/var/run/docker.sock:/var/run/docker.sock" in emulator["volumes"]
    assert any(v.endswith(":/data") for v in emulator["volumes"])
    assert emulator["ports"] == ["127.0.0.1:${SAGEMAKER_EMULATOR_PORT:-8642}:8642"]
    network = emulator["environment"]["SAGEMAKER_EMULATOR_DOCKER_NETWORK"]
    assert config["networks"][network]["name"] == network
    for algorithm in ("pca", "kmeans"):
        service = config["services"][f"{algorithm}-image"]
        assert service["image"] == f"sagemaker-emulator/{algorithm}:1"
        assert service["build"]["args"]["ALGORITHM"] == algorithm
        assert emulator["depends_on"][f"{algorithm}-image"]["condition"] == (
            "service_completed_successfully"
        )


def test_compose_config_is_valid(docker_ready: None) -> None:
    command = compose_command()
    if command is None:
        pytest.fail(
            "neither `docker compose` nor `docker-compose` is installed "
            "(scripts/docker-engine.sh installs Debian's docker-compose)"
        )
    done = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def boto(url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def wait_for(describe: Any, key: str, done: set[str], timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer: dict[str, Any] = describe()
        if answer[key] in done or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


@pytest.fixture(scope="module")
def emulator_image(docker_ready: None) -> None:
    # The image compose runs must hold this checkout's code (cached: seconds when unchanged).
    subprocess.run(
        ["bash", "containers/build.sh", "--emulator"], cwd=ROOT, check=True, capture_output=True
    )


def test_emulator_in_compose_runs_sibling_training_and_serving_containers(
    emulator_image: None, byo_image: str
) -> None:
    command = compose_command()
    assert command is not None, "no compose tool (see test_compose_config_is_valid)"
    engine = docker.from_env()
    with compose_stack(command) as stack:
        try:
            run_byo_flow(stack.url, byo_image, engine)
            run_builtin_training(stack.url)
        except BaseException:
            print(stack.logs()[-6000:])
            raise
    # compose down stopped the emulator, which removed every container it had started.
    # (Its scope: the data directory /data inside its container.)
    scope = {"label": f"{LABEL_SCOPE}={runtime_scope(Path('/data'))}"}
    assert [c.name for c in engine.containers.list(all=True, filters=scope)] == []


def run_byo_flow(url: str, image: str, engine: docker.DockerClient) -> None:
    sagemaker, s3 = boto(url, "sagemaker"), boto(url, "s3")
    s3.create_bucket(Bucket="compose")
    s3.put_object(Bucket="compose", Key="data/train/part-0.csv", Body=b"1,2\n")
    role = "arn:aws:iam::123456789012:role/SageMakerRole"
    sagemaker.create_training_job(
        TrainingJobName="compose-byo",
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        RoleArn=role,
        HyperParameters={"behaviour": "ok"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://compose/data/train/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://compose/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    job = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName="compose-byo"),
        "TrainingJobStatus",
        {"Completed", "Failed", "Stopped"},
    )
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == "s3://compose/output/compose-byo/output/model.tar.gz"
    body = s3.get_object(Bucket="compose", Key="output/compose-byo/output/model.tar.gz")["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read())) as tar:
        member = tar.extractfile("model.json")
        assert member is not None
        model = json.loads(member.read())
    assert model["channels"] == {"train": ["part-0.csv"]}

    sagemaker.create_model(
        ModelName="compose-byo",
        PrimaryContainer={"Image": image, "ModelDataUrl": artifact},
        ExecutionRoleArn=role,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="compose-byo",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "compose-byo",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="compose-byo", EndpointConfigName="compose-byo")
    endpoint = wait_for(
        lambda: sagemaker.describe_endpoint(EndpointName="compose-byo"),
        "EndpointStatus",
        {"InService", "Failed"},
    )
    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    answer = boto(url, "sagemaker-runtime").invoke_endpoint(
        EndpointName="compose-byo", Body=b"ping?", ContentType="text/plain"
    )
    assert json.loads(answer["Body"].read())["echo"] == "ping?"
    labels = {"label": "sagemaker-emulator.endpoint=compose-byo"}
    assert len(engine.containers.list(filters=labels)) == 1
    sagemaker.delete_endpoint(EndpointName="compose-byo")
    deadline = time.monotonic() + 60
    while engine.containers.list(all=True, filters=labels) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert engine.containers.list(all=True, filters=labels) == []


def run_builtin_training(url: str) -> None:
    """The pca ECR URI maps to the local image from inside the emulator's container too."""
    sagemaker, s3 = boto(url, "sagemaker"), boto(url, "s3")
    data = np.random.default_rng(1).normal(size=(200, 5)).astype(np.float32)
    s3.put_object(Bucket="compose", Key="pca/train/matrix_0.pbr", Body=encode_dense(data))
    sagemaker.create_training_job(
        TrainingJobName="compose-pca",
        AlgorithmSpecification={
            "TrainingImage": image_uri("pca", "us-east-1"),
            "TrainingInputMode": "File",
        },
        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        HyperParameters={"feature_dim": "5", "num_components": "2", "mini_batch_size": "50"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "application/x-recordio-protobuf",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://compose/pca/train/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://compose/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    job = wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName="compose-pca"),
        "TrainingJobStatus",
        {"Completed", "Failed", "Stopped"},
    )
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    s3.head_object(Bucket="compose", Key="output/compose-pca/output/model.tar.gz")
