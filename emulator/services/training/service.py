"""Training jobs: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs, StopTrainingJob,
DeleteTrainingJob.

CreateTrainingJob parses the request into a spec and returns at once; the job engine runs it on a
worker thread (`run.py`).
"""

from __future__ import annotations

import shutil
from typing import Any

from emulator.aws import arns
from emulator.aws.errors import ResourceNotFound, ValidationException
from emulator.services.context import ServiceContext
from emulator.services.environment_policy import check_environment
from emulator.services.jobs import JobEngine
from emulator.services.listing import list_response
from emulator.services.training.run import (
    KIND,
    MSG_STARTING,
    TrainingRun,
    end,
    interrupted,
    show_stopping,
)
from emulator.services.training.spec import DEFAULT_MAX_RUNTIME_SECONDS, parse
from emulator.state.records import SecondaryStatus, TrainingJobRecord, TrainingJobStatus, now


class TrainingService:
    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._jobs_dir = context.data_dir / "training-jobs"
        self.engine: JobEngine[TrainingJobRecord, TrainingJobStatus] = JobEngine(
            KIND, context.store, TrainingJobRecord, context.events, end
        )

    # --- lifecycle of the service ---------------------------------------------------------------

    def start(self) -> None:
        """Load the stored jobs; a job that was running when the emulator died is now Failed."""
        self.engine.recover(interrupted)

    def close(self) -> None:
        self.engine.close()

    def exists(self, arn: str) -> bool:
        return self.engine.exists(arn)

    # --- operations -----------------------------------------------------------------------------

    def create_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        check_environment(self._context.runtime, request)
        spec = parse(request)
        stored_request = {k: v for k, v in request.items() if k != "Tags"}
        # The real default: one day.
        stored_request.setdefault(
            "StoppingCondition", {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_SECONDS}
        )
        at = now()
        arn = arns.arn(self._context.region, "training-job", spec.name)
        job = TrainingJobRecord(
            name=spec.name,
            arn=arn,
            request=stored_request,
            creation_time=at,
            last_modified_time=at,
            metric_definitions=[dict(d) for d in spec.metric_definitions],
        )
        job.set_secondary(SecondaryStatus.STARTING, MSG_STARTING, at)
        self.engine.submit(
            job,
            TrainingRun(self._context, self.engine, spec, self._jobs_dir / spec.name).work,
            before_store=lambda: self._context.tags.set_initial(arn, request.get("Tags", [])),
        )
        return {"TrainingJobArn": arn}

    def mark_tuning_child(self, name: str, tuning_job_arn: str) -> None:
        """Record that a tuning job launched this job (its Describe then carries TuningJobArn);
        the tuning job creates the job through CreateTrainingJob, whose request has no such
        member."""
        with self.engine.lock:
            record = self.engine.get(name)
            record.tuning_job_arn = tuning_job_arn
            self.engine.persist(record)

    def describe_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.engine.view(request["TrainingJobName"], TrainingJobRecord.describe)

    def list_training_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        summaries = self.engine.views(TrainingJobRecord.summary)
        return list_response(
            summaries, request, name_key="TrainingJobName", status_key="TrainingJobStatus"
        )

    def stop_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["TrainingJobName"]
        with self.engine.lock:
            job = self.engine.find(name)
            if job is None:
                raise ResourceNotFound("Requested resource not found.")
            if job.status != TrainingJobStatus.IN_PROGRESS:
                raise ValidationException(
                    f"The request was rejected because the training job is in status {job.status}."
                )
            self.engine.request_stop(name, show_stopping)
        return {}

    def delete_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        """Forget a terminal job's record (its S3 artifacts and logs stay), as AWS documents:
        only Completed, Failed or Stopped jobs may be deleted, and the name is free again."""
        name = request["TrainingJobName"]
        if self.engine.find(name) is None:
            raise ResourceNotFound("Requested resource not found.")
        job = self.engine.delete(name)
        self._context.tags.forget(job.arn)
        shutil.rmtree(self._jobs_dir / name, ignore_errors=True)
        return {}
