"""Batch transform jobs: CreateTransformJob (the rest of the kind's operations are the job
service's).

CreateTransformJob parses the request into a spec and returns at once; the job engine runs it on
a worker thread (`run.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from emulator.aws.errors import ValidationException
from emulator.services.context import ServiceContext
from emulator.services.environment_policy import check_environment
from emulator.services.jobs import JobService, Outcome, Peers
from emulator.services.model_data import uses_model_data_source
from emulator.services.transform.run import KIND, TransformRun
from emulator.services.transform.run import end as _end
from emulator.services.transform.run import interrupted as _interrupted
from emulator.services.transform.spec import parse
from emulator.state.hosting_records import ModelRecord
from emulator.state.records import TransformJobRecord, TransformJobStatus, now


class TransformService(JobService[TransformJobRecord, TransformJobStatus]):
    kind = KIND
    record_type = TransformJobRecord

    def __init__(
        self, context: ServiceContext, peers: Peers | Callable[[str], ModelRecord]
    ) -> None:
        """`peers` finds a model by name (ValidationException when there is none)."""
        super().__init__(context)
        self._jobs_dir = context.data_dir / "transform-jobs"
        self._model = peers if callable(peers) else peers.model

    def end(
        self, record: TransformJobRecord, outcome: Outcome[TransformJobStatus], at: datetime
    ) -> None:
        _end(record, outcome, at)

    def interrupted(
        self, record: TransformJobRecord, outcome: Outcome[TransformJobStatus], at: datetime
    ) -> None:
        _interrupted(record, outcome, at)

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
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
        job = TransformJobRecord(
            name=spec.name,
            arn=self.arn(spec.name),
            request={k: v for k, v in request.items() if k != "Tags"},
            creation_time=at,
            last_modified_time=at,
        )
        run = TransformRun(self._context, spec, self._jobs_dir / spec.name)
        return self.submit(job, run.work, request)
