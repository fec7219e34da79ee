"""Shutting the emulator down must not turn a job the user already stopped into a failure
(training and transform jobs alike).

A job in Stopping (StopTrainingJob accepted) ends Stopped; only jobs the shutdown itself cuts
short end Failed with the shutdown reason (as a crash + restart reports them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.services.jobs import Job
from emulator.services.training import TrainingService
from emulator.services.transform import TransformService
from emulator.state.records import (
    ModelRecord,
    SecondaryStatus,
    TrainingJobStatus,
    TransformJobRecord,
    TransformJobStatus,
)
from emulator.state.store import RecordStore
from emulator.storage.logs import LogStore
from tests.unit.test_records_recovery import _context, _job


def test_close_marks_only_jobs_it_cuts_short_as_shutdown(
    tmp_path: Path, log_store: LogStore
) -> None:
    store = RecordStore(tmp_path / "state.sqlite3")
    service = TrainingService(_context(tmp_path, store, log_store))
    service.start()
    runs: dict[str, Job[Any]] = {}
    for name, status, secondary in (
        ("user-stopped", TrainingJobStatus.STOPPING, SecondaryStatus.STOPPING),
        ("running", TrainingJobStatus.IN_PROGRESS, SecondaryStatus.TRAINING),
    ):
        record = _job(name, status, secondary)
        service.engine._records[name] = record
        runs[name] = service.engine._runs[name] = Job(service.engine, record)
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

    service = TransformService(_context(tmp_path, store, log_store), no_model)
    service.start()
    runs: dict[str, Job[Any]] = {}
    for name, status in (
        ("user-stopped", TransformJobStatus.STOPPING),
        ("running", TransformJobStatus.IN_PROGRESS),
    ):
        record = TransformJobRecord(
            name=name,
            arn=f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}",
            request={"TransformJobName": name, "ModelName": "m"},
            creation_time=datetime(2024, 1, 1, tzinfo=UTC),
            last_modified_time=datetime(2024, 1, 1, tzinfo=UTC),
            status=status,
        )
        service.engine._records[name] = record
        runs[name] = service.engine._runs[name] = Job(service.engine, record)
    service.close()
    assert runs["running"].shutdown and runs["running"].stop_requested.is_set()
    assert not runs["user-stopped"].shutdown
    assert runs["user-stopped"].stop_requested.is_set()
