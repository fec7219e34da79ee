"""The built-in images' contract, end to end: ``python -m algorithms.<name> train|serve`` run as
subprocesses on a temporary /opt/ml tree (SAGEMAKER_BASE_DIR), on the census table.

Covers the quality targets of issue 2 (PCA equals a float64 SVD to 1e-5; k-means on the top five
projections within 2% of scikit-learn's KMeans(n_init=10)), the log lines, the failure file, the
exit codes, SIGTERM, and every request/response format of the served models.
"""

from __future__ import annotations

import http.client
import importlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from algorithms.common import ndarray_file, recordio, records
from tests.census_data import census_matrix
from tests.census_published import published_census_projections

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


# --- helpers ------------------------------------------------------------------------------------


def make_tree(
    root: Path,
    hyperparameters: Mapping[str, object],
    channels: Mapping[str, tuple[bytes, str | None]],
) -> Path:
    """A staged /opt/ml: config JSONs as the platform writes them, one file per channel."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    data_config: dict[str, dict[str, str]] = {}
    for name, (payload, content_type) in channels.items():
        folder = root / "input" / "data" / name
        folder.mkdir(parents=True)
        (folder / "matrix_0.pbr").write_bytes(payload)
        entry = {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        if content_type is not None:
            entry["ContentType"] = content_type
        data_config[name] = entry
    (config / "inputdataconfig.json").write_text(json.dumps(data_config))
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}
        )
    )
    return root


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["SAGEMAKER_BASE_DIR"] = str(root)
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


@dataclass
class Run:
    code: int
    lines: list[str]
    failure: str | None


def run_train(algorithm: str, root: Path) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", f"algorithms.{algorithm}", "train"],
        env=_env(root),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    failure_path = root / "output" / "failure"
    failure = failure_path.read_text() if failure_path.exists() else None
    return Run(proc.returncode, proc.stdout.splitlines(), failure)


def _sdk_common() -> Any:
    """The SageMaker SDK's RecordIO helpers (untyped), imported only by the tests that use them."""
    return importlib.import_module("sagemaker.amazon.common")


