"""Batch transform jobs: CreateTransformJob, DescribeTransformJob, ListTransformJobs,
StopTransformJob.

CreateTransformJob parses the request into a spec and returns at once; the job engine runs it on
a worker thread (`run.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.aws import arns
from emulator.aws.errors import ResourceNotFound, ValidationException
from emulator.services.context import ServiceContext
from emulator.services.environment_policy import check_environment
from emulator.services.jobs import JobEngine
from emulator.services.listing import list_response
from emulator.services.model_data import uses_model_data_source
from emulator.services.transform.run import KIND, TransformRun, end, interrupted
from emulator.services.transform.spec import parse
from emulator.state.records import ModelRecord, TransformJobRecord, TransformJobStatus, now


class TransformService:
    def __init__(self, context: ServiceContext, model: Callable[[str], ModelRecord]) -> None:
        """`model` finds a model by name (ValidationException when there is none)."""
        self._context = context
        self._jobs_dir = context.data_dir / "transform-jobs"
        self._model = model
        self.engine: JobEngine[TransformJobRecord, TransformJobStatus] = JobEngine(
            KIND, context.store, TransformJobRecord, context.events, end
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

    def create_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        check_environment(self._context.runtime, request)
        model = self._model(request["ModelName"])
        if any(uses_model_data_source(c) for c in model.containers()):
            # The real service's refusal, word for word.
            raise ValidationException(
                "SageMaker Batch currently doesn't support Model entity with container "
                "definitions which use ModelDataSource attribute"
            )
        spec = parse(request, model)
        at = now()
        arn = arns.arn(self._context.region, "transform-job", spec.name)
        job = TransformJobRecord(
            name=spec.name,
            arn=arn,
            request={k: v for k, v in request.items() if k != "Tags"},
            creation_time=at,
            last_modified_time=at,
        )
        self.engine.submit(
            job,
            TransformRun(self._context, spec, self._jobs_dir / spec.name).work,
            before_store=lambda: self._context.tags.set_initial(arn, request.get("Tags", [])),
        )
        return {"TransformJobArn": arn}

    def describe_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.engine.view(request["TransformJobName"], TransformJobRecord.describe)

    def list_transform_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        summaries = self.engine.views(TransformJobRecord.summary)
        return list_response(
            summaries, request, name_key="TransformJobName", status_key="TransformJobStatus"
        )

    def stop_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["TransformJobName"]
        with self.engine.lock:
            job = self.engine.find(name)
            if job is None:
                raise ResourceNotFound(f"Could not find requested job with name {name}")
            if job.status == TransformJobStatus.STOPPING:
                return {}
            if job.status != TransformJobStatus.IN_PROGRESS:
                raise ValidationException(
                    f"The request was rejected because the transform job is in status {job.status}."
                )
            self.engine.request_stop(name)
        return {}
