"""Shared pieces of the SDK-flow tests: the runtime, the census data, MXNet model loading."""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sdk.data import census_csv
from tests.classic_env import classic_python
from tests.sdk.tiers import ready_runtime

REPO = Path(__file__).resolve().parents[2]
CENSUS_CSV = census_csv()


@pytest.fixture(scope="session")
def sagemaker_emulator_runtime() -> str:
    """Overrides the plugin's choice (the server's `auto`): these tiers must not guess."""
    return ready_runtime()


_MX_LOAD = """
import io, json, sys, tarfile, numpy
import mxnet as mx
tar = tarfile.open(sys.argv[1])
names = tar.getnames()
tar.extractall(sys.argv[2])
loaded = mx.ndarray.load(sys.argv[2] + "/model_algo-1")
if isinstance(loaded, dict):
    arrays = {k: v.asnumpy() for k, v in loaded.items()}
    kind = "dict"
else:
    arrays = {str(i): v.asnumpy() for i, v in enumerate(loaded)}
    kind = "list"
numpy.savez(sys.argv[3], **arrays)
print(json.dumps({"kind": kind, "names": names, "keys": list(arrays)}))
"""


@pytest.fixture(scope="session")
def mxnet_load(tmp_path_factory: pytest.TempPathFactory) -> Callable[[bytes], Any]:
    """Open a model.tar.gz the way the classic notebooks do: untar, `mx.ndarray.load`.

    Runs in the classic venv (MXNet 1.9.1); returns a dict of arrays or a list, as MXNet does,
    plus the tar member names under the key `__names__` / attribute.
    """

    def load(model_tar_gz: bytes) -> Any:
        work = tmp_path_factory.mktemp("mx")
        (work / "model.tar.gz").write_bytes(model_tar_gz)
        out = subprocess.run(
            [
                str(classic_python()),
                "-c",
                _MX_LOAD,
                str(work / "model.tar.gz"),
                str(work / "x"),
                str(work / "arrays.npz"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        meta = json.loads(out.stdout.strip().splitlines()[-1])
        with np.load(work / "arrays.npz") as npz:
            arrays = {k: npz[k] for k in meta["keys"]}
        model: Any = arrays if meta["kind"] == "dict" else [arrays[k] for k in meta["keys"]]
        return MxModel(model, meta["names"])

    return load


class MxModel:
    def __init__(self, arrays: Any, tar_names: list[str]) -> None:
        self.arrays = arrays
        self.tar_names = tar_names


@pytest.fixture(scope="session")
def census() -> np.ndarray:
    """The classic notebook's matrix: counties with no gap, numeric columns, MinMax-scaled."""
    with CENSUS_CSV.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    numeric = [i for i, n in enumerate(header) if n not in ("CensusId", "State", "County")]
    kept = [r for r in body if all(cell != "" for cell in r)]
    x = np.array([[float(r[i]) for i in numeric] for r in kept], dtype=np.float64)
    lo, hi = x.min(axis=0), x.max(axis=0)
    scaled: np.ndarray = ((x - lo) / (hi - lo)).astype(np.float32)
    assert scaled.shape == (3218, 34)
    return scaled


def s3_bytes(s3: Any, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body
