"""The SDK 2.x HyperparameterTuner against a real emulator, unchanged: fit with record sets, wait,
best job, attach, analytics, deploy and predict, several estimators, warm start, stop.

The SDK polls every 5 s and deploy() sleeps 30 s: one test carries the main flow, one the rest.
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def sdk(name: str) -> Any:
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def session(sagemaker_emulator_env: Any) -> Any:
    return sdk("sagemaker").Session()


@pytest.fixture(scope="module")
def role(sagemaker_emulator_env: Any) -> str:
    found: str = sdk("sagemaker").get_execution_role()
    return found


def _kmeans(session: Any, role: str, k: int, **extra: Any) -> Any:
    return sdk("sagemaker").KMeans(
        role=role,
        instance_count=1,
        instance_type="ml.c4.xlarge",
        output_path=f"s3://{session.default_bucket()}/tuning/",
        k=k,
        sagemaker_session=session,
        **extra,
    )


def test_tuner_fit_wait_best_attach_analytics_deploy_predict(
    session: Any, role: str, census: np.ndarray
) -> None:
    tuner_module = sdk("sagemaker.tuner")
    kmeans = _kmeans(session, role, 5)
    train, test = census[:2800], census[2800:]
    records = [kmeans.record_set(train), kmeans.record_set(test, channel="test")]
    tuner = tuner_module.HyperparameterTuner(
        kmeans,
        "test:msd",
        {
            "extra_center_factor": tuner_module.IntegerParameter(4, 10),
            "init_method": tuner_module.CategoricalParameter(["kmeans++", "random"]),
        },
        objective_type="Minimize",
        max_jobs=3,
        max_parallel_jobs=3,
        random_seed=1,
    )
    tuner.fit(records)
    tuner.wait()
    name = tuner.latest_tuning_job.name
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    best = tuner.best_training_job()
    assert best.startswith(f"{name}-")

    attached = tuner_module.HyperparameterTuner.attach(name, sagemaker_session=session)
    assert attached.max_jobs == 3 and attached.objective_metric_name == "test:msd"
    assert attached.estimator.k == 5 and attached.estimator.instance_type == "ml.c4.xlarge"

    frame = tuner.analytics().dataframe()
    assert len(frame) == 3 and set(frame["TrainingJobStatus"]) == {"Completed"}
    assert frame["FinalObjectiveValue"].min() == pytest.approx(
        described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )

    predictor = tuner.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
    try:
        assert predictor.endpoint_name == best
        result = predictor.predict(test[:5])
        assert len(result) == 5
        assert all(r.label["closest_cluster"].float32_tensor.values[0] < 5 for r in result)
    finally:
        predictor.delete_endpoint()


def test_several_estimators_warm_start_and_stop(
    session: Any, role: str, census: np.ndarray
) -> None:
    tuner_module = sdk("sagemaker.tuner")
    small, large = _kmeans(session, role, 3), _kmeans(session, role, 8)
    train, test = census[:2800], census[2800:]
    records = [small.record_set(train), small.record_set(test, channel="test")]
    ranges = {"extra_center_factor": tuner_module.IntegerParameter(4, 10)}
    tuner = tuner_module.HyperparameterTuner.create(
        estimator_dict={"small": small, "large": large},
        objective_metric_name_dict={"small": "test:msd", "large": "test:msd"},
        hyperparameter_ranges_dict={"small": ranges, "large": ranges},
        objective_type="Minimize",
        max_jobs=2,
        max_parallel_jobs=2,
        strategy="Random",
    )
    suffix = uuid.uuid4().hex[:8]
    tuner.fit(
        inputs={"small": records, "large": records},
        include_cls_metadata={},
        job_name=f"several-{suffix}",
    )
    tuner.wait()
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    definitions = {d["DefinitionName"] for d in described["TrainingJobDefinitions"]}
    assert definitions == {"small", "large"}
    assert described["BestTrainingJob"]["TrainingJobDefinitionName"] in definitions

    single = tuner_module.HyperparameterTuner(
        _kmeans(session, role, 3, epochs=1),
        "test:msd",
        ranges,
        objective_type="Minimize",
        max_jobs=1,
        max_parallel_jobs=1,
    )
    # The SDK names tuning jobs <base>-YYMMDD-HHMM: several in one minute need their own names.
    single.fit(records, job_name=f"single-{suffix}")
    single.wait()
    warm = single.identical_dataset_and_algorithm_tuner()
    warm.fit(records, job_name=f"warm-{suffix}")
    warm.wait()
    warm_described = warm.describe()
    assert warm_described["HyperParameterTuningJobStatus"] == "Completed"
    assert "OverallBestTrainingJob" in warm_described

    # A transfer-learning child that trains for minutes (the same hyperparameters, more epochs).
    slow = _kmeans(session, role, 4, epochs=100000)
    transfer = single.transfer_learning_tuner(estimator=slow)
    transfer.fit(records, job_name=f"transfer-{suffix}", wait=False)
    transfer.stop_tuning_job()
    assert transfer.describe()["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    transfer.wait()
    assert transfer.describe()["HyperParameterTuningJobStatus"] == "Stopped"
