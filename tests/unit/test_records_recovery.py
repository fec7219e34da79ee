"""A restart on the same data dir: training and transform jobs cut short by the emulator's death
get a final status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from emulator.runtime.process_runtime import ProcessRuntime
from emulator.services.context import ServiceContext
from emulator.services.tags import TagService
from emulator.services.training import RESTART_REASON, TrainingService
from emulator.services.transform import RESTART_REASON as TRANSFORM_RESTART_REASON
from emulator.services.transform import TransformService
from emulator.state.records import (
    ModelRecord,
    SecondaryStatus,
    TrainingJobRecord,
    TrainingJobStatus,
    TransformJobRecord,
    TransformJobStatus,
)
from emulator.state.store import RecordStore
from emulator.storage.logs import LogStore
from emulator.storage.s3 import S3Store


def _context(tmp_path: Path, store: RecordStore, logs: LogStore) -> ServiceContext:
    return ServiceContext(
        region="us-east-1",
        data_dir=tmp_path,
        runtime=ProcessRuntime(),
        s3=S3Store(tmp_path / "s3"),
        logs=logs,
        store=store,
        tags=TagService(store, lambda arn: True),
    )


def _job(name: str, status: TrainingJobStatus, secondary: SecondaryStatus) -> TrainingJobRecord:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    job = TrainingJobRecord(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        request={
            "TrainingJobName": name,
            "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "OutputDataConfig": {"S3OutputPath": "s3://b/out/"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
        creation_time=at,
        last_modified_time=at,
        status=status,
    )
    job.set_secondary(secondary, "before the crash", at)
    return job


def test_running_jobs_fail_and_stopping_jobs_stop(tmp_path: Path, log_store: LogStore) -> None:
    store = RecordStore(tmp_path / "state.sqlite3")
    cases = {
        "training": (TrainingJobStatus.IN_PROGRESS, SecondaryStatus.TRAINING),
        "stopping": (TrainingJobStatus.STOPPING, SecondaryStatus.STOPPING),
        "done": (TrainingJobStatus.COMPLETED, SecondaryStatus.COMPLETED),
    }
    for name, (status, secondary) in cases.items():
        store.put("training-job", name, _job(name, status, secondary))
    service = TrainingService(_context(tmp_path, store, log_store))
    service.start()

    def described(name: str) -> dict[str, object]:
        return service.describe_training_job({"TrainingJobName": name})

    failed = described("training")
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["SecondaryStatus"] == "Failed"
    assert failed["FailureReason"] == RESTART_REASON
    assert "TrainingEndTime" in failed
    stopped = described("stopping")
    assert stopped["TrainingJobStatus"] == "Stopped"
    assert "FailureReason" not in stopped
    assert described("done")["TrainingJobStatus"] == "Completed"
    # The new statuses are stored, not only shown.
    reloaded = store.get("training-job", "training", TrainingJobRecord)
    assert reloaded is not None and reloaded.status == TrainingJobStatus.FAILED


def test_running_transform_jobs_fail_and_stopping_ones_stop(
    tmp_path: Path, log_store: LogStore
) -> None:
    store = RecordStore(tmp_path / "state.sqlite3")
    at = datetime(2024, 1, 1, tzinfo=UTC)
    for name, status in (
        ("running", TransformJobStatus.IN_PROGRESS),
        ("stopping", TransformJobStatus.STOPPING),
        ("done", TransformJobStatus.COMPLETED),
    ):
        job = TransformJobRecord(
            name=name,
            arn=f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}",
            request={
                "TransformJobName": name,
                "ModelName": "m",
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/i"}}
                },
                "TransformOutput": {"S3OutputPath": "s3://b/o"},
                "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            },
            creation_time=at,
            last_modified_time=at,
            status=status,
        )
        store.put("transform-job", name, job)

    def no_model(name: str) -> ModelRecord:
        raise AssertionError("recovery needs no model")

    service = TransformService(_context(tmp_path, store, log_store), no_model)
    service.start()

    def described(name: str) -> dict[str, object]:
        return service.describe_transform_job({"TransformJobName": name})

    failed = described("running")
    assert failed["TransformJobStatus"] == "Failed"
    assert failed["FailureReason"] == TRANSFORM_RESTART_REASON
    assert "TransformEndTime" in failed
    stopped = described("stopping")
    assert stopped["TransformJobStatus"] == "Stopped"
    assert "FailureReason" not in stopped
    assert described("done")["TransformJobStatus"] == "Completed"
    reloaded = store.get("transform-job", "running", TransformJobRecord)
    assert reloaded is not None and reloaded.status == TransformJobStatus.FAILED
