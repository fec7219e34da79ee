"""The SageMaker SDK 2.x against a real emulator: asynchronous endpoints (`AsyncPredictor`) with
k-means and PCA, and a model made by `Session.create_model_from_job` (ModelDataSource) deployed
and invoked. `deploy()` sleeps 30 s before it first asks for the endpoint."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

pytestmark = [
    pytest.mark.slow,
    # AsyncPredictor.predict polls the output and the failure location in two threads and never
    # stops the one that did not find its object: it fails once the emulator stops.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning"),
]


def sdk_module(name: str) -> Any:
    """A SageMaker SDK module, untyped on purpose (the SDK's own annotations are partial)."""
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def session(sagemaker_emulator_env: Any) -> Any:
    return sdk_module("sagemaker").Session()


@pytest.fixture(scope="module")
def role(sagemaker_emulator_env: Any) -> str:
    found: str = sdk_module("sagemaker").get_execution_role()
    return found


def _blobs() -> np.ndarray:
    rng = np.random.default_rng(7)
    centres = np.array([[-10, -10, 0, 0], [10, 10, 0, 0], [0, 0, 10, -10]], dtype=np.float32)
    labels = rng.integers(0, 3, size=300)
    data = centres[labels] + rng.normal(scale=0.2, size=(300, 4)).astype(np.float32)
    return data.astype(np.float32)


def _waiter() -> Any:
    return sdk_module("sagemaker.async_inference").WaiterConfig(max_attempts=120, delay=1)


def _deploy_async(estimator: Any) -> Any:
    config = sdk_module("sagemaker.async_inference").AsyncInferenceConfig()
    return estimator.deploy(
        initial_instance_count=1, instance_type="ml.m5.large", async_inference_config=config
    )


def test_kmeans_async_predictor_predict_and_predict_async(
    session: Any, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _blobs()
    kmeans = sdk_module("sagemaker").KMeans(
        role=role,
        instance_count=1,
        instance_type="ml.c4.xlarge",
        k=3,
        output_path=f"s3://{session.default_bucket()}/async-kmeans/",
        sagemaker_session=session,
    )
    kmeans.fit(kmeans.record_set(data), logs=False)
    predictor = _deploy_async(kmeans)
    try:
        assert type(predictor).__name__ == "AsyncPredictor"
        records = predictor.predict(data[:6], waiter_config=_waiter())
        clusters = [int(r.label["closest_cluster"].float32_tensor.values[0]) for r in records]
        assert len(clusters) == 6
        same = data[:6] @ np.ones(4) > 0
        assert len({c for c, s in zip(clusters, same, strict=True) if s}) <= 2

        response = predictor.predict_async(data[:4])
        assert response.output_path.startswith(
            f"s3://{session.default_bucket()}/async-endpoint-outputs/"
        )
        again = response.get_result(waiter_config=_waiter())
        assert [int(r.label["closest_cluster"].float32_tensor.values[0]) for r in again] == (
            clusters[:4]
        )
    finally:
        predictor.delete_endpoint()


def test_pca_async_predictor_and_a_model_from_create_model_from_job(
    session: Any, role: str
) -> None:
    sagemaker = sdk_module("sagemaker")
    serializers = sdk_module("sagemaker.serializers")
    deserializers = sdk_module("sagemaker.deserializers")
    data = _blobs()
    pca = sagemaker.PCA(
        role=role,
        instance_count=1,
        instance_type="ml.c4.xlarge",
        num_components=2,
        output_path=f"s3://{session.default_bucket()}/async-pca/",
        sagemaker_session=session,
    )
    pca.fit(pca.record_set(data), logs=False)
    predictor = _deploy_async(pca)
    try:
        predictor.serializer = serializers.CSVSerializer()
        predictor.deserializer = deserializers.JSONDeserializer()
        answer = predictor.predict(data[:5], waiter_config=_waiter())
        assert len(answer["projections"]) == 5
        later = predictor.predict_async(data[:3]).get_result(waiter_config=_waiter())
        assert len(later["projections"]) == 3
    finally:
        predictor.delete_endpoint()

    # create_model_from_job sends ModelDataSource (S3Object, Gzip), never ModelDataUrl.
    job = pca.latest_training_job.name
    model_name = session.create_model_from_job(job)
    container = session.sagemaker_client.describe_model(ModelName=model_name)["PrimaryContainer"]
    assert container["ModelDataSource"]["S3DataSource"]["S3DataType"] == "S3Object"
    assert "ModelDataUrl" not in container
    session.create_endpoint_config(model_name, model_name, 1, "ml.m5.large")
    session.create_endpoint(model_name, model_name, wait=True)
    try:
        realtime = sagemaker.predictor.Predictor(
            model_name,
            sagemaker_session=session,
            serializer=serializers.CSVSerializer(),
            deserializer=deserializers.JSONDeserializer(),
        )
        assert len(realtime.predict(data[:4])["projections"]) == 4
    finally:
        session.delete_endpoint(model_name)
