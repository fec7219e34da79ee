"""Two hosts of one training job as two containers of the built-in images on a user-defined
Docker network, reachable as ``algo-1`` and ``algo-2`` (docs/several-instances.md): they join
through MPI and give the model one host gives on the union of their shares."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import numpy as np
import pytest
from docker.models.networks import Network

from emulator.runtime.images import local_image
from tests.unit.test_several_hosts import (
    _assert_pca_equal,
    _blobs,
    _centres,
    _load,
    _msd,
    _pca_data,
    _tree,
    train,
)

TIMEOUT = 300


@pytest.fixture
def network(docker_ready: None) -> Iterator[Network]:
    client = docker.from_env()
    net = client.networks.create(f"sagemaker-emulator-test-{uuid.uuid4().hex[:8]}")
    try:
        yield net
    finally:
        for container in client.containers.list(all=True, filters={"network": net.id}):
            container.remove(force=True)
        net.remove()
        client.close()


def _run_two_hosts(
    network: Network,
    tmp_path: Path,
    algorithm: str,
    hp: dict[str, object],
    shares: list[np.ndarray],
) -> list[Path]:
    client = docker.from_env()
    hosts = ["algo-1", "algo-2"]
    roots = []
    containers = []
    for host, share in zip(hosts, shares, strict=True):
        root = tmp_path / "docker" / host
        _tree(root, host, hosts, hp, share)
        (root / "model").mkdir()
        (root / "output").mkdir()
        container = client.containers.create(
            local_image(algorithm),
            command=["train"],
            name=f"{network.name}-{host}",
            hostname=host,
            volumes={str(root): {"bind": "/opt/ml", "mode": "rw"}},
            # Only the job's network, so it is eth0 (resourceconfig's network_interface_name).
            network=network.name,
            networking_config={network.name: client.api.create_endpoint_config(aliases=[host])},
        )
        containers.append(container)
        roots.append(root)
    for container in containers:
        container.start()
    for container, host in zip(containers, hosts, strict=True):
        status = container.wait(timeout=TIMEOUT)
        logs = container.logs().decode(errors="replace")
        assert status["StatusCode"] == 0, f"{host} failed:\n{logs}"
        assert f"host={host}" in logs
    client.close()
    return roots


def test_pca_on_two_containers_is_the_model_of_the_union(network: Network, tmp_path: Path) -> None:
    data = _pca_data(2000, 10)
    hp: dict[str, object] = {"feature_dim": 10, "num_components": 3, "mini_batch_size": 200}
    roots = _run_two_hosts(network, tmp_path, "pca", hp, [data[:1200], data[1200:]])
    (single,) = train(tmp_path, "pca", hp, [data], "one")
    _assert_pca_equal(_load(roots[0] / "model" / "model_algo-1"), _load(single.model()))
    assert not any((roots[1] / "model").iterdir())


def test_kmeans_on_two_containers_reaches_the_single_host_msd(
    network: Network, tmp_path: Path
) -> None:
    data = _blobs(3000, 5, 4)
    hp: dict[str, object] = {"feature_dim": 5, "k": 4, "mini_batch_size": 300}
    roots = _run_two_hosts(network, tmp_path, "kmeans", hp, [data[::2], data[1::2]])
    (single,) = train(tmp_path, "kmeans", hp, [data], "one")
    many = _msd(data, _centres(roots[0] / "model" / "model_algo-1"))
    assert many <= _msd(data, _centres(single.model())) * 1.01
