"""The built-in pca and kmeans images through DockerRuntime directly: `IMAGE train` on a staged
/opt/ml tree gives the same model as the process runtime, and `IMAGE serve` answers with it."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from algorithms.common import ndarray_file
from algorithms.common.recordio import encode_dense
from emulator.runtime.base import ContainerSpec, ServingHandle
from emulator.runtime.docker_runtime import DockerRuntime
from emulator.runtime.images import image_uri
from emulator.runtime.optml import OptMlTree
from emulator.runtime.process_runtime import ProcessRuntime
from emulator.services.training.spec import parse

HYPERPARAMETERS = {
    "pca": {"feature_dim": "6", "num_components": "2", "mini_batch_size": "50"},
    "kmeans": {"feature_dim": "6", "k": "3", "mini_batch_size": "50"},
}


def training_tree(root: Path, algorithm: str, data: np.ndarray) -> OptMlTree:
    tree = OptMlTree(root)
    tree.create()
    request = {
        "TrainingJobName": f"test-{algorithm}",
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "HyperParameters": HYPERPARAMETERS[algorithm],
        "AlgorithmSpecification": {
            "TrainingImage": image_uri(algorithm, "us-east-1"),
            "TrainingInputMode": "File",
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "application/x-recordio-protobuf",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t"}},
            }
        ],
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    tree.write_training_config(parse(request))
    tree.channel_dir("train").mkdir(parents=True)
    (tree.channel_dir("train") / "matrix_0.pbr").write_bytes(encode_dense(data))
    return tree


def train(runtime: Any, tree: OptMlTree, algorithm: str) -> list[str]:
    lines: list[str] = []
    spec = ContainerSpec(
        mode="train",
        image=image_uri(algorithm, "us-east-1"),
        algorithm=algorithm,
        opt_ml=tree.root,
        name=f"test-{algorithm}",
        on_log=lines.append,
    )
    handle = runtime.start_training(spec)
    code = handle.wait(timeout=300)
    handle.collect()
    assert code == 0, "\n".join(lines[-30:]) + f"\nfailure: {tree.read_failure()}"
    return lines


def invoke(handle: ServingHandle, body: bytes, content_type: str) -> Any:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(handle.url + "/ping", timeout=2):
                break
        except OSError:
            assert time.monotonic() < deadline, "the serving container never answered /ping"
            time.sleep(0.05)
    request = urllib.request.Request(
        handle.url + "/invocations",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an MXNet list file by name (list entries by position)."""
    loaded = ndarray_file.load(path)
    if isinstance(loaded, dict):
        return loaded
    return {str(i): a for i, a in enumerate(loaded)}


@pytest.mark.parametrize("algorithm", ["pca", "kmeans"])
def test_builtin_image_trains_like_the_process_runtime_and_serves(
    docker_runtime: DockerRuntime, tmp_path: Path, algorithm: str
) -> None:
    rng = np.random.default_rng(7)
    data = rng.normal(size=(300, 6)).astype(np.float32)
    data[:100] += 5
    data[100:200] -= 5

    in_docker = training_tree(tmp_path / "docker", algorithm, data)
    lines = train(docker_runtime, in_docker, algorithm)
    assert lines[0] == "Docker entrypoint called with argument(s): train"
    assert any(line.startswith("#metrics") for line in lines), lines
    in_process = training_tree(tmp_path / "process", algorithm, data)
    process_runtime = ProcessRuntime()
    try:
        train(process_runtime, in_process, algorithm)
    finally:
        process_runtime.close()
    # The same unit of work: the same model files with the same arrays. Not byte for byte: the
    # image's OpenBLAS may split a GEMM differently from the host's (1-ulp differences).
    docker_files = sorted(p.name for p in in_docker.model_dir.iterdir())
    assert docker_files == sorted(p.name for p in in_process.model_dir.iterdir())
    assert docker_files, "the container wrote no model"
    for name in docker_files:
        in_container = _arrays(in_docker.model_dir / name)
        on_host = _arrays(in_process.model_dir / name)
        assert list(in_container) == list(on_host)
        for key, got in in_container.items():
            want = on_host[key]
            assert got.dtype == want.dtype and got.shape == want.shape, key
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    serving = OptMlTree(tmp_path / "serving")
    serving.create()
    shutil.copytree(in_docker.model_dir, serving.model_dir, dirs_exist_ok=True)
    spec = ContainerSpec(
        mode="serve",
        image=image_uri(algorithm, "us-east-1"),
        algorithm=algorithm,
        opt_ml=serving.root,
        name=f"test-{algorithm}-AllTraffic",
    )
    handle = docker_runtime.start_serving(spec)
    rows = data[[0, 150, 250]]
    csv = "\n".join(",".join(str(v) for v in row) for row in rows).encode()
    answer = invoke(handle, csv, "text/csv")
    if algorithm == "pca":
        projections = answer["projections"]
        assert [len(p["projection"]) for p in projections] == [2, 2, 2]
    else:
        clusters = [p["closest_cluster"] for p in answer["predictions"]]
        assert len(set(clusters)) == 3  # one point of each blob, three clusters
    handle.stop(grace_seconds=5)
    assert not handle.is_running()
