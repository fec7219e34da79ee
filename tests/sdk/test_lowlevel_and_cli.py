"""The low-level style (boto3 + waiter + mx.ndarray.load), the AWS CLI, and our own commands."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow

KMEANS_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BIN = Path(sys.executable).parent


def _recordio(matrix: np.ndarray) -> bytes:
    # The SDK's own writer, as the low-level notebooks use it.
    from importlib import import_module

    buffer = io.BytesIO()
    import_module("sagemaker.amazon.common").write_numpy_to_dense_tensor(buffer, matrix)
    return buffer.getvalue()


def _training_job(name: str, bucket: str, prefix: str, k: int, feature_dim: int) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": KMEANS_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/{prefix}/train/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/{prefix}/output"},
        "ResourceConfig": {"InstanceType": "ml.c4.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "HyperParameters": {"k": str(k), "feature_dim": str(feature_dim), "mini_batch_size": "500"},
    }


def test_boto3_create_training_job_waiter_download_and_mx_load(
    sagemaker_boto_session: Any, census: np.ndarray, mxnet_load: Callable[[bytes], Any]
) -> None:
    sm = sagemaker_boto_session.client("sagemaker")
    s3 = sagemaker_boto_session.client("s3")
    bucket = "lowlevel-kmeans"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kmeans/train/data.pbr", Body=_recordio(census))

    name = f"kmeans-lowlevel-{int(time.time())}"
    sm.create_training_job(**_training_job(name, bucket, "kmeans", k=10, feature_dim=34))
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    description = sm.describe_training_job(TrainingJobName=name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    artifact = description["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{bucket}/kmeans/output/{name}/output/model.tar.gz"

    # Download as the notebooks do, then mx.ndarray.load in the MXNet venv.
    key = artifact.removeprefix(f"s3://{bucket}/")
    body = io.BytesIO()
    s3.download_fileobj(bucket, key, body)
    model = mxnet_load(body.getvalue())
    assert isinstance(model.arrays, list)
    assert model.arrays[0].shape == (10, 34)
    assert model.arrays[0].dtype == np.float32


def _cli_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=url,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_PAGER="",
    )
    return env


def aws(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "aws"), *args],
        env=_cli_env(url),
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def test_aws_cli_s3_and_sagemaker(
    sagemaker_emulator_url: str, census: np.ndarray, tmp_path: Path
) -> None:
    url = sagemaker_emulator_url
    data = tmp_path / "train.pbr"
    data.write_bytes(_recordio(census[:500]))
    aws(url, "s3", "mb", "s3://cli-bucket")
    aws(url, "s3", "cp", str(data), "s3://cli-bucket/cli/train/train.pbr")
    listing = aws(url, "s3", "ls", "s3://cli-bucket/cli/train/").stdout
    assert "train.pbr" in listing

    name = f"kmeans-cli-{int(time.time())}"
    request = _training_job(name, "cli-bucket", "cli", k=3, feature_dim=34)
    (tmp_path / "job.json").write_text(json.dumps(request))
    created = json.loads(
        aws(
            url,
            "sagemaker",
            "create-training-job",
            "--cli-input-json",
            f"file://{tmp_path}/job.json",
        ).stdout
    )
    assert created["TrainingJobArn"].endswith(f"training-job/{name}")

    deadline = time.monotonic() + 300
    status = "InProgress"
    while status == "InProgress" and time.monotonic() < deadline:
        time.sleep(1)
        described = json.loads(
            aws(url, "sagemaker", "describe-training-job", "--training-job-name", name).stdout
        )
        status = described["TrainingJobStatus"]
    assert status == "Completed", described.get("FailureReason")

    jobs = json.loads(aws(url, "sagemaker", "list-training-jobs").stdout)["TrainingJobSummaries"]
    assert name in [j["TrainingJobName"] for j in jobs]
    artifacts = aws(url, "s3", "ls", "--recursive", f"s3://cli-bucket/cli/output/{name}/").stdout
    assert "output/model.tar.gz" in artifacts

    missing = aws(
        url, "sagemaker", "describe-training-job", "--training-job-name", "nope", check=False
    )
    assert missing.returncode != 0
    assert "ValidationException" in missing.stderr


def test_aws_cli_tuning_job(
    sagemaker_emulator_url: str, census: np.ndarray, tmp_path: Path
) -> None:
    """A Grid tuning job through the AWS CLI: the children train, the list sorts by objective."""
    url = sagemaker_emulator_url
    data = tmp_path / "train.pbr"
    data.write_bytes(_recordio(census[:600]))
    aws(url, "s3", "mb", "s3://cli-tuning")
    for channel in ("train", "test"):
        aws(url, "s3", "cp", str(data), f"s3://cli-tuning/{channel}/data.pbr")
    name = f"cli-tune-{int(time.time()) % 100000}"

    def channel_of(channel: str) -> dict[str, object]:
        source = {"S3DataType": "S3Prefix", "S3Uri": f"s3://cli-tuning/{channel}/"}
        return {"ChannelName": channel, "DataSource": {"S3DataSource": source}}

    request = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "test:msd"},
            "ResourceLimits": {"MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "k", "Values": ["2", "4"]}]
            },
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"feature_dim": "34"},
            "AlgorithmSpecification": {
                "TrainingImage": "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1",
                "TrainingInputMode": "File",
            },
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "InputDataConfig": [channel_of("train"), channel_of("test")],
            "OutputDataConfig": {"S3OutputPath": "s3://cli-tuning/output/"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }
    (tmp_path / "tuning.json").write_text(json.dumps(request))
    aws(
        url,
        "sagemaker",
        "create-hyper-parameter-tuning-job",
        "--cli-input-json",
        f"file://{tmp_path}/tuning.json",
    )
    deadline = time.monotonic() + 600
    while True:
        described = json.loads(
            aws(
                url,
                "sagemaker",
                "describe-hyper-parameter-tuning-job",
                "--hyper-parameter-tuning-job-name",
                name,
            ).stdout
        )
        if described["HyperParameterTuningJobStatus"] != "InProgress":
            break
        assert time.monotonic() < deadline, described["TrainingJobStatusCounters"]
        time.sleep(1)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    children = json.loads(
        aws(
            url,
            "sagemaker",
            "list-training-jobs-for-hyper-parameter-tuning-job",
            "--hyper-parameter-tuning-job-name",
            name,
            "--sort-by",
            "FinalObjectiveMetricValue",
        ).stdout
    )["TrainingJobSummaries"]
    assert len(children) == 2
    values = [c["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for c in children]
    assert values == sorted(values)
    assert described["BestTrainingJob"]["TrainingJobName"] == children[0]["TrainingJobName"]


def emulator_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "sagemaker-emulator"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_notebook_env_command_evaluated_by_a_shell_then_undone(
    sagemaker_emulator_url: str, tmp_path: Path
) -> None:
    state, metadata = tmp_path / "state", tmp_path / "meta" / "resource-metadata.json"
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-3"}
    env.pop("AWS_ENDPOINT_URL", None)
    script = f"""
