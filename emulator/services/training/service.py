"""Training jobs: CreateTrainingJob (the rest of the kind's operations are the job service's).

CreateTrainingJob parses the request into a spec and returns at once; the job engine runs it on a
worker thread (`run.py`).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import Any

from emulator.services.context import ServiceContext
from emulator.services.environment_policy import check_environment
from emulator.services.jobs import JobService, Outcome, Peers
from emulator.services.training.run import KIND, MSG_STARTING, TrainingRun
from emulator.services.training.run import end as _end
from emulator.services.training.run import interrupted as _interrupted
from emulator.services.training.run import show_stopping as _show_stopping
from emulator.services.training.spec import DEFAULT_MAX_RUNTIME_SECONDS, parse
from emulator.state.records import SecondaryStatus, TrainingJobRecord, TrainingJobStatus, now


class TrainingService(JobService[TrainingJobRecord, TrainingJobStatus]):
    kind = KIND
    record_type = TrainingJobRecord

    def __init__(self, context: ServiceContext, peers: Peers | None = None) -> None:
        super().__init__(context)
        self._jobs_dir = context.data_dir / "training-jobs"

    def end(
        self, record: TrainingJobRecord, outcome: Outcome[TrainingJobStatus], at: datetime
    ) -> None:
        _end(record, outcome, at)

    def interrupted(
        self, record: TrainingJobRecord, outcome: Outcome[TrainingJobStatus], at: datetime
    ) -> None:
        _interrupted(record, outcome, at)

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        check_environment(self._context.runtime, request)
        spec = parse(request)
        stored_request = {k: v for k, v in request.items() if k != "Tags"}
        # The real default: one day.
        stored_request.setdefault(
            "StoppingCondition", {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_SECONDS}
        )
        at = now()
        job = TrainingJobRecord(
            name=spec.name,
            arn=self.arn(spec.name),
            request=stored_request,
            creation_time=at,
            last_modified_time=at,
            metric_definitions=[dict(d) for d in spec.metric_definitions],
        )
        job.set_secondary(SecondaryStatus.STARTING, MSG_STARTING, at)
        run = TrainingRun(self._context, self.engine, spec, self._jobs_dir / spec.name)
        return self.submit(job, run.work, request)

    def mark_tuning_child(self, name: str, tuning_job_arn: str) -> None:
        """Record that a tuning job launched this job (its Describe then carries TuningJobArn);
        the tuning job creates the job through CreateTrainingJob, whose request has no such
        member."""
        with self.engine.lock:
            record = self.engine.get(name)
            record.tuning_job_arn = tuning_job_arn
            self.engine.persist(record)

    def showing_stopping(self, record: TrainingJobRecord) -> None:
        _show_stopping(record)

    def deleted(self, record: TrainingJobRecord) -> None:
        shutil.rmtree(self._jobs_dir / record.name, ignore_errors=True)
