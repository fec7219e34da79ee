"""A request's Environment on each runtime, and the paths a FailureReason shows.

The process runtime runs algorithms on the host, as the emulator: variables that steer the loader
or the interpreter are refused at Create time (named in a ValidationException). Tuning variables
pass on both runtimes. Under Docker every variable reaches the container (test_training_byo.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.runtime.images import image_uri
from sdk.launcher import EmulatorServer
from tests.api.conftest import (
    REGION,
    ROLE,
    Aws,
    channel,
    create_job,
    low_rank,
    unique,
    upload_csv,
    wait_job,
)

STEERING = [
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "DYLD_INSERT_LIBRARIES",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PYTHONWARNINGS",
    "PATH",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "LOCPATH",
    "NLSPATH",
    "OPENSSL_CONF",
    "BASH_ENV",
    "BASH_FUNC_ls",
]
TUNING = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}


def _refusal(exc: pytest.ExceptionInfo[ClientError], variable: str) -> None:
    error = exc.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert variable in error["Message"]
    assert "Docker runtime" in error["Message"]


def _pca_hyperparameters() -> dict[str, str]:
    return {"feature_dim": "6", "num_components": "2", "mini_batch_size": "50"}


@pytest.mark.runtime_only("process")
@pytest.mark.parametrize("variable", STEERING)
def test_process_runtime_refuses_a_steering_variable_in_a_training_job(
    aws: Aws, variable: str
) -> None:
    name = unique("env-refused")
    with pytest.raises(ClientError) as exc:
        create_job(
            aws,
            name,
            "pca",
            [channel(f"s3://{aws.bucket}/unused/")],
            _pca_hyperparameters(),
            Environment={"OMP_NUM_THREADS": "1", variable: "input/data/train/evil.so"},
        )
    _refusal(exc, variable)
    with pytest.raises(ClientError) as missing:
        aws.sm.describe_training_job(TrainingJobName=name)
    assert missing.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.runtime_only("process")
def test_process_runtime_refuses_a_locale_path(aws: Aws) -> None:
    with pytest.raises(ClientError) as exc:
        create_job(
            aws,
            unique("env-locale"),
            "pca",
            [channel(f"s3://{aws.bucket}/unused/")],
            _pca_hyperparameters(),
            Environment={"LC_ALL": "/opt/ml/input/data/train/locale"},
        )
    _refusal(exc, "LC_ALL")


def _model_request(aws: Aws, environment: dict[str, str], member: str) -> dict[str, Any]:
    container = {
        "Image": image_uri("kmeans", REGION),
        "ModelDataUrl": f"s3://{aws.bucket}/nothing.tar.gz",
        "Environment": environment,
    }
    if member == "PrimaryContainer":
        return {"PrimaryContainer": container}
    return {"Containers": [container]}


@pytest.mark.runtime_only("process")
@pytest.mark.parametrize("member", ["PrimaryContainer", "Containers"])
@pytest.mark.parametrize("variable", ["LD_PRELOAD", "PYTHONPATH", "PATH"])
def test_process_runtime_refuses_a_steering_variable_in_a_model(
    aws: Aws, member: str, variable: str
) -> None:
    name = unique("env-model")
    with pytest.raises(ClientError) as exc:
        aws.sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            **_model_request(aws, {variable: "/opt/ml/model/x"}, member),
        )
    _refusal(exc, variable)
    with pytest.raises(ClientError):
        aws.sm.describe_model(ModelName=name)


@pytest.mark.runtime_only("process")
@pytest.mark.parametrize("variable", ["LD_PRELOAD", "PYTHONSTARTUP"])
def test_process_runtime_refuses_a_steering_variable_in_a_transform_job(
    aws: Aws, variable: str
) -> None:
    name = unique("env-transform")
    with pytest.raises(ClientError) as exc:
        aws.sm.create_transform_job(
            TransformJobName=name,
            ModelName="any-model",
            Environment={variable: "x"},
            TransformInput={
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{aws.bucket}/in/"}
                }
            },
            TransformOutput={"S3OutputPath": f"s3://{aws.bucket}/out/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
    _refusal(exc, variable)


def test_tuning_variables_pass_and_the_job_trains(aws: Aws) -> None:
    name = unique("env-tuning")
    uri = upload_csv(aws, low_rank(), f"data/{name}")
    create_job(
        aws,
        name,
        "pca",
        [channel(uri, content_type="text/csv;label_size=0")],
        _pca_hyperparameters(),
        Environment=dict(TUNING),
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Completed", d.get("FailureReason")
    assert d["Environment"] == TUNING


def test_failure_reason_shows_container_paths(aws: Aws, emulator: EmulatorServer) -> None:
    name = unique("env-paths")
    prefix = f"data/{name}"
    aws.s3.put_object(Bucket=aws.bucket, Key=f"{prefix}/bad.csv", Body=b"1,2\n3\n")
    create_job(
        aws,
        name,
        "pca",
        [channel(f"s3://{aws.bucket}/{prefix}/", content_type="text/csv")],
        {"feature_dim": "2", "num_components": "1", "mini_batch_size": "10"},
    )
    d = wait_job(aws, name)
    assert d["TrainingJobStatus"] == "Failed"
    reason = d["FailureReason"]
    assert "/opt/ml/input/data/train/bad.csv" in reason, reason
    data_dir = emulator.data_dir.resolve()
    assert str(data_dir) not in reason and str(emulator.data_dir) not in reason, reason
