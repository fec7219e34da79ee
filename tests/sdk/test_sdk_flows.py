"""The SageMaker Python SDK 2.x against a real emulator, as the classic notebooks use it.

The v1 argument names (`train_instance_count`, `train_instance_type`) on purpose: that is what
the classic notebooks pass. Clients come from the environment (`sagemaker.Session()`, like a
notebook), prepared by the plugin's `sagemaker_emulator_env` fixture. `deploy()` sleeps 30 s
before it first asks for the endpoint, so each algorithm deploys once and every format is tried
on that one endpoint, in one test per algorithm.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.sdk.conftest import s3_bytes

pytestmark = [
    pytest.mark.slow,
    # The SDK warns about the v1 names this module passes on purpose (see above).
    pytest.mark.filterwarnings(
        "ignore:train_instance_(count|type) has been renamed in sagemaker>=2:DeprecationWarning"
    ),
]

ROLE_PATTERN = re.compile(r"arn:aws:iam::123456789012:role/.+")


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


def test_get_execution_role_and_default_bucket_work_offline(
    sagemaker_emulator_env: Any, session: Any, role: str
) -> None:
    # Offline, the SDK's STS fallback would fail: these answers come from DescribeNotebookInstance
    # (through the metadata file) and from the SDK defaults file.
    assert ROLE_PATTERN.fullmatch(role)
    assert session.default_bucket() == sagemaker_emulator_env.bucket
    buckets = [b["Name"] for b in session.boto_session.client("s3").list_buckets()["Buckets"]]
    assert sagemaker_emulator_env.bucket in buckets


def _printed_logs(out: str) -> None:
    """What fit(logs=True) must have printed: the status lines and the algorithm's own lines."""
    assert "Docker entrypoint called with argument(s): train" in out, out[-3000:]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Completed - Training job completed", out)
    assert "Training seconds:" in out and "Billable seconds:" in out