set -e
eval "$({BIN}/sagemaker-emulator notebook-env --endpoint-url {sagemaker_emulator_url} \\
      --state-dir {state} --metadata-path {metadata} --create-bucket nb-output)"
{BIN}/aws s3api list-buckets --query 'Buckets[].Name' --output text
echo "region=$AWS_DEFAULT_REGION"
eval "$({BIN}/sagemaker-emulator notebook-env --undo --state-dir {state})"
echo "after region=$AWS_DEFAULT_REGION endpoint=${{AWS_ENDPOINT_URL:-none}}"
"""
    out = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # notebook-env follows the shell's own region: the SDK's default bucket is that region's.
    assert "nb-output" in lines[0] and "sagemaker-eu-west-3-123456789012" in lines[0]
    assert "region=eu-west-3" in lines
    assert "after region=eu-west-3 endpoint=none" in lines
    assert not metadata.exists()
    assert "undo with" in out.stderr


def test_notebook_env_against_no_server_fails_clearly(tmp_path: Path) -> None:
    from sdk.launcher import free_port

    out = emulator_cli(
        "notebook-env",
        "--endpoint-url",
        f"http://127.0.0.1:{free_port()}",
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert out.returncode == 1
    assert "cannot reach the emulator" in out.stderr
    assert out.stdout == ""
    assert not (tmp_path / "state").exists()  # nothing written


def test_seed_command_file_folder_and_seed_dir(
    sagemaker_emulator_url: str, sagemaker_boto_session: Any, tmp_path: Path
) -> None:
    s3 = sagemaker_boto_session.client("s3")
    url = ["--endpoint-url", sagemaker_emulator_url]
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "a.csv").write_text("1,2\n")
    (tmp_path / "folder" / "sub" / "b.csv").write_text("3,4\n")
    out = emulator_cli("seed", str(tmp_path / "folder"), "s3://seeded/data", *url)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["s3://seeded/data/a.csv", "s3://seeded/data/sub/b.csv"]
    got = s3.get_object(Bucket="seeded", Key="data/sub/b.csv")["Body"].read()
    assert got == b"3,4\n"

    tree = tmp_path / "tree"
    (tree / "bucket-one" / "x").mkdir(parents=True)
    (tree / "bucket-one" / "x" / "y.txt").write_text("y")
    (tree / "bucket-two").mkdir()
    out = emulator_cli("seed", str(tree), *url)
    assert out.returncode == 0, out.stderr
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"bucket-one", "bucket-two"} <= names
    assert s3.get_object(Bucket="bucket-one", Key="x/y.txt")["Body"].read() == b"y"

    bad = emulator_cli("seed", str(tmp_path / "folder"), "not-a-uri", *url)
    assert bad.returncode == 2 and "not an S3 URI" in bad.stderr


def test_serve_seed_dir_provides_the_notebooks_public_bucket(tmp_path: Path) -> None:
    """The compose way: a seed dir whose top-level folders are buckets, read at server start."""
    from sdk.data import census_csv
    from sdk.launcher import start_emulator
    from sdk.session import boto_session

    census = census_csv()
    bucket_dir = tmp_path / "seed" / "aws-ml-blog-sagemaker-census-segmentation"
    bucket_dir.mkdir(parents=True)
    (bucket_dir / census.name).write_bytes(census.read_bytes())
    (tmp_path / "seed" / "census-segmentation-output").mkdir()
    with start_emulator(
        tmp_path / "data", runtime="process", extra_args=["--seed-dir", str(tmp_path / "seed")]
    ) as server:
        s3 = boto_session(server.url).client("s3")
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert {"aws-ml-blog-sagemaker-census-segmentation", "census-segmentation-output"} <= names
        body = s3.get_object(
            Bucket="aws-ml-blog-sagemaker-census-segmentation", Key="acs2015_county_data.csv"
        )["Body"].read()
        assert body == census.read_bytes()
