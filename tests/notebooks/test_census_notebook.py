"""The project's census segmentation notebook (examples/), executed unchanged against the emulator.

It runs with nbclient in the classic notebook environment (`.venv-classic`: sagemaker 2.243.2,
mxnet 1.9.1, pandas 1.5.3), with nothing but the environment prepared as a user would
(`sagemaker-emulator notebook-env` and `seed` of the packaged county table). The checks read the
cells' outputs: that every cell ran is not enough, the numbers must be the right ones.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from algorithms.common import ndarray_file
from sdk import env as sm_env
from sdk import seed as sm_seed
from sdk.data import census_csv
from sdk.launcher import EmulatorServer, start_emulator
from sdk.notebook import cell_result, cell_text, code_cells
from sdk.session import boto_session
from tests.classic_env import classic_python
from tests.sdk.tiers import ready_runtime

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "census_segmentation.ipynb"
CENSUS_CSV = census_csv()
DATA_URI = "s3://aws-ml-blog-sagemaker-census-segmentation/acs2015_county_data.csv"
OUTPUT_BUCKET = "census-segmentation-output"  # the notebook's default OUTPUT_BUCKET


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    server = start_emulator(tmp_path_factory.mktemp("census") / "data", runtime=ready_runtime())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def executed(emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Seed the data, prepare the environment, run the notebook; the executed notebook's JSON."""
    work = tmp_path_factory.mktemp("census-run")
    assert emulator.health["runtime"] == ready_runtime()
    sm_seed.seed_emulator(CENSUS_CSV, DATA_URI, emulator.url)

    prepared = sm_env.prepare(
        emulator.url, extra_buckets=[OUTPUT_BUCKET], state_dir=work / "notebook-env"
    )
    child_env = dict(os.environ)
    prepared.apply(child_env)
    output = work / "executed.ipynb"
    try:
        run = subprocess.run(
            [
                str(classic_python()),
                "-m",
                "sdk.notebook",
                str(NOTEBOOK),
                "--output",
                str(output),
                "--cwd",
                str(work / "kernel"),
                "--timeout",
                "600",
            ],
            cwd=REPO,  # so that `-m sdk.notebook` imports; the kernel runs in --cwd
            env=child_env,
            capture_output=True,
            text=True,
            timeout=1500,
        )
    finally:
        sm_env.undo(work / "notebook-env")
    assert output.exists(), run.stderr[-5000:]
    keep = os.environ.get("SAGEMAKER_EMULATOR_KEEP_NOTEBOOK")
    if keep:  # for a human to read the run: the executed notebook, outputs and all
        shutil.copy(output, keep)
    nb: dict[str, Any] = json.loads(output.read_text())
    nb["_work"] = str(work / "kernel")
    nb["_returncode"] = run.returncode
    nb["_stderr"] = run.stderr
    return nb


def _cell(nb: dict[str, Any], starts_with: str, result_only: bool = False) -> str:
    """The output text of the (first) code cell whose source starts with `starts_with`.

    `result_only`: just the displayed value (a table), without the warnings and log lines the
    cell printed on the way.
    """
    for cell in code_cells(nb):
        if "".join(cell["source"]).lstrip().startswith(starts_with):
            return cell_result(cell) if result_only else cell_text(cell)
    raise AssertionError(f"no cell starts with {starts_with!r}")


