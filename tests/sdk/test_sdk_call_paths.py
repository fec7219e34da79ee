"""Every call the SageMaker SDK 2.x makes on the PCA and k-means paths gets a real answer.

A botocore hook records each (service, operation, status) the SDK's clients send; after each
flow no call may have answered NotImplemented or a 5xx. The flows: estimators, `record_set`,
`fit` (with and without logs), `attach`, `TrainingJobAnalytics`, `create_model_from_job`,
`transformer().transform()`, a serverless `deploy`, `predict`, `list_monitors()`, the endpoint
clean-up that lists monitoring schedules first, `delete_model`/`delete_endpoint`, and the
botocore waiters users call.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest

from tests.sdk.call_recorder import CallRecorder

pytestmark = pytest.mark.slow

FAST_WAIT = {"Delay": 1, "MaxAttempts": 120}


def sdk_module(name: str) -> Any:
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def recorder() -> Iterator[CallRecorder]:
    calls = CallRecorder()
    yield calls
    # The trace, for `pytest -s`: which operations these SDK paths reached.
    for service in sorted({c.service for c in calls.calls}):
        print(f"{service}: {', '.join(sorted(calls.operations(service)))}")


@pytest.fixture(scope="module")
def session(sagemaker_emulator_env: Any, recorder: CallRecorder) -> Any:
    """`sagemaker.Session` on an environment-configured boto3 session that the recorder hooks."""
    boto_session = boto3.Session()
    recorder.attach(boto_session)
    return sdk_module("sagemaker").Session(boto_session=boto_session)


@pytest.fixture(autouse=True)
def no_unimplemented_call(recorder: CallRecorder) -> Iterator[None]:
    yield
    assert recorder.unimplemented() == []


@pytest.fixture(scope="module")
def role(sagemaker_emulator_env: Any) -> str:
    found: str = sdk_module("sagemaker").get_execution_role()
    return found


def blobs(n: int = 300, d: int = 4, k: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 5, (k, d))
    rows = centers[rng.integers(0, k, n)] + rng.normal(0, 0.3, (n, d))
    return rows.astype(np.float32)


@pytest.fixture(scope="module")
def kmeans(session: Any, role: str) -> Any:
    """record_set + fit(logs=True): CreateTrainingJob, the log tail, DescribeTrainingJob."""
    estimator = sdk_module("sagemaker").KMeans(
        role=role,
        instance_count=1,
        instance_type="ml.c4.xlarge",
        output_path=f"s3://{session.default_bucket()}/paths-kmeans/",
        k=3,
        sagemaker_session=session,
    )
    estimator.fit(estimator.record_set(blobs()), logs=True)
    return estimator


def test_pca_fit_without_logs_and_the_training_waiter(
    session: Any, role: str, recorder: CallRecorder
) -> None:
    pca = sdk_module("sagemaker").PCA(
        role=role,
        instance_count=1,
        instance_type="ml.c4.xlarge",
        output_path=f"s3://{session.default_bucket()}/paths-pca/",
        num_components=2,
        sagemaker_session=session,
    )
    pca.fit(pca.record_set(blobs()), logs=False)
    job = pca.latest_training_job.name
    session.sagemaker_client.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=job, WaiterConfig=FAST_WAIT
    )
    assert pca.model_data.endswith(f"/{job}/output/model.tar.gz")
    assert {"CreateTrainingJob", "DescribeTrainingJob"} <= recorder.operations("sagemaker")


def test_kmeans_attach_analytics_model_from_job_and_transform(
    session: Any, kmeans: Any, recorder: CallRecorder
) -> None:
    sagemaker = sdk_module("sagemaker")
    job = kmeans.latest_training_job.name
    attached = sagemaker.KMeans.attach(job, sagemaker_session=session)
    assert attached.model_data == kmeans.model_data

    frame = sagemaker.analytics.TrainingJobAnalytics(job, sagemaker_session=session).dataframe()
    # The metric lines the job logged, as published to CloudWatch.
    assert set(frame.columns) >= {"timestamp", "metric_name", "value"}
    assert "train:progress" in set(frame["metric_name"]), frame

    model = session.create_model_from_job(job)
    assert session.sagemaker_client.describe_model(ModelName=model)["ModelName"] == model

    bucket = session.default_bucket()
    rows = blobs(20)
    body = "\n".join(",".join(repr(float(x)) for x in row) for row in rows) + "\n"
    session.boto_session.client("s3").put_object(
        Bucket=bucket, Key="paths-batch/in/rows.csv", Body=body.encode()
    )
    transformer = kmeans.transformer(
        instance_count=1, instance_type="ml.m4.xlarge", output_path=f"s3://{bucket}/paths-batch/out"
    )
    transformer.transform(
        f"s3://{bucket}/paths-batch/in/", content_type="text/csv", split_type="Line", wait=False
    )
    name = transformer.latest_transform_job.name
    session.sagemaker_client.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=name, WaiterConfig=FAST_WAIT
    )
    described = session.sagemaker_client.describe_transform_job(TransformJobName=name)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert "ListTags" in recorder.operations("sagemaker")
    assert "GetMetricStatistics" in recorder.operations("cloudwatch")
    assert {"DescribeLogStreams", "GetLogEvents"} <= recorder.operations("logs")


def test_serverless_deploy_predict_list_monitors_and_clean_up(
    session: Any, kmeans: Any, recorder: CallRecorder
) -> None:
    sagemaker = sdk_module("sagemaker")
    predictor = kmeans.deploy(
        serverless_inference_config=sagemaker.serverless.ServerlessInferenceConfig()
    )
    endpoint = predictor.endpoint_name
    try:
        config = session.sagemaker_client.describe_endpoint_config(EndpointConfigName=endpoint)[
            "ProductionVariants"
        ][0]
        assert config["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
        result = predictor.predict(blobs(5))
        assert len(result) == 5
        assert predictor.list_monitors() == []
    finally:
        # The SDK's own integration clean-up: list the endpoint's schedules, delete the endpoint,
        # then its log group.
        schedules = session.list_monitoring_schedules(endpoint_name=endpoint)
        assert schedules["MonitoringScheduleSummaries"] == []
        predictor.delete_model()
        predictor.delete_endpoint()
    session.sagemaker_client.get_waiter("endpoint_deleted").wait(
        EndpointName=endpoint, WaiterConfig=FAST_WAIT
    )
    logs = session.boto_session.client("logs")
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    if logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.delete_log_group(logGroupName=group)
    assert {"ListMonitoringSchedules", "DeleteEndpoint", "DeleteModel"} <= recorder.operations(
        "sagemaker"
    )
    assert "InvokeEndpoint" in recorder.operations("sagemaker-runtime")
