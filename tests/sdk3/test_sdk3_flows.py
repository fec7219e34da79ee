"""SageMaker SDK 3.x (ModelTrainer, ModelBuilder, sagemaker-core) against the emulator.

Each test runs one flow script (tests/sdk3/flows) in `.venv-v3`, on each runtime, and checks its
result and what it printed. The flows pass no role, endpoint or bucket: `notebook-env`'s
environment is what makes unchanged SDK 3 code work offline.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from emulator.runtime.images import image_uri
from sdk.session import boto_session
from tests.sdk3.conftest import REGION, Flows

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def _train_logs_printed(printed: str, runs: int) -> None:
    """train(wait=True, logs=True) printed the algorithm's own lines and the final status."""
    assert printed.count("Docker entrypoint called with argument(s): train") >= runs, printed[
        -4000:
    ]
    assert printed.count("Final Resource Status: [bold]Completed") >= runs, printed[-4000:]


def test_notebook_env_puts_the_execution_role_in_iam(flows: Flows) -> None:
    """SDK 3 reads the role's trust policy before it trains or deploys: the role must exist."""
    iam = boto_session(flows.url, REGION).client("iam")
    role = iam.get_role(RoleName="SageMakerRole")["Role"]
    assert role["Arn"] == ROLE
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


@pytest.mark.parametrize("algorithm", ["kmeans", "pca"])
def test_model_trainer_model_builder_and_batch_transform(flows: Flows, algorithm: str) -> None:
    result, printed = flows.run("train_deploy", algorithm, image_uri(algorithm, REGION))
    _train_logs_printed(printed, runs=2)
    # Telemetry off and the role from the defaults file: ModelTrainer was given no role.
    assert "config key = SageMaker.PythonSDK.Modules.TelemetryOptOut" in printed
    assert result["role"] == ROLE
    assert result["model_artifacts"].startswith(f"s3://{flows.bucket}/")
    assert len(result["jobs"]) == 2
    csv_predictions, json_predictions = result["csv_predictions"], result["json_predictions"]
    assert len(csv_predictions) == 5
    assert csv_predictions == json_predictions
    batch = result["batch_lines"]
    assert len(batch) == 5
    recordio = result["recordio_predictions"]
    if algorithm == "kmeans":
        clusters = [p["closest_cluster"] for p in csv_predictions]
        assert all(0 <= c < 3 for c in clusters)
        assert [b["closest_cluster"] for b in batch] == clusters
        assert [r[0] for r in recordio] == clusters
    else:
        projections = np.array([p["projection"] for p in csv_predictions])
        assert projections.shape == (5, 2)
        np.testing.assert_allclose(
            np.array([b["projection"] for b in batch]), projections, rtol=1e-5
        )
        np.testing.assert_allclose(np.array(recordio), projections, rtol=1e-5)
    assert re.fullmatch(r"[A-Za-z0-9-]+", result["endpoint"])


def test_sagemaker_core_resource_lifecycle(flows: Flows) -> None:
    result, _ = flows.run("core_lifecycle", image_uri("kmeans", REGION))
    assert result["stopped_job"] == "Stopped"
    assert len(result["predictions"]) == 2
    assert len(result["batch"]) == 4
    assert result["batch"][:2] == result["predictions"]


def test_hyperparameter_tuner_uses_the_built_in_metric_definitions(flows: Flows) -> None:
    result, _ = flows.run("tuning", image_uri("kmeans", REGION))
    assert result["status"] == "Completed"
    assert result["completed"] == 2
    assert result["objective"] == "test:msd"
    assert result["best"] and float(result["best_metric"]) >= 0


def test_model_trainer_on_two_instances_prints_both_hosts(flows: Flows) -> None:
    result, printed = flows.run("two_instances", image_uri("kmeans", REGION))
    assert result["instances"] == 2
    _train_logs_printed(printed, runs=1)
    for host in ("algo-1", "algo-2"):
        assert f"{result['job']}/{host}" in printed, printed[-4000:]
