"""Training on several hosts: N real ``python -m algorithms.<name> train`` processes, each with
its own /opt/ml tree (SAGEMAKER_BASE_DIR), its share of the data, a resourceconfig.json for N
hosts and ``SAGEMAKER_EMULATOR_HOSTS`` mapping the host names to loopback addresses, as the
process runtime starts them (docs/several-instances.md). They join through MPI; the result is
compared with one host trained on the union of the shares.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from algorithms.common import ndarray_file

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 300.0


def _csv(rows: npt.NDArray[np.float64]) -> bytes:
    """CSV as the built-ins read it: a label column (ignored by PCA and k-means), then features."""
    out = io.StringIO()
    np.savetxt(out, np.hstack([np.zeros((rows.shape[0], 1)), rows]), delimiter=",", fmt="%.9g")
    return out.getvalue().encode()


def _tree(
    root: Path,
    host: str,
    hosts: Sequence[str],
    hyperparameters: Mapping[str, object],
    share: npt.NDArray[np.float64],
) -> None:
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(
        json.dumps({k: str(v) for k, v in hyperparameters.items()})
    )
    (config / "inputdataconfig.json").write_text(
        json.dumps(
            {
                "train": {
                    "ContentType": "text/csv",
                    "TrainingInputMode": "File",
                    "S3DistributionType": "ShardedByS3Key",
                    "RecordWrapperType": "None",
                }
            }
        )
    )
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {
                "current_host": host,
                "hosts": list(hosts),
                "network_interface_name": "eth0",
                "current_instance_type": "ml.m5.large",
                "current_group_name": "homogeneousCluster",
                "instance_groups": [
                    {
                        "instance_group_name": "homogeneousCluster",
                        "instance_type": "ml.m5.large",
                        "hosts": list(hosts),
                    }
                ],
            }
        )
    )
    data = root / "input" / "data" / "train"
    data.mkdir(parents=True)
    if share.shape[0]:  # a host may get no object at all from a sharded channel
        (data / "part-0.csv").write_bytes(_csv(share))


@dataclass
class Host:
    name: str
    root: Path
    returncode: int
    output: str

    def model(self, name: str = "model_algo-1") -> Path:
        return self.root / "model" / name


def _loopback_base() -> str:
    """A random 127.a.b.0/24 per run, so concurrent tests never share the rendezvous port."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 254)}"