def sdk_recordio(matrix: npt.NDArray[np.float32]) -> bytes:
    """RecordIO as the SageMaker SDK's ``record_set`` writes it."""
    buffer = io.BytesIO()
    _sdk_common().write_numpy_to_dense_tensor(buffer, matrix)
    return buffer.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Endpoint:
    """``serve`` as a subprocess on a free port."""

    def __init__(self, algorithm: str, root: Path) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"algorithms.{algorithm}", "serve"],
            env=_env(
                root, SAGEMAKER_BIND_TO_PORT=str(self.port), SAGEMAKER_BIND_TO_HOST="127.0.0.1"
            ),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.get("/ping")[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = self.proc.stdout.read() if self.proc.stdout else ""
                raise RuntimeError(f"serve did not come up:\n{output}")
            time.sleep(0.05)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def invoke(
        self, body: bytes, content_type: str | None, accept: str | None = None
    ) -> tuple[int, bytes, str]:
        headers = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if accept is not None:
            headers["Accept"] = accept
        self.conn.request("POST", "/invocations", body=body, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read(), resp.getheader("Content-Type") or ""

    def stop(self) -> int:
        self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()
        return code


def json_body(rows: npt.NDArray[np.float32], form: str) -> bytes:
    if form == "features":
        instances = [{"features": r.tolist()} for r in rows]
    elif form == "values":
        instances = [{"data": {"features": {"values": r.tolist()}}} for r in rows]
    else:  # sparse
        instances = [
            {
                "data": {
                    "features": {
                        "keys": np.flatnonzero(r).tolist(),
                        "shape": [rows.shape[1]],
                        "values": r[r != 0].tolist(),
                    }
                }
            }
            for r in rows
        ]
    return json.dumps({"instances": instances}).encode()


def csv_body(rows: npt.NDArray[np.float32]) -> bytes:
    return "".join(",".join(repr(float(v)) for v in r) + "\n" for r in rows).encode()


def read_label_records(body: bytes) -> list[dict[str, list[float]]]:
    """Parse a RecordIO response with the SDK's own reader."""
    read_records = _sdk_common().read_records
    return [
        {key: list(value.float32_tensor.values) for key, value in record.label.items()}
        for record in read_records(io.BytesIO(body))
    ]


# --- PCA ----------------------------------------------------------------------------------------

PCA_HP = {"feature_dim": "34", "num_components": "33", "mini_batch_size": "500"}


@pytest.fixture(scope="module")
def pca_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    root = make_tree(
        tmp_path_factory.mktemp("pca"), PCA_HP, {"train": (sdk_recordio(census_matrix()), None)}
    )
    return root, run_train("pca", root)


def _svd_reference() -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]
]:
    x = census_matrix().astype(np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    return s, vt, mean


def test_pca_train_logs_and_artifact(pca_job: tuple[Path, Run]) -> None:
    root, run = pca_job
    assert run.code == 0, "\n".join(run.lines)
    assert run.failure is None
    assert run.lines[0] == "Docker entrypoint called with argument(s): train"
    text = "\n".join(run.lines)
    assert "] 34 feature(s) found in 'data'." in text
    assert "] #progress_metric: host=algo-1, completed 100.0 % of epochs" in text
    assert "] #throughput_metric: host=algo-1, train throughput=" in text
    assert "] Test data is not provided." in text
    assert "#quality_metric" not in text  # PCA reports no quality metric
    metric_lines = [
        json.loads(line[len("#metrics ") :]) for line in run.lines if line.startswith("#metrics ")
    ]
    assert {m["Dimensions"]["Algorithm"] for m in metric_lines} == {"PCA"}
    names = {name for m in metric_lines for name in m["Metrics"]}
    assert {"initialize.time", "epochs", "update.time", "finalize.time", "totaltime"} <= names
    # Plain lines carry the real prefix: [MM/DD/YYYY HH:MM:SS INFO <thread id>]
    import re

    prefix = re.compile(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d (INFO|WARNING|ERROR) \d+\] ")
    assert all(prefix.match(line) or line.startswith("#metrics ") for line in run.lines[1:])

    model = ndarray_file.load(root / "model" / "model_algo-1")
    assert isinstance(model, dict) and list(model) == ["s", "v", "mean"]
    assert model["s"].shape == (33,) and model["v"].shape == (34, 33)
    assert model["mean"].shape == (1, 34)
    assert all(a.dtype == np.float32 for a in model.values())


def test_pca_matches_float64_svd(pca_job: tuple[Path, Run]) -> None:
    root, _ = pca_job
    model = ndarray_file.load(root / "model" / "model_algo-1")
    assert isinstance(model, dict)
    s, vt, mean = _svd_reference()
    np.testing.assert_allclose(model["s"], s[:33][::-1], rtol=1e-5)
    np.testing.assert_allclose(model["mean"][0], mean, rtol=1e-5)
    x = census_matrix().astype(np.float64)
    ours = (x - model["mean"].astype(np.float64)) @ model["v"].astype(np.float64)
    reference = (x - mean) @ vt[:33][::-1].T
    signs = np.sign(np.sum(ours * reference, axis=0))
    scale = np.abs(reference).max()
    assert np.abs(ours - reference * signs).max() <= 1e-5 * scale
    # The five largest components individually, relative to their own scale.
    top = slice(28, 33)
    err = np.abs(ours[:, top] - (reference * signs)[:, top]).max(axis=0)
    assert np.all(err <= 1e-5 * np.abs(reference[:, top]).max(axis=0))


@pytest.fixture(scope="module")
def pca_endpoint(pca_job: tuple[Path, Run]) -> Iterator[Endpoint]:
    root, run = pca_job
    assert run.code == 0
    endpoint = Endpoint("pca", root)
    yield endpoint
    assert endpoint.stop() == 0


def _pca_expected(root: Path, rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    model = ndarray_file.load(root / "model" / "model_algo-1")
    assert isinstance(model, dict)
    mean = model["mean"].astype(np.float64)
    projected: npt.NDArray[np.float64] = (rows.astype(np.float64) - mean) @ model["v"].astype(
        np.float64
    )
    return projected


REQUESTS = ["csv", "json-features", "json-values", "json-sparse", "jsonlines", "recordio"]


def _request(kind: str, rows: npt.NDArray[np.float32]) -> tuple[bytes, str]:
    if kind == "csv":
        return csv_body(rows), "text/csv"
    if kind.startswith("json-"):
        return json_body(rows, kind[5:]), "application/json"
    if kind == "jsonlines":
        lines = [json.dumps({"features": r.tolist()}) for r in rows]
        return "\n".join(lines).encode(), "application/jsonlines"
    return sdk_recordio(rows), "application/x-recordio-protobuf"


@pytest.mark.parametrize("kind", REQUESTS)
def test_pca_serves_every_request_type(
    pca_job: tuple[Path, Run], pca_endpoint: Endpoint, kind: str
) -> None:
    root, _ = pca_job
    rows = census_matrix()[:5]
    body, content_type = _request(kind, rows)
    status, payload, ctype = pca_endpoint.invoke(body, content_type)
    assert status == 200, payload
    assert ctype == "application/json"  # the default Accept
    got = np.array([p["projection"] for p in json.loads(payload)["projections"]])
    np.testing.assert_allclose(got, _pca_expected(root, rows), atol=1e-5)


def test_pca_endpoint_answers_the_real_services_published_projections(
    pca_endpoint: Endpoint,
) -> None:
    published = published_census_projections()
    status, payload, _ = pca_endpoint.invoke(csv_body(census_matrix()[:5]), "text/csv")
    assert status == 200, payload
    got = np.array([p["projection"] for p in json.loads(payload)["projections"]])
    # Most significant first, as published; signs included.
    top = got[:, ::-1][:, : published.table.shape[1]]
    np.testing.assert_allclose(top, published.table, atol=5e-6, rtol=0)


def test_pca_response_types(pca_job: tuple[Path, Run], pca_endpoint: Endpoint) -> None:
    root, _ = pca_job
    rows = census_matrix()[10:13]
    expected = _pca_expected(root, rows)
    body = csv_body(rows)
    status, payload, ctype = pca_endpoint.invoke(body, "text/csv", "application/jsonlines")
    assert (status, ctype) == (200, "application/jsonlines")
    got = [json.loads(line)["projection"] for line in payload.decode().splitlines()]
    np.testing.assert_allclose(got, expected, atol=1e-5)

    status, payload, ctype = pca_endpoint.invoke(
        body, "text/csv", "application/x-recordio-protobuf"
    )
    assert (status, ctype) == (200, "application/x-recordio-protobuf")
    records = read_label_records(payload)
    assert [list(r) for r in records] == [["projection"]] * 3
    np.testing.assert_allclose([r["projection"] for r in records], expected, atol=1e-5)

    status, payload, ctype = pca_endpoint.invoke(body, "text/csv", "text/csv")
    assert (status, ctype) == (200, "text/csv")
    got_csv = [[float(v) for v in line.split(",")] for line in payload.decode().splitlines()]
    np.testing.assert_allclose(got_csv, expected, atol=1e-5)


def test_pca_bad_requests_are_4xx_and_it_keeps_serving(pca_endpoint: Endpoint) -> None:
    row = census_matrix()[:1]
    status, payload, _ = pca_endpoint.invoke(csv_body(row[:, :30]), "text/csv")
    assert status == 400 and b"feature_dim is 34" in payload
    assert pca_endpoint.invoke(b"{not json", "application/json")[0] == 400
    assert pca_endpoint.invoke(b"garbage", "application/x-recordio-protobuf")[0] == 400
    assert pca_endpoint.invoke(b"", "text/csv")[0] == 400
    assert pca_endpoint.invoke(csv_body(row), "image/png")[0] == 415
    assert pca_endpoint.invoke(csv_body(row), "text/csv", "image/png")[0] in (406, 415)
    assert pca_endpoint.invoke(csv_body(row), "text/csv")[0] == 200


def test_pca_sparse_shape_too_big_is_a_400(pca_endpoint: Endpoint) -> None:
    status, payload, _ = pca_endpoint.invoke(
        _huge_sparse_record(), "application/x-recordio-protobuf"
    )
    assert status == 400, payload
    assert payload.startswith(b"unable to evaluate payload provided: request body")
    assert b"shape [1000000000000], 1000000000000 features, but feature_dim is 34" in payload


def test_pca_randomized_from_csv_without_mean(tmp_path: Path) -> None:
    x = census_matrix()
    hp = {
        "feature_dim": "34",
        "num_components": "5",
        "mini_batch_size": "200",
        "algorithm_mode": "randomized",
        "subtract_mean": "False",
    }
    root = make_tree(tmp_path, hp, {"train": (csv_body(x), "text/csv;label_size=0")})
    run = run_train("pca", root)
    assert run.code == 0, "\n".join(run.lines)
    model = ndarray_file.load(root / "model" / "model_algo-1")
    assert isinstance(model, dict) and list(model) == ["s", "v"]  # no mean when not centred
    s = np.linalg.svd(x.astype(np.float64), compute_uv=False)
    # A sketch, not exact: on this flat spectrum it is within 1e-4 of the SVD.
    np.testing.assert_allclose(model["s"], s[:5][::-1], rtol=1e-4)
    endpoint = Endpoint("pca", root)
    try:
        status, payload, _ = endpoint.invoke(csv_body(x[:3]), "text/csv")
        assert status == 200
        got = np.array([p["projection"] for p in json.loads(payload)["projections"]])
        np.testing.assert_allclose(got, x[:3].astype(np.float64) @ model["v"], atol=1e-5)
    finally:
        assert endpoint.stop() == 0


# --- k-means ------------------------------------------------------------------------------------


def _top5_projections(pca_root: Path) -> npt.NDArray[np.float32]:
    """What the census notebook feeds k-means: the 5 largest components, most significant first."""
    projections = _pca_expected(pca_root, census_matrix())
    return np.ascontiguousarray(projections[:, -5:][:, ::-1], dtype=np.float32)


@pytest.fixture(scope="module")
def kmeans_job(
    pca_job: tuple[Path, Run], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Run, npt.NDArray[np.float32]]:
    data = _top5_projections(pca_job[0])
    # Only what the SDK's fit(record_set) sends.
    hp = {"feature_dim": "5", "k": "7", "force_dense": "True"}
    root = make_tree(
        tmp_path_factory.mktemp("kmeans"), hp, {"train": (recordio.encode_dense(data), None)}
    )
    return root, run_train("kmeans", root), data


def test_kmeans_quality_within_two_percent_of_sklearn(
    kmeans_job: tuple[Path, Run, npt.NDArray[np.float32]],
) -> None:
    from sklearn.cluster import KMeans

    root, run, data = kmeans_job
    assert run.code == 0, "\n".join(run.lines)
    model = ndarray_file.load(root / "model" / "model_algo-1")
    assert isinstance(model, list) and len(model) == 1
    centres = model[0]
    assert centres.shape == (7, 5) and centres.dtype == np.float32
    x = data.astype(np.float64)
    ours = (
        (((x[:, None, :] - centres[None].astype(np.float64)) ** 2).sum(axis=2)).min(axis=1).mean()
    )
    reference = KMeans(n_clusters=7, n_init=10, random_state=0).fit(x).inertia_ / x.shape[0]
    assert ours <= 1.02 * reference, (ours, reference)


def test_kmeans_log_lines(kmeans_job: tuple[Path, Run, npt.NDArray[np.float32]]) -> None:
    _, run, _ = kmeans_job
    text = "\n".join(run.lines)
    assert run.lines[0] == "Docker entrypoint called with argument(s): train"
    assert "'extra_center_factor' was set to 'auto', evaluated to 10." in text
    assert "] 5 feature(s) found in 'data'." in text
    assert "Effective batch size used to initialize is 3218" in text
    assert "] shrinking 70 centers into 7" in text
    attempts = [line for line in run.lines if "local kmeans attempt #" in line]
    assert len(attempts) == 10 and "attempt #9. Current mean square distance " in attempts[-1]
    best = min(float(line.rsplit(" ", 1)[1]) for line in attempts)
    quality = [
        line for line in run.lines if "#quality_metric: host=algo-1, train msd <loss>=" in line
    ]
    assert len(quality) == 1
    assert float(quality[0].rsplit("=", 1)[1]) == pytest.approx(best, abs=1e-6)
    assert "#progress_metric: host=algo-1, completed 100.0 % of epochs" in text
    assert "#throughput_metric: host=algo-1, train throughput=" in text
    assert "] Test data is not provided." in text
    metric_lines = [json.loads(line[9:]) for line in run.lines if line.startswith("#metrics ")]
    assert {m["Dimensions"]["Algorithm"] for m in metric_lines} == {"AWS/KMeansWebscale"}
    names = {name for m in metric_lines for name in m["Metrics"]}
    assert {"initialize.time", "update.time", "_shrink.time", "model.serialize.time"} <= names


def test_kmeans_is_reproducible(
    kmeans_job: tuple[Path, Run, npt.NDArray[np.float32]], tmp_path: Path
) -> None:
    first_root, _, data = kmeans_job
    hp = {"feature_dim": "5", "k": "7", "force_dense": "True"}
    root = make_tree(tmp_path / "again", hp, {"train": (recordio.encode_dense(data), None)})
    assert run_train("kmeans", root).code == 0
    assert (root / "model" / "model_algo-1").read_bytes() == (
        first_root / "model" / "model_algo-1"
    ).read_bytes()


def test_kmeans_test_channel_and_csv_input(
    kmeans_job: tuple[Path, Run, npt.NDArray[np.float32]], tmp_path: Path
) -> None:
    _, _, data = kmeans_job
    hp = {
        "feature_dim": "5",
        "k": "7",
        "eval_metrics": '["msd", "ssd"]',
        "mini_batch_size": "1000",
        "extra_center_factor": "4",
        "local_lloyd_num_trials": "3",
    }
    channels = {
        "train": (csv_body(data), "text/csv;label_size=0"),
        "test": (csv_body(data[:500]), "text/csv;label_size=0"),
    }
    root = make_tree(tmp_path / "t", hp, channels)
    run = run_train("kmeans", root)
    assert run.code == 0, "\n".join(run.lines)
    text = "\n".join(run.lines)
    assert "shrinking 28 centers into 7" in text
    assert len([line for line in run.lines if "local kmeans attempt #" in line]) == 3
    assert "Test data is not provided." not in text
    model = ndarray_file.load(root / "model" / "model_algo-1")
    assert isinstance(model, list)
    d2 = (((data[:500, None, :].astype(np.float64) - model[0][None]) ** 2).sum(axis=2)).min(axis=1)
    msd = [line for line in run.lines if "#quality_metric: host=algo-1, test msd <loss>=" in line]
    ssd = [line for line in run.lines if "#quality_metric: host=algo-1, test ssd <loss>=" in line]
    assert len(msd) == 1 and len(ssd) == 1
    assert float(msd[0].rsplit("=", 1)[1]) == pytest.approx(d2.mean(), rel=1e-4)
    assert float(ssd[0].rsplit("=", 1)[1]) == pytest.approx(d2.sum(), rel=1e-4)


@pytest.fixture(scope="module")
def kmeans_endpoint(kmeans_job: tuple[Path, Run, npt.NDArray[np.float32]]) -> Iterator[Endpoint]:
    root, run, _ = kmeans_job
    assert run.code == 0
    endpoint = Endpoint("kmeans", root)
    yield endpoint
    assert endpoint.stop() == 0


def _kmeans_expected(root: Path, rows: npt.NDArray[np.float32]) -> tuple[np.ndarray, np.ndarray]:
    model = ndarray_file.load(root / "model" / "model_algo-1")
    assert isinstance(model, list)
    d2 = ((rows[:, None, :].astype(np.float64) - model[0][None].astype(np.float64)) ** 2).sum(
        axis=2
    )
    return d2.argmin(axis=1).astype(np.float64), np.sqrt(d2.min(axis=1))


@pytest.mark.parametrize("kind", REQUESTS)
def test_kmeans_serves_every_request_type(
    kmeans_job: tuple[Path, Run, npt.NDArray[np.float32]], kmeans_endpoint: Endpoint, kind: str
) -> None:
    root, _, data = kmeans_job
    rows = data[:6]
    body, content_type = _request(kind, rows)
    status, payload, ctype = kmeans_endpoint.invoke(body, content_type)
    assert (status, ctype) == (200, "application/json"), payload
    predictions = json.loads(payload)["predictions"]
    assert [list(p) for p in predictions] == [["distance_to_cluster", "closest_cluster"]] * 6
    clusters, distances = _kmeans_expected(root, rows)
    assert [p["closest_cluster"] for p in predictions] == clusters.tolist()
    assert all(isinstance(p["closest_cluster"], float) for p in predictions)
    np.testing.assert_allclose(
        [p["distance_to_cluster"] for p in predictions], distances, rtol=1e-5
    )


def test_kmeans_response_types(
    kmeans_job: tuple[Path, Run, npt.NDArray[np.float32]], kmeans_endpoint: Endpoint
) -> None:
    root, _, data = kmeans_job
    rows = data[100:104]
    clusters, distances = _kmeans_expected(root, rows)
    body = sdk_recordio(rows)
    kind = "application/x-recordio-protobuf"

    status, payload, ctype = kmeans_endpoint.invoke(body, kind, "text/csv")
    assert (status, ctype) == (200, "text/csv")
    table = np.array(
        [[float(v) for v in line.split(",")] for line in payload.decode().splitlines()]
    )
    assert table[:, 0].tolist() == clusters.tolist()
    np.testing.assert_allclose(table[:, 1], distances, rtol=1e-5)

    status, payload, ctype = kmeans_endpoint.invoke(body, kind, "application/jsonlines")
    assert (status, ctype) == (200, "application/jsonlines")
    lines = payload.decode().splitlines()
    assert lines[0].startswith('{"distance_to_cluster": ')
    assert [json.loads(line)["closest_cluster"] for line in lines] == clusters.tolist()

    status, payload, ctype = kmeans_endpoint.invoke(body, kind, kind)
    assert (status, ctype) == (200, kind)
    records = read_label_records(payload)
    assert [r["closest_cluster"][0] for r in records] == clusters.tolist()
    np.testing.assert_allclose([r["distance_to_cluster"][0] for r in records], distances, rtol=1e-5)


def test_kmeans_bad_requests_are_4xx(kmeans_endpoint: Endpoint) -> None:
    status, payload, _ = kmeans_endpoint.invoke(b"1,2,3\n", "text/csv")
    assert status == 400 and payload.startswith(b"unable to evaluate payload provided")
    assert kmeans_endpoint.invoke(b'{"instances": [{"x": 1}]}', "application/json")[0] == 400
    assert kmeans_endpoint.invoke(b"1,2,3,4,5\n", None)[0] == 415
    assert kmeans_endpoint.invoke(b"1,2,3,4,5\n", "text/csv")[0] == 200


MX_LOAD = """
import json, sys
import mxnet as mx
pca = mx.nd.load(sys.argv[1])
km = mx.nd.load(sys.argv[2])
print(json.dumps({
    "pca": {k: [list(v.shape), v.asnumpy().ravel()[:3].tolist()] for k, v in pca.items()},
    "pca_order": list(pca),
    "kmeans": [[list(v.shape), v.asnumpy().ravel()[:3].tolist()] for v in km],
}))
"""


def test_trained_artifacts_load_with_real_mxnet(
    pca_job: tuple[Path, Run], kmeans_job: tuple[Path, Run, npt.NDArray[np.float32]]
) -> None:
    from tests.classic_env import run_classic

    pca_path = pca_job[0] / "model" / "model_algo-1"
    kmeans_path = kmeans_job[0] / "model" / "model_algo-1"
    loaded = json.loads(run_classic(MX_LOAD, str(pca_path), str(kmeans_path)))
    ours = ndarray_file.load(pca_path)
    assert isinstance(ours, dict)
    assert loaded["pca_order"] == ["s", "v", "mean"]
    for name, (shape, head) in loaded["pca"].items():
        assert shape == list(ours[name].shape)
        assert head == ours[name].ravel()[:3].tolist()
    centres = ndarray_file.load(kmeans_path)
    assert isinstance(centres, list)
    assert loaded["kmeans"] == [[[7, 5], centres[0].ravel()[:3].tolist()]]


# --- failures -----------------------------------------------------------------------------------


def _row_data(rows: int = 50, width: int = 4) -> bytes:
    return recordio.encode_dense(np.random.default_rng(0).random((rows, width), dtype=np.float32))


@pytest.mark.parametrize(
    ("algorithm", "hyperparameters", "expected"),
    [
        (
            "kmeans",
            {"force_dense": "True"},
            "ClientError: No value(s) were specified for 'k', 'feature_dim' which are required "
            "hyperparameter(s) (caused by ValidationError)",
        ),
        (
            "pca",
            {
                "feature_dim": "4",
                "num_components": "2",
                "mini_batch_size": "10",
                "mini_batch_siz": "5",
            },
            "ClientError: Additional properties are not allowed ('mini_batch_siz' was unexpected)",
        ),
        (
            "pca",
            {"feature_dim": "4", "num_components": "5", "mini_batch_size": "10"},
            "ClientError: num_components (=5) must be less than or equal to feature_dim (=4)",
        ),
        (
            "kmeans",
            {"feature_dim": "4", "k": "2", "eval_metrics": "msd"},
            "ClientError: Hyperparameter must be valid json, but found eval_metrics: msd",
        ),
        (
            "kmeans",
            {"feature_dim": "abc", "k": "2"},
            "ClientError: 'abc' is not valid under any of the given schemas",
        ),
        (
            "kmeans",
            {"feature_dim": "5", "k": "2"},
            "ClientError: Unable to read the 'train' channel:",
        ),
        (
            "pca",
            {"feature_dim": "4", "num_components": "2", "mini_batch_size": "10"},
            None,
        ),
    ],
)
def test_failures_write_the_failure_file_and_exit_1(
    tmp_path: Path, algorithm: str, hyperparameters: dict[str, object], expected: str | None
) -> None:
    root = make_tree(tmp_path, hyperparameters, {"train": (_row_data(), None)})
    run = run_train(algorithm, root)
    if expected is None:
        assert run.code == 0 and run.failure is None
        return
    assert run.code == 1, "\n".join(run.lines)
    assert run.failure is not None and run.failure.startswith(expected), run.failure
    assert not (root / "model" / "model_algo-1").exists()


def test_corrupt_and_missing_data_are_client_errors(tmp_path: Path) -> None:
    hp = {"feature_dim": "4", "k": "2"}
    corrupt = make_tree(tmp_path / "a", hp, {"train": (b"\x00" * 64, None)})
    run = run_train("kmeans", corrupt)
    assert run.code == 1 and run.failure is not None and run.failure.startswith("ClientError: ")
    missing = make_tree(tmp_path / "b", hp, {})
    run = run_train("kmeans", missing)
    assert run.code == 1 and run.failure is not None
    assert run.failure.startswith("ClientError: The 'train' channel is required")
    few = make_tree(
        tmp_path / "c", {"feature_dim": "4", "k": "60"}, {"train": (_row_data(50), None)}
    )
    run = run_train("kmeans", few)
    assert run.code == 1 and run.failure is not None and "k (=60)" in run.failure


def _huge_sparse_record() -> bytes:
    record = records.Record()
    tensor = record.features["values"].float32_tensor
    tensor.keys.append(3)
    tensor.values.append(1.0)
    tensor.shape.append(10**12)
    return recordio.frame(record.SerializeToString())


def test_sparse_shape_too_big_for_memory_is_a_client_error(tmp_path: Path) -> None:
    hp = {"feature_dim": "4", "num_components": "2", "mini_batch_size": "10"}
    root = make_tree(tmp_path, hp, {"train": (_row_data(5) + _huge_sparse_record(), None)})
    run = run_train("pca", root)
    assert run.code == 1, "\n".join(run.lines)
    assert run.failure is not None
    assert run.failure.startswith("ClientError: Unable to read the 'train' channel:"), run.failure
    assert "shape [1000000000000], 1000000000000 features, but feature_dim is 4" in run.failure


def test_sigterm_stops_training(tmp_path: Path) -> None:
    """A pipe-mode channel nobody writes to blocks the job; SIGTERM must still end it."""
    hp = {"feature_dim": "4", "k": "2"}
    root = make_tree(tmp_path, hp, {})
    (root / "input" / "data").mkdir(parents=True)
    os.mkfifo(root / "input" / "data" / "train_0")
    config = root / "input" / "config" / "inputdataconfig.json"
    config.write_text(json.dumps({"train": {"TrainingInputMode": "Pipe"}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "algorithms.kmeans", "train"],
        env=_env(root),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "feature(s) found in 'data'" in line:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    proc.stdout.close()


def test_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "algorithms.pca", "fly"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "train|serve" in proc.stderr
