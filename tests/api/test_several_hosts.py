"""Training jobs with InstanceCount > 1: N hosts algo-1..N under the container contract.

Each host gets its own resourceconfig.json, its share of a ShardedByS3Key channel (everything of
a FullyReplicated one), its own CloudWatch stream; the hosts reach one another by name; the
artifact holds what every host wrote.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.api.conftest import (
    Aws,
    blobs,
    channel,
    create_job,
    load_model,
    low_rank,
    unique,
    upload_csv,
    wait_job,
)


@pytest.fixture(scope="module")
def byo(aws: Aws) -> str:
    from tests.docker.engine import build_byo_image

    return build_byo_image()


def _artifact(aws: Aws, uri: str) -> dict[str, bytes]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    body = aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


@pytest.mark.runtime_only("docker")
def test_byo_hosts_rendezvous_by_name_with_sharded_data(aws: Aws, byo: str) -> None:
    name = unique("byo-hosts")
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    sharded = upload_csv(aws, data, f"data/{name}/sharded", parts=4)
    replicated = upload_csv(aws, data, f"data/{name}/replicated", parts=2)
    channels = [
        channel(sharded, "train", distribution="ShardedByS3Key"),
        channel(replicated, "all", distribution="FullyReplicated"),
    ]
    extra: dict[str, Any] = {
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 3, "VolumeSizeInGB": 1}
    }
    create_job(aws, name, "", channels, {"behaviour": "rendezvous"}, image=byo, **extra)
    description = wait_job(aws, name, timeout=300)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    files = _artifact(aws, description["ModelArtifacts"]["S3ModelArtifacts"])
    assert {"algo-1.txt", "algo-2.txt", "algo-3.txt", "hosts.json"} <= set(files)
    report = json.loads(files["hosts.json"])
    assert sorted(report["joined"]) == ["algo-1", "algo-2", "algo-3"]
    config = report["resourceconfig"]
    assert config["current_host"] == "algo-1"
    assert config["hosts"] == ["algo-1", "algo-2", "algo-3"]
    assert config["instance_groups"] == [
        {
            "instance_group_name": "homogeneousCluster",
            "instance_type": "ml.m5.large",
            "hosts": ["algo-1", "algo-2", "algo-3"],
        }
    ]
    # ShardedByS3Key: 4 objects over 3 hosts (2, 1, 1); FullyReplicated: both on every host.
    shares = {host: joined["train"] for host, joined in report["joined"].items()}
    assert sorted(len(files_) for files_ in shares.values()) == [1, 1, 2]
    assert sorted(f for files_ in shares.values() for f in files_) == [
        "part-0.csv",
        "part-2.csv",
        "sub",
        "sub",
    ]
    assert all(len(joined["all"]) == 2 for joined in report["joined"].values())
    # One CloudWatch stream per host.
    streams = aws.logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name + "/"
    )["logStreams"]
    assert sorted(s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams) == [
        "algo-1",
        "algo-2",
        "algo-3",
    ]


@pytest.mark.runtime_only("docker")
def test_a_failing_host_fails_the_job_and_stops_the_others(aws: Aws, byo: str) -> None:
    name = unique("byo-fail")
    uri = upload_csv(aws, np.ones((4, 2), dtype=np.float32), f"data/{name}")
    create_job(
        aws,
        name,
        "",
        [channel(uri)],
        {"behaviour": "one-fails", "fail_host": "algo-2"},
        image=byo,
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 3, "VolumeSizeInGB": 1},
    )
    description = wait_job(aws, name, timeout=300)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == "ClientError: algo-2 gave up (host algo-2)"


def _train(aws: Aws, algorithm: str, uri: str, hosts: int, hyperparameters: dict[str, str]) -> str:
    name = unique(f"{algorithm}-{hosts}h")
    create_job(
        aws,
        name,
        algorithm,
        [channel(uri, content_type="text/csv;label_size=0", distribution="ShardedByS3Key")],
        hyperparameters,
        ResourceConfig={
            "InstanceType": "ml.m5.large",
            "InstanceCount": hosts,
            "VolumeSizeInGB": 1,
        },
    )
    description = wait_job(aws, name, timeout=300)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    uri_out: str = description["ModelArtifacts"]["S3ModelArtifacts"]
    return uri_out


def test_builtin_pca_on_two_hosts_is_the_one_host_model(aws: Aws, tmp_path: Path) -> None:
    data = low_rank(n=900, d=6, seed=11)
    uri = upload_csv(aws, data, f"data/{unique('pca-hosts')}", parts=4)
    hyperparameters = {"feature_dim": "6", "num_components": "3", "mini_batch_size": "100"}
    one = load_model(aws, _train(aws, "pca", uri, 1, hyperparameters), tmp_path / "one")
    two = load_model(aws, _train(aws, "pca", uri, 2, hyperparameters), tmp_path / "two")
    assert isinstance(one, dict) and isinstance(two, dict)
    for key in ("s", "v", "mean"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-6, atol=1e-6)


def test_builtin_kmeans_on_two_hosts_logs_every_host(aws: Aws, tmp_path: Path) -> None:
    data, _ = blobs(n=1200, d=4, k=3, seed=12)
    uri = upload_csv(aws, data, f"data/{unique('km-hosts')}", parts=4)
    hyperparameters = {"feature_dim": "4", "k": "3"}

    def msd(model_uri: str, where: Path) -> float:
        loaded = load_model(aws, model_uri, where)
        centres = np.asarray(loaded[0])
        distances = ((data[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        return float(distances.min(axis=1).mean())

    one = msd(_train(aws, "kmeans", uri, 1, hyperparameters), tmp_path / "one")
    two_uri = _train(aws, "kmeans", uri, 2, hyperparameters)
    assert msd(two_uri, tmp_path / "two") <= one * 1.01
    job = two_uri.split("/")[-3]
    group = "/aws/sagemaker/TrainingJobs"
    streams = aws.logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job + "/")
    names = sorted(s["logStreamName"] for s in streams["logStreams"])
    assert [n.split("/")[1].rsplit("-", 1)[0] for n in names] == ["algo-1", "algo-2"]
    for stream, host in zip(names, ("algo-1", "algo-2"), strict=True):
        events = aws.logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=True
        )
        assert any(f"host={host}" in e["message"] for e in events["events"]), host


def test_the_blogs_sweep_ten_kmeans_jobs_on_two_hosts_each(aws: Aws) -> None:
    """The k-means blog's parallel sweep exactly: k = 2..11 launched at once, InstanceCount 2
    each (twenty hosts on this machine), every host's log stream there at the end."""
    from tests.census_data import census_matrix

    data = census_matrix()
    uri = upload_csv(aws, data, f"data/{unique('sweep')}", parts=2)
    names = {k: unique(f"sweep-k{k}") for k in range(2, 12)}
    for k, name in names.items():
        create_job(
            aws,
            name,
            "kmeans",
            [channel(uri, content_type="text/csv;label_size=0", distribution="ShardedByS3Key")],
            {"feature_dim": str(data.shape[1]), "k": str(k)},
            ResourceConfig={
                "InstanceType": "ml.c4.xlarge",
                "InstanceCount": 2,
                "VolumeSizeInGB": 1,
            },
        )
    msd: dict[int, float] = {}
    for k, name in names.items():
        description = wait_job(aws, name, timeout=900)
        assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
        metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
        msd[k] = metrics["train:msd"]
        streams = aws.logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name + "/"
        )["logStreams"]
        assert len(streams) == 2, name
    # The elbow the blog plots: more clusters, a smaller mean squared distance.
    assert msd[11] < msd[2]