def _assert_endpoint_gone(client: Any, name: str) -> None:
    with pytest.raises(ClientError) as caught:
        client.describe_endpoint(EndpointName=name)
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def _batch_transform(
    estimator: Any,
    session: Any,
    rows: np.ndarray,
    expected: np.ndarray,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """estimator.transformer(...).transform(...).wait(): CSV lines in, JSON Lines out."""
    bucket = session.default_bucket()
    s3 = session.boto_session.client("s3")
    body = "\n".join(",".join(repr(float(x)) for x in row) for row in rows) + "\n"
    s3.put_object(Bucket=bucket, Key="counties-batch/in/census.csv", Body=body.encode())
    transformer = estimator.transformer(
        instance_count=1,
        instance_type="ml.m4.xlarge",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="application/jsonlines",
        output_path=f"s3://{bucket}/counties-batch/out",
    )
    transformer.transform(
        f"s3://{bucket}/counties-batch/in/", content_type="text/csv", split_type="Line"
    )
    transformer.wait()
    job = transformer.latest_transform_job.name
    # wait() tails the job's CloudWatch stream: the serving container's own lines.
    assert "Docker entrypoint called with argument(s): serve" in capsys.readouterr().out
    description = session.sagemaker_client.describe_transform_job(TransformJobName=job)
    assert description["TransformJobStatus"] == "Completed", description.get("FailureReason")
    assert description["BatchStrategy"] == "MultiRecord"
    attached = sdk_module("sagemaker.transformer").Transformer.attach(
        job, sagemaker_session=session
    )
    assert (attached.strategy, attached.assemble_with, attached.accept) == (
        "MultiRecord",
        "Line",
        "application/jsonlines",
    )
    out = s3_bytes(s3, f"s3://{bucket}/counties-batch/out/census.csv.out").decode()
    got = np.array([json.loads(line)["projection"] for line in out.splitlines()])
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_pca_record_set_fit_attach_transform_deploy_predict_delete(
    session: Any,
    role: str,
    census: np.ndarray,
    capsys: pytest.CaptureFixture[str],
    mxnet_load: Callable[[bytes], Any],
) -> None:
    PCA = sdk_module("sagemaker").PCA
    serializers, deserializers = (
        sdk_module("sagemaker.serializers"),
        sdk_module("sagemaker.deserializers"),
    )

    bucket = session.default_bucket()
    s3 = session.boto_session.client("s3")
    pca = PCA(
        role=role,
        train_instance_count=1,
        train_instance_type="ml.c4.xlarge",
        output_path=f"s3://{bucket}/counties/",
        num_components=5,
        sagemaker_session=session,
    )

    records = pca.record_set(census)
    assert records.s3_data_type == "ManifestFile"
    assert (records.num_records, records.feature_dim) == (3218, 34)
    manifest = json.loads(s3_bytes(s3, records.s3_data))
    assert manifest[1:] == ["matrix_0.pbr"]
    assert manifest[0]["prefix"].startswith(f"s3://{bucket}/sagemaker-record-sets/PCA-")

    pca.fit(records, logs=True)
    job = pca.latest_training_job.name
    _printed_logs(capsys.readouterr().out)
    assert job.startswith("pca-")
    assert pca.model_data == f"s3://{bucket}/counties/{job}/output/model.tar.gz"
    description = session.sagemaker_client.describe_training_job(TrainingJobName=job)
    assert description["TrainingJobStatus"] == "Completed"
    assert description["HyperParameters"]["num_components"] == "5"
    assert description["HyperParameters"]["feature_dim"] == "34"

    # The artifact, opened as the notebooks do (untar + mx.ndarray.load, in the MXNet venv).
    model = mxnet_load(s3_bytes(s3, pca.model_data))
    assert "model_algo-1" in model.tar_names
    s, v, mean = model.arrays["s"], model.arrays["v"], model.arrays["mean"]
    assert (s.shape, v.shape, mean.shape) == ((5,), (34, 5), (1, 34))
    assert list(s) == sorted(s)  # ascending: the largest component is last
    reference = np.linalg.svd(census.astype(np.float64) - census.mean(axis=0), compute_uv=False)
    np.testing.assert_allclose(s, reference[:5][::-1], rtol=1e-3)

    attached = PCA.attach(job, sagemaker_session=session)
    assert attached.num_components == 5
    assert attached.model_data == pca.model_data

    _batch_transform(pca, session, census[:300], (census[:300] - mean) @ v, capsys)

    predictor = pca.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
    try:
        rows = census[:20]
        expected = (rows - mean) @ v

        # Default: RecordIO-protobuf both ways, one Record per row, label "projection".
        result = predictor.predict(rows)
        got = np.array([r.label["projection"].float32_tensor.values for r in result])
        np.testing.assert_allclose(got, expected, atol=1e-4)

        predictor.serializer, predictor.deserializer = (
            serializers.CSVSerializer(),
            deserializers.JSONDeserializer(),
        )
        answer = predictor.predict(rows)
        got = np.array([p["projection"] for p in answer["projections"]])
        np.testing.assert_allclose(got, expected, atol=1e-4)

        predictor.serializer = serializers.JSONSerializer()
        answer = predictor.predict({"instances": [{"features": r.tolist()} for r in rows]})
        got = np.array([p["projection"] for p in answer["projections"]])
        np.testing.assert_allclose(got, expected, atol=1e-4)

        predictor.serializer = serializers.JSONLinesSerializer()
        predictor.deserializer = deserializers.JSONLinesDeserializer()
        answer = predictor.predict([{"features": r.tolist()} for r in rows])
        np.testing.assert_allclose([p["projection"] for p in answer], expected, atol=1e-4)
    finally:
        endpoint = predictor.endpoint_name
        predictor.delete_endpoint()
    _assert_endpoint_gone(session.sagemaker_client, endpoint)


def test_kmeans_with_a_test_channel_attach_deploy_predict_delete(
    session: Any,
    role: str,
    census: np.ndarray,
    capsys: pytest.CaptureFixture[str],
    mxnet_load: Callable[[bytes], Any],
) -> None:
    KMeans = sdk_module("sagemaker").KMeans
    serializers, deserializers = (
        sdk_module("sagemaker.serializers"),
        sdk_module("sagemaker.deserializers"),
    )

    bucket = session.default_bucket()
    s3 = session.boto_session.client("s3")
    train, test = census[:2800], census[2800:]
    kmeans = KMeans(
        role=role,
        train_instance_count=1,
        train_instance_type="ml.c4.xlarge",
        output_path=f"s3://{bucket}/kmeans/",
        k=7,
        eval_metrics=["msd", "ssd"],
        sagemaker_session=session,
    )
    kmeans.fit([kmeans.record_set(train), kmeans.record_set(test, channel="test")], logs=True)
    job = kmeans.latest_training_job.name
    out = capsys.readouterr().out
    _printed_logs(out)
    assert "#quality_metric: host=algo-1, test msd <loss>=" in out
    assert kmeans.model_data == f"s3://{bucket}/kmeans/{job}/output/model.tar.gz"

    model = mxnet_load(s3_bytes(s3, kmeans.model_data))
    assert isinstance(model.arrays, list) and len(model.arrays) == 1
    centroids = model.arrays[0]
    assert centroids.shape == (7, 34)

    # test:msd is the mean squared distance of the test rows to their nearest centroid.
    squared = ((test[:, None, :].astype(np.float64) - centroids[None]) ** 2).sum(axis=2)
    description = session.sagemaker_client.describe_training_job(TrainingJobName=job)
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert metrics["test:msd"] == pytest.approx(squared.min(axis=1).mean(), rel=1e-3)
    assert metrics["test:ssd"] == pytest.approx(squared.min(axis=1).sum(), rel=1e-3)
    assert "train:msd" in metrics

    attached = KMeans.attach(job, sagemaker_session=session)
    assert attached.k == 7
    assert attached.model_data == kmeans.model_data

    predictor = kmeans.deploy(initial_instance_count=1, instance_type="ml.t2.medium")
    try:
        rows = test[:25]
        distances = np.sqrt(((rows[:, None, :] - centroids[None]) ** 2).sum(axis=2))
        clusters, nearest = distances.argmin(axis=1), distances.min(axis=1)

        result = predictor.predict(rows)
        got_clusters = [r.label["closest_cluster"].float32_tensor.values[0] for r in result]
        got_distances = [r.label["distance_to_cluster"].float32_tensor.values[0] for r in result]
        assert got_clusters == [float(c) for c in clusters]
        np.testing.assert_allclose(got_distances, nearest, rtol=1e-4, atol=1e-5)

        predictor.serializer, predictor.deserializer = (
            serializers.CSVSerializer(),
            deserializers.CSVDeserializer(),
        )
        lines = predictor.predict(rows)
        assert [float(line[0]) for line in lines] == [float(c) for c in clusters]
        np.testing.assert_allclose([float(line[1]) for line in lines], nearest, rtol=1e-4)

        predictor.serializer, predictor.deserializer = (
            serializers.JSONSerializer(),
            deserializers.JSONDeserializer(),
        )
        answer = predictor.predict({"instances": [{"features": r.tolist()} for r in rows]})
        assert [p["closest_cluster"] for p in answer["predictions"]] == [float(c) for c in clusters]

        # Two instances now: a new endpoint config from the current one, UpdateEndpoint, wait.
        predictor.update_endpoint(initial_instance_count=2, instance_type="ml.t2.medium")
        described = session.sagemaker_client.describe_endpoint(EndpointName=predictor.endpoint_name)
        (variant,) = described["ProductionVariants"]
        assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
        answer = predictor.predict({"instances": [{"features": r.tolist()} for r in rows]})
        assert [p["closest_cluster"] for p in answer["predictions"]] == [float(c) for c in clusters]
    finally:
        endpoint = predictor.endpoint_name
        predictor.delete_endpoint()
    _assert_endpoint_gone(session.sagemaker_client, endpoint)
