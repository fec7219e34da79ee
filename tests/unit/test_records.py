"""Records: status enums against botocore's model, store round trips, lifecycle tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import botocore.session
import pytest

from emulator.state import lifecycle
from emulator.state.describe import echoed_members
from emulator.state.hosting_records import EndpointRecord, VariantState
from emulator.state.records import (
    EndpointStatus,
    HyperParameterTuningJobStatus,
    MetricValue,
    NotebookInstanceStatus,
    ObjectiveStatus,
    SecondaryStatus,
    TrainingJobRecord,
    TrainingJobStatus,
    TransformJobStatus,
)
from emulator.state.store import RecordStore

MODEL = botocore.session.get_session().get_service_model("sagemaker")


@pytest.mark.parametrize(
    ("enum", "shape"),
    [
        (TrainingJobStatus, "TrainingJobStatus"),
        (TransformJobStatus, "TransformJobStatus"),
        (SecondaryStatus, "SecondaryStatus"),
        (EndpointStatus, "EndpointStatus"),
        (NotebookInstanceStatus, "NotebookInstanceStatus"),
        (HyperParameterTuningJobStatus, "HyperParameterTuningJobStatus"),
        (ObjectiveStatus, "ObjectiveStatus"),
    ],
)
def test_status_values_are_the_models(enum: type[StrEnum], shape: str) -> None:
    allowed = set(MODEL.shape_for(shape).enum)
    assert {member.value for member in enum} <= allowed


def _job() -> TrainingJobRecord:
    at = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)
    job = TrainingJobRecord(
        name="PCA-Job",
        arn="arn:aws:sagemaker:us-east-1:123456789012:training-job/pca-job",
        request={
            "TrainingJobName": "PCA-Job",
            "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "OutputDataConfig": {"S3OutputPath": "s3://b/out/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 2},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
            "HyperParameters": {"k": "3"},
        },
        creation_time=at,
        last_modified_time=at,
    )
    job.set_secondary(SecondaryStatus.STARTING, "Starting the training job", at)
    job.set_secondary(SecondaryStatus.STARTING, "Launching requested ML instances", at)
    later = at + timedelta(seconds=3)
    job.set_secondary(SecondaryStatus.TRAINING, "Training in progress.", later)
    job.final_metrics = [MetricValue("train:msd", 0.5, later)]
    job.training_start_time = at
    job.training_end_time = at + timedelta(seconds=10)
    job.status = TrainingJobStatus.COMPLETED
    return job


def test_secondary_status_rewrites_the_message_then_closes_the_transition() -> None:
    job = _job()
    first, second = job.transitions
    assert first.status == SecondaryStatus.STARTING
    assert first.status_message == "Launching requested ML instances"
    assert first.end_time == second.start_time
    assert second.end_time is None
    assert job.last_modified_time == second.start_time


def test_describe_has_what_the_sdk_reads() -> None:
    wire = _job().describe()
    assert wire["OutputDataConfig"]["KmsKeyId"] == ""
    assert wire["TrainingTimeInSeconds"] == 10
    # Per instance, like TrainingTimeInSeconds: AWS says to multiply by InstanceCount for the
    # total, and the SDK's "Billable seconds:" line does that multiplication itself.
    assert wire["BillableTimeInSeconds"] == 10
    assert wire["FinalMetricDataList"][0]["MetricName"] == "train:msd"
    assert "LastModifiedTime" in wire
    assert "ModelArtifacts" not in wire  # nothing uploaded yet


def test_describe_echoes_what_the_model_says_the_output_echoes() -> None:
    """The echoed members come from the model: every Create member the Describe output also has
    (ExperimentConfig, DebugHookConfig...), never Tags; unset booleans answer false."""
    assert "DebugHookConfig" in echoed_members("DescribeTrainingJob")
    assert "Tags" not in echoed_members("DescribeTrainingJob")
    assert "ExecutionRoleArn" in echoed_members("DescribeModel")
    job = _job()
    job.request["ExperimentConfig"] = {"ExperimentName": "e"}
    wire = job.describe()
    assert wire["ExperimentConfig"] == {"ExperimentName": "e"}
    assert wire["EnableNetworkIsolation"] is False
    assert wire["HyperParameters"] == {"k": "3"}
    assert "VpcConfig" not in wire and "FailureReason" not in wire


def test_store_round_trip_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = RecordStore(path)
    job = _job()
    store.put("training-job", job.name, job)
    at = datetime(2024, 2, 1, tzinfo=UTC)
    endpoint = EndpointRecord(
        name="ep",
        arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep",
        config_name="cfg",
        creation_time=at,
        last_modified_time=at,
        status=EndpointStatus.IN_SERVICE,
        variants=[VariantState("AllTraffic", "m", {"Image": "img", "Environment": {}}, 1.0, 1)],
    )
    store.put("endpoint", "ep", endpoint)
    store.put_raw("tags", "arn", {"k": "v"})
    store.close()

    reopened = RecordStore(path)
    loaded = reopened.get("training-job", job.name, TrainingJobRecord)
    assert loaded == job
    assert isinstance(loaded.status, TrainingJobStatus)
    assert loaded.transitions[0].start_time.tzinfo is not None
    assert reopened.load_all("endpoint", EndpointRecord) == [endpoint]
    assert reopened.get_raw("tags", "arn") == {"k": "v"}
    reopened.delete("endpoint", "ep")
    assert reopened.get("endpoint", "ep", EndpointRecord) is None
    reopened.close()


def test_request_datetimes_survive_the_store(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "s.sqlite3")
    job = _job()
    job.request["Extra"] = {"When": datetime(2020, 5, 1, tzinfo=UTC)}
    store.put("training-job", job.name, job)
    loaded = store.get("training-job", job.name, TrainingJobRecord)
    assert loaded is not None
    assert loaded.request["Extra"]["When"] == datetime(2020, 5, 1, tzinfo=UTC)


def test_lifecycle_tables() -> None:
    lifecycle.check_training(TrainingJobStatus.IN_PROGRESS, TrainingJobStatus.COMPLETED)
    lifecycle.check_training(TrainingJobStatus.STOPPING, TrainingJobStatus.STOPPED)
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.check_training(TrainingJobStatus.COMPLETED, TrainingJobStatus.IN_PROGRESS)
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.check_training(TrainingJobStatus.STOPPED, TrainingJobStatus.COMPLETED)
    lifecycle.check_endpoint(EndpointStatus.CREATING, EndpointStatus.IN_SERVICE)
    lifecycle.check_endpoint(EndpointStatus.UPDATING, EndpointStatus.IN_SERVICE)
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.check_endpoint(EndpointStatus.FAILED, EndpointStatus.IN_SERVICE)
    lifecycle.check_transform(TransformJobStatus.IN_PROGRESS, TransformJobStatus.STOPPING)
    lifecycle.check_transform(TransformJobStatus.STOPPING, TransformJobStatus.STOPPED)
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.check_transform(TransformJobStatus.STOPPING, TransformJobStatus.COMPLETED)
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.check_transform(TransformJobStatus.FAILED, TransformJobStatus.IN_PROGRESS)
    # Every status has a row.
    assert set(lifecycle.TRAINING_TRANSITIONS) == set(TrainingJobStatus)
    assert set(lifecycle.TRANSFORM_TRANSITIONS) == set(TransformJobStatus)
    assert set(lifecycle.ENDPOINT_TRANSITIONS) == set(EndpointStatus)
