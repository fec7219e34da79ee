"""A restart on the same data dir: jobs cut short by the emulator's death get a final status."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from emulator.runtime.process_runtime import ProcessRuntime
from emulator.services.tags import TagService
from emulator.services.training import RESTART_REASON, TrainingService
from emulator.state.logs import LogStore
from emulator.state.records import SecondaryStatus, TrainingJobRecord, TrainingJobStatus
from emulator.state.s3 import S3Store
from emulator.state.store import RecordStore


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


def test_running_jobs_fail_and_stopping_jobs_stop(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "state.sqlite3")
    cases = {
        "training": (TrainingJobStatus.IN_PROGRESS, SecondaryStatus.TRAINING),
        "stopping": (TrainingJobStatus.STOPPING, SecondaryStatus.STOPPING),
        "done": (TrainingJobStatus.COMPLETED, SecondaryStatus.COMPLETED),
    }
    for name, (status, secondary) in cases.items():
        store.put("training-job", name, _job(name, status, secondary))
    service = TrainingService(
        "us-east-1",
        tmp_path,
        ProcessRuntime(),
        S3Store(tmp_path / "s3"),
        LogStore(tmp_path / "logs"),
        store,
        TagService(store, lambda arn: True),
    )
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
