"""ndarray_file against the real MXNet 1.9.1 (in .venv-classic): same bytes, and mx.nd.load reads ours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from algorithms.common import ndarray_file
from tests.classic_env import run_classic

# The cases are written as .npy files; the classic venv saves each with mx.nd.save.
CASES: dict[str, list[tuple[str, np.ndarray]]] = {
    "kmeans": [("", np.random.default_rng(1).normal(size=(8, 7)).astype(np.float32))],
    "pca": [
        ("s", np.sort(np.random.default_rng(2).random(33)).astype(np.float32)),
        ("v", np.random.default_rng(3).normal(size=(34, 33)).astype(np.float32)),
        ("mean", np.random.default_rng(4).random((1, 34)).astype(np.float32)),
    ],
    "dtypes": [
        ("", np.arange(10, dtype=np.float64).reshape(2, 5)),
        ("", np.arange(6, dtype=np.int32)),
        ("", np.arange(6, dtype=np.int64).reshape(3, 2, 1)),
        ("", np.arange(4, dtype=np.uint8)),
        ("", np.arange(4, dtype=np.float16)),
        ("", np.zeros((0, 3), dtype=np.float32)),
    ],
}

SAVE_WITH_MXNET = """
import sys, numpy as np, mxnet as mx
folder = sys.argv[1]
for case in sys.argv[2:]:
    names = open(f"{folder}/{case}.names").read().split(",")
    arrays = [mx.nd.array(np.load(f"{folder}/{case}_{i}.npy"), dtype=np.load(f"{folder}/{case}_{i}.npy").dtype)
              for i in range(len(names))]
    data = dict(zip(names, arrays)) if names[0] else arrays
    mx.nd.save(f"{folder}/{case}.mxnet", data)
"""

LOAD_WITH_MXNET = """
import sys, json, numpy as np, mxnet as mx
out = {}
for path in sys.argv[1:]:
    loaded = mx.nd.load(path)
    items = loaded.items() if isinstance(loaded, dict) else enumerate(loaded)
    out[path] = {"kind": type(loaded).__name__,
                 "arrays": [[str(k), a.dtype.__name__ if hasattr(a.dtype, "__name__") else str(a.dtype),
                             list(a.shape), a.asnumpy().ravel().tolist()] for k, a in items]}
print(json.dumps(out))
"""


def _write_cases(folder: Path) -> None:
    for case, arrays in CASES.items():
        (folder / f"{case}.names").write_text(",".join(name for name, _ in arrays))
        for index, (_, array) in enumerate(arrays):
            np.save(folder / f"{case}_{index}.npy", array)


def _as_saved(case: str) -> list[np.ndarray] | dict[str, np.ndarray]:
    arrays = CASES[case]
    if arrays[0][0]:
        return {name: array for name, array in arrays}
    return [array for _, array in arrays]


def test_our_bytes_equal_mx_nd_save(tmp_path: Path) -> None:
    _write_cases(tmp_path)
    run_classic(SAVE_WITH_MXNET, str(tmp_path), *CASES)
    for case in CASES:
        theirs = (tmp_path / f"{case}.mxnet").read_bytes()
        assert ndarray_file.dumps(_as_saved(case)) == theirs, case
        # and we read what MXNet wrote
        loaded = ndarray_file.loads(theirs)
        expected = _as_saved(case)
        if isinstance(expected, dict):
            assert isinstance(loaded, dict)
            assert list(loaded) == list(expected)
            pairs = [(loaded[name], expected[name]) for name in expected]
        else:
            assert isinstance(loaded, list)
            pairs = list(zip(loaded, expected, strict=True))
        for ours, original in pairs:
            assert ours.dtype == original.dtype
            np.testing.assert_array_equal(ours, original)


def test_mx_nd_load_reads_our_model_files(tmp_path: Path) -> None:
    kmeans = tmp_path / "kmeans_model_algo-1"
    pca = tmp_path / "pca_model_algo-1"
    ndarray_file.save(kmeans, _as_saved("kmeans"))
    ndarray_file.save(pca, _as_saved("pca"))
    result = json.loads(run_classic(LOAD_WITH_MXNET, str(kmeans), str(pca)))

    kmeans_loaded = result[str(kmeans)]
    assert kmeans_loaded["kind"] == "list"
    ((_, dtype, shape, values),) = kmeans_loaded["arrays"]
    assert (dtype, shape) == ("float32", [8, 7])
    np.testing.assert_array_equal(np.float32(values), CASES["kmeans"][0][1].ravel())

    pca_loaded = result[str(pca)]
    assert pca_loaded["kind"] == "dict"
    assert [name for name, *_ in pca_loaded["arrays"]] == ["s", "v", "mean"]
    for (name, dtype, shape, values), (_, original) in zip(
        pca_loaded["arrays"], CASES["pca"], strict=True
    ):
        assert dtype == "float32", name
        assert shape == list(original.shape), name
        np.testing.assert_array_equal(np.float32(values), original.ravel())