def test_every_cell_ran_without_an_error(executed: dict[str, Any]) -> None:
    errors = [
        (i, cell_text(c))
        for i, c in enumerate(code_cells(executed))
        if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    assert not errors, errors
    assert executed["_returncode"] == 0, executed["_stderr"][-5000:]
    assert all(c.get("execution_count") for c in code_cells(executed))


def test_role_and_data_come_from_the_emulator(executed: dict[str, Any]) -> None:
    assert re.search(
        r"arn:aws:iam::123456789012:role/\S+",
        _cell(executed, "role = sagemaker.get_execution_role()"),
    )
    assert "['acs2015_county_data.csv']" in _cell(executed, "DATA_BUCKET = ")
    assert "as read: (3220, 37)" in _cell(executed, "body = s3.get_object")
    assert "numeric features: (3218, 34)" in _cell(executed, "counties = raw.dropna()")


def _scaled_counties() -> np.ndarray:
    import csv

    with CENSUS_CSV.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    numeric = [i for i, n in enumerate(header) if n not in ("CensusId", "State", "County")]
    x = np.array(
        [[float(r[i]) for i in numeric] for r in body if all(c != "" for c in r)],
        dtype=np.float64,
    )
    lo, hi = x.min(axis=0), x.max(axis=0)
    scaled: np.ndarray = (x - lo) / (hi - lo)
    return scaled


def test_pca_fit_printed_the_algorithms_logs(executed: dict[str, Any]) -> None:
    out = _cell(executed, "%%time\npca.fit")
    assert "Docker entrypoint called with argument(s): train" in out
    assert "Completed - Training job completed" in out


def test_top5_share_of_variance_matches_a_float64_svd(executed: dict[str, Any]) -> None:
    text = _cell(executed, "TOP = 5")
    share = float(text.split("variance share of the 5 largest components:")[1].split()[0])
    x = _scaled_counties()
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)[:33]  # the 33 components kept
    expected = (s[:5] ** 2).sum() / (s**2).sum()
    assert share == pytest.approx(expected, rel=1e-3)
    assert 0.5 < share < 1.0


def test_projections_for_every_county(executed: dict[str, Any], emulator: EmulatorServer) -> None:
    # The notebook sets a 3218-county index on the projections, which only works when the
    # endpoint answered one record per county; its head() must be the model's projection of
    # those rows: the five strongest components (the last five columns), strongest first.
    head = _cell(executed, "projections = np.array(", result_only=True)
    assert "comp_1" in head and "comp_5" in head
    lines = [line.split() for line in head.splitlines() if len(line.split()) == 6]
    assert [line[0] for line in lines] == [
        "Alabama-Autauga",
        "Alabama-Baldwin",
        "Alabama-Barbour",
        "Alabama-Bibb",
        "Alabama-Blount",
    ]
    shown = np.array([[float(v) for v in line[1:]] for line in lines])
    model = _pca_model(emulator.url)
    x = _scaled_counties()[:5]
    expected = ((x - model["mean"]) @ model["v"])[:, 28:][:, ::-1]
    np.testing.assert_allclose(shown, expected, atol=2e-6)


def _pca_model(url: str) -> dict[str, np.ndarray]:
    """The notebook's PCA model, fetched again from S3 and read with our own NDArray reader."""
    session = boto_session(url)
    jobs = session.client("sagemaker").list_training_jobs(NameContains="pca")
    name = jobs["TrainingJobSummaries"][0]["TrainingJobName"]
    artifact = session.client("sagemaker").describe_training_job(TrainingJobName=name)[
        "ModelArtifacts"
    ]["S3ModelArtifacts"]
    bucket, _, key = artifact.removeprefix("s3://").partition("/")
    body = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        member = tar.extractfile("model_algo-1")
        assert member is not None
        loaded = ndarray_file.load(io.BytesIO(member.read()))
    assert isinstance(loaded, dict)
    return loaded


def test_cluster_counts_add_up_to_3218(executed: dict[str, Any]) -> None:
    text = _cell(executed, "%%time\nassigned = kmeans_predictor.predict", result_only=True)
    counts = [
        int(m.group(2)) for m in re.finditer(r"^\s*(\d+)\s+(\d+)\s*$", text, flags=re.MULTILINE)
    ]
    assert sum(counts) == 3218, text
    assert 2 <= len(counts) <= 7


def test_centroids_and_labels(executed: dict[str, Any]) -> None:
    centroids = _cell(executed, "centroids = pd.DataFrame(", result_only=True)
    rows = [line for line in centroids.splitlines()[1:] if line.strip()]
    assert len(rows) == 7 and all(len(r.split()) == 6 for r in rows)
    labelled = _cell(executed, 'top["cluster"] = clusters', result_only=True)
    assert "cluster" in labelled


def test_endpoints_were_deleted(executed: dict[str, Any], emulator: EmulatorServer) -> None:
    sm = boto_session(emulator.url).client("sagemaker")
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []
