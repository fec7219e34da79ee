"""k-means and PCA train in memory that does not grow with the data: a ``python -m
algorithms.kmeans train``-equivalent subprocess on a RecordIO channel several times its sample
budget (``SAGEMAKER_EMULATOR_KMEANS_SAMPLE_BYTES``) keeps its peak RSS far below the data's size,
and its centres stay within a tolerance of the run that keeps every row (the budget above the
data); PCA, which streams, does the same on the same channel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from algorithms.common import ndarray_file, recordio
from algorithms.kmeans.fit import assign
from algorithms.kmeans.polish import SAMPLE_BYTES_ENV

REPO = Path(__file__).resolve().parents[2]
ROWS = 320_000
DIM = 64
K = 8
MIB = 1 << 20

# Runs ``train`` in this process and prints how far the peak RSS rose above the RSS before it
# (the imports are done by then), in KiB: VmHWM belongs to this address space only.
_CHILD = """
import sys
from pathlib import Path
from algorithms.common.optml import OptMl
from importlib import import_module
train = import_module(f"algorithms.{sys.argv[1]}.train").train

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(field + " not found")

before = status("VmRSS")
train(OptMl())
print("GROWTH_KIB", status("VmHWM") - before)
"""


def _blobs() -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=3.0, size=(K, DIM))
    labels = rng.integers(0, K, size=ROWS)
    data: npt.NDArray[np.float32] = (centres[labels] + rng.normal(size=(ROWS, DIM))).astype(
        np.float32
    )
    return data


def _tree(root: Path, channel: Path, hyperparameters: dict[str, str] | None = None) -> Path:
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(
        json.dumps(
            hyperparameters or {"feature_dim": str(DIM), "k": str(K), "mini_batch_size": "2000"}
        )
    )
    (config / "inputdataconfig.json").write_text(
        json.dumps({"train": {"TrainingInputMode": "File", "RecordWrapperType": "None"}})
    )
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    (root / "input" / "data").mkdir(parents=True)
    (root / "input" / "data" / "train").symlink_to(channel)
    return root


def _train(
    root: Path, budget: int, algorithm: str = "kmeans"
) -> tuple[float, npt.NDArray[np.float32], str]:
    env = dict(os.environ)
    env.update(SAGEMAKER_BASE_DIR=str(root), PYTHONPATH=str(REPO))
    env[SAMPLE_BYTES_ENV] = str(budget)
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, algorithm],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    growth = next(
        int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("GROWTH_KIB")
    )
    loaded = ndarray_file.load(root / "model" / "model_algo-1")
    first = loaded[0] if isinstance(loaded, list) else loaded["v"]
    return growth / 1024.0, np.asarray(first), proc.stdout + proc.stderr


def _msd(x: npt.NDArray[np.float32], centres: npt.NDArray[np.float32]) -> float:
    return float(assign(x, centres)[1].mean())


def _channel(tmp_path: Path, data: npt.NDArray[np.float32]) -> Path:
    channel = tmp_path / "channel"
    channel.mkdir()
    with open(channel / "part-0.pbr", "wb") as handle:
        recordio.write_dense(handle, data)
    return channel


def test_kmeans_memory_stays_bounded_on_data_larger_than_the_budget(tmp_path: Path) -> None:
    data = _blobs()
    channel = _channel(tmp_path, data)
    data_mib = data.nbytes / MIB  # 78 MiB

    small_growth, small, output = _train(_tree(tmp_path / "small", channel), 2 * MIB)
    _, whole, _ = _train(_tree(tmp_path / "whole", channel), 4 * data.nbytes)

    # Keeping every row (the former behaviour under 1 GiB) would raise the peak by the data's
    # size; the bounded run holds the 2 MiB sample, a few mini-batches and reader buffers.
    assert small_growth < data_mib / 2, (small_growth, data_mib)
    assert "the 'train' channel was read 2 time(s)" in output
    assert _msd(data, small) <= _msd(data, whole) * 1.01


def test_pca_memory_stays_bounded(tmp_path: Path) -> None:
    data = _blobs()
    channel = _channel(tmp_path, data)
    for mode in ("regular", "randomized"):
        hyperparameters = {
            "feature_dim": str(DIM),
            "num_components": "4",
            "mini_batch_size": "2000",
            "algorithm_mode": mode,
        }
        growth, _, _ = _train(_tree(tmp_path / mode, channel, hyperparameters), 0, "pca")
        assert growth < data.nbytes / MIB / 2, (mode, growth)