def train(
    tmp_path: Path,
    algorithm: str,
    hyperparameters: Mapping[str, object],
    shares: Sequence[npt.NDArray[np.float64]],
    label: str,
    extra_env: Mapping[str, str] | None = None,
) -> list[Host]:
    hosts = [f"algo-{i + 1}" for i in range(len(shares))]
    base = _loopback_base()
    addresses = ",".join(f"{h}={base}.{i + 2}" for i, h in enumerate(hosts))
    procs = []
    roots = []
    for host, share in zip(hosts, shares, strict=True):
        root = tmp_path / label / host
        _tree(root, host, hosts, hyperparameters, share)
        env = dict(os.environ)
        env.update(
            SAGEMAKER_BASE_DIR=str(root),
            PYTHONPATH=str(REPO),
            SAGEMAKER_EMULATOR_RENDEZVOUS_TIMEOUT="120",
        )
        env.update(extra_env or {})
        if len(hosts) > 1:
            env["SAGEMAKER_EMULATOR_HOSTS"] = addresses
        # Each host's output to a file: a pipe read one host after the other would block a host
        # whose pipe fills while the reader waits on another (which waits for it).
        with (tmp_path / label / f"{host}.log").open("w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", f"algorithms.{algorithm}", "train"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        roots.append(root)
    result = []
    for host, root, proc in zip(hosts, roots, procs, strict=True):
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        out = (tmp_path / label / f"{host}.log").read_text()
        result.append(Host(host, root, proc.returncode, out))
    for finished in result:
        assert finished.returncode == 0, f"{finished.name} failed:\n{finished.output}"
    return result


def _pca_data(rows: int = 3000, dim: int = 12) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(7)
    scales = np.linspace(10.0, 0.5, dim)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    # Far from the origin, so the mean's subtraction is part of what is tested.
    data: npt.NDArray[np.float64] = (rng.normal(size=(rows, dim)) * scales) @ basis.T + 50.0
    return data


def _load(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    loaded = ndarray_file.load(path)
    assert isinstance(loaded, dict)
    return loaded


def _assert_pca_equal(
    got: Mapping[str, npt.NDArray[np.float32]], want: Mapping[str, npt.NDArray[np.float32]]
) -> None:
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_allclose(
            got[key], want[key], rtol=1e-6, atol=1e-6 * np.abs(want[key]).max()
        )


@pytest.mark.parametrize("mode", ["regular", "randomized"])
def test_pca_on_three_hosts_is_the_model_of_the_union(tmp_path: Path, mode: str) -> None:
    data = _pca_data()
    hp = {
        "feature_dim": data.shape[1],
        "num_components": 4,
        "mini_batch_size": 200,
        "subtract_mean": True,
        "algorithm_mode": mode,
    }
    # Uneven shares, the last host empty (a sharded channel can leave a host without objects).
    shares = [data[:1700], data[1700:], data[:0]]
    hosts = train(tmp_path, "pca", hp, shares, "three")
    (single,) = train(tmp_path, "pca", hp, [data], "one")

    want = _load(single.model())
    got = _load(hosts[0].model())
    if mode == "regular":
        _assert_pca_equal(got, want)
    else:
        # Different sign matrices per host: the same components, to the sketch's accuracy.
        np.testing.assert_allclose(got["s"], want["s"], rtol=1e-5)
        np.testing.assert_allclose(np.abs(got["v"]), np.abs(want["v"]), atol=1e-4)
        np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-6)
    # Only algo-1 writes a model; every host logs its own metric lines.
    assert [p.name for p in (hosts[0].root / "model").iterdir()] == ["model_algo-1"]
    for host in hosts[1:]:
        assert not any((host.root / "model").iterdir())
    for host in hosts:
        assert f"#progress_metric: host={host.name}, completed 100.0 % of epochs" in host.output


def test_pca_without_mean_subtraction_on_two_hosts(tmp_path: Path) -> None:
    data = _pca_data(1200, 8)
    hp = {"feature_dim": 8, "num_components": 3, "mini_batch_size": 100, "subtract_mean": False}
    hosts = train(tmp_path, "pca", hp, [data[::2], data[1::2]], "two")
    (single,) = train(tmp_path, "pca", hp, [data], "one")
    _assert_pca_equal(_load(hosts[0].model()), _load(single.model()))


def _blobs(rows: int = 6000, dim: int = 6, k: int = 5) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(3)
    centres = rng.uniform(-20, 20, size=(k, dim))
    labels = rng.integers(0, k, size=rows)
    data: npt.NDArray[np.float64] = centres[labels] + rng.normal(scale=2.0, size=(rows, dim))
    return data


def _msd(data: npt.NDArray[np.float64], centres: npt.NDArray[np.float64]) -> float:
    dist = ((data[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return float(dist.min(axis=1).mean())


def _centres(path: Path) -> npt.NDArray[np.float64]:
    loaded = ndarray_file.load(path)
    assert isinstance(loaded, list)
    return np.asarray(loaded[0], dtype=np.float64)


def test_kmeans_on_three_hosts_reaches_the_single_host_msd(tmp_path: Path) -> None:
    data = _blobs()
    hp = {"feature_dim": data.shape[1], "k": 5, "mini_batch_size": 500}
    shares = [data[:2500], data[2500:], data[:0]]
    hosts = train(tmp_path, "kmeans", hp, shares, "three")
    (single,) = train(tmp_path, "kmeans", hp, [data], "one")

    many = _msd(data, _centres(hosts[0].model()))
    one = _msd(data, _centres(single.model()))
    assert many <= one * 1.01, (many, one)
    for host in hosts[1:]:
        assert not any((host.root / "model").iterdir())
    for host in hosts:
        assert f"#quality_metric: host={host.name}, train msd <loss>=" in host.output


def test_kmeans_on_three_hosts_with_samples_smaller_than_their_shares(tmp_path: Path) -> None:
    """Each host keeps a sample of ~200 of its rows (``SAGEMAKER_EMULATOR_KMEANS_SAMPLE_BYTES``),
    weighted by the rows it saw, then every host reads its share once more for the last step."""
    data = _blobs()
    hp = {"feature_dim": data.shape[1], "k": 5, "mini_batch_size": 500}
    shares = [data[:2500], data[2500:], data[:0]]
    small = {"SAGEMAKER_EMULATOR_KMEANS_SAMPLE_BYTES": str(200 * 4 * data.shape[1])}
    hosts = train(tmp_path, "kmeans", hp, shares, "three", small)
    (single,) = train(tmp_path, "kmeans", hp, [data], "one")

    sampled = _msd(data, _centres(hosts[0].model()))
    whole = _msd(data, _centres(single.model()))
    assert sampled <= whole * 1.01, (sampled, whole)
    assert "Polished the centres over 200 of 2500 rows and 1 further pass(es)" in hosts[0].output
    assert "the 'train' channel was read 2 time(s)" in hosts[1].output


def test_a_data_error_on_one_host_fails_every_host(tmp_path: Path) -> None:
    data = _blobs(600, 4)
    bad = data[300:].copy()
    bad[5, 2] = np.nan
    hp = {"feature_dim": 4, "k": 3}
    hosts = [f"algo-{i}" for i in (1, 2)]
    base = _loopback_base()
    procs = []
    logs = []
    for host, share in zip(hosts, [data[:300], bad], strict=True):
        root = tmp_path / host
        _tree(root, host, hosts, hp, share)
        env = dict(os.environ)
        env.update(
            SAGEMAKER_BASE_DIR=str(root),
            PYTHONPATH=str(REPO),
            SAGEMAKER_EMULATOR_HOSTS=f"algo-1={base}.2,algo-2={base}.3",
        )
        # Output to a file, not a pipe nobody reads while waiting: a full pipe would block the
        # host (and a retrying host under load prints more).
        log = (tmp_path / f"{host}.log").open("w")
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "algorithms.kmeans", "train"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    codes = [p.wait(timeout=TIMEOUT) for p in procs]
    for log in logs:
        log.close()
    assert codes == [1, 1], [(tmp_path / f"{h}.log").read_text()[-2000:] for h in hosts]
    leader = (tmp_path / "algo-1" / "output" / "failure").read_text()
    assert leader.startswith("ClientError: algo-2: ")
    assert "NaN" in leader
