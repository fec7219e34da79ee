"""Shutting the emulator down must not turn a job the user already stopped into a failure
(training and transform jobs alike).

A job in Stopping (StopTrainingJob accepted) ends Stopped; only jobs the shutdown itself cuts
short end Failed with the shutdown reason (as a crash + restart reports them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from emulator.runtime.process_runtime import ProcessRuntime
from emulator.services.jobs import JobRun
from emulator.services.tags import TagService
from emulator.services.training import TrainingService
from emulator.services.transform import TransformService
from emulator.state.logs import LogStore
from emulator.state.records import (
    ModelRecord,
    SecondaryStatus,
    TrainingJobStatus,
    TransformJobRecord,
    TransformJobStatus,
)
from emulator.state.s3 import S3Store
from emulator.state.store import RecordStore
from tests.unit.test_records_recovery import _job


def test_close_marks_only_jobs_it_cuts_short_as_shutdown(
    tmp_path: Path, log_store: LogStore
) -> None:
    store = RecordStore(tmp_path / "state.sqlite3")
    service = TrainingService(
        "us-east-1",
        tmp_path,
        ProcessRuntime(),
        S3Store(tmp_path / "s3"),
        log_store,
        store,
        TagService(store, lambda arn: True),
    )
    service.start()
    runs = {}
    for name, status, secondary in (
        ("user-stopped", TrainingJobStatus.STOPPING, SecondaryStatus.STOPPING),
        ("running", TrainingJobStatus.IN_PROGRESS, SecondaryStatus.TRAINING),
    ):
        service._jobs[name] = _job(name, status, secondary)
        runs[name] = service._runs[name] = JobRun()
    service.close()
    assert runs["running"].shutdown and runs["running"].stop_requested.is_set()
    assert not runs["user-stopped"].shutdown
    assert runs["user-stopped"].stop_requested.is_set()


def test_close_leaves_user_stopped_transform_jobs_stopped(
    tmp_path: Path, log_store: LogStore
) -> None:
    store = RecordStore(tmp_path / "state.sqlite3")

    def no_model(name: str) -> ModelRecord:
        raise AssertionError("closing needs no model")

    service = TransformService(
        "us-east-1",
        tmp_path,
        ProcessRuntime(),
        S3Store(tmp_path / "s3"),
        log_store,
        store,
        TagService(store, lambda arn: True),
        no_model,
    )
    service.start()
    runs = {}
    for name, status in (
        ("user-stopped", TransformJobStatus.STOPPING),
        ("running", TransformJobStatus.IN_PROGRESS),
    ):
        service._jobs[name] = TransformJobRecord(
            name=name,
            arn=f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}",
            request={"TransformJobName": name, "ModelName": "m"},
            creation_time=datetime(2024, 1, 1, tzinfo=UTC),
            last_modified_time=datetime(2024, 1, 1, tzinfo=UTC),
            status=status,
        )
        runs[name] = service._runs[name] = JobRun()
    service.close()
    assert runs["running"].shutdown and runs["running"].stop_requested.is_set()
    assert not runs["user-stopped"].shutdown
    assert runs["user-stopped"].stop_requested.is_set()
