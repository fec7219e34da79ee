"""Hyperparameter tuning jobs: Create/Describe/List/Stop/Delete HyperParameterTuningJob and
ListTrainingJobsForHyperParameterTuningJob.

A tuning job is a job kind on the job engine (stored, persisted, stopped, failed over at restart
like every job); its run (`run.py`) launches real training jobs. A tuning job that was running
when the emulator stopped is Failed when it starts again, as its children are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulator.aws import arns
from emulator.aws.errors import ResourceNotFound, ValidationException
from emulator.services import training
from emulator.services.jobs import Job, JobEngine, JobEvents, JobKind, Outcome
from emulator.services.listing import list_summaries
from emulator.services.tags import TagService
from emulator.services.tuning.run import ChildPort, TuningRun
from emulator.services.tuning.spec import parse
from emulator.services.tuning.strategies import Observation, make_strategy
from emulator.state import lifecycle
from emulator.state.records import (
    HyperParameterTuningJobRecord,
    HyperParameterTuningJobStatus,
    TrainingJobStatus,
    TuningChild,
    now,
)
from emulator.state.store import RecordStore

STORE_KIND = "hyper-parameter-tuning-job"

_HP = HyperParameterTuningJobStatus
KIND: JobKind[HyperParameterTuningJobStatus] = JobKind(
    store_kind=STORE_KIND,
    noun="hyperparameter tuning job",
    statuses=HyperParameterTuningJobStatus,
    transitions=lifecycle.TUNING_TRANSITIONS,
    in_progress=_HP.IN_PROGRESS,
    stopping=_HP.STOPPING,
    stopped=_HP.STOPPED,
    failed=_HP.FAILED,
    completed=_HP.COMPLETED,
    restart_reason=(
        "InternalServerError: The emulator stopped while this hyperparameter tuning job was "
        "running; the job was marked Failed when the emulator started again."
    ),
    shutdown_reason=(
        "InternalServerError: The emulator was shut down while this hyperparameter tuning job "
        "was running."
    ),
    not_found=lambda name: ResourceNotFound(
        f"Amazon SageMaker can't find a tuning job with name {name}"
    ),
)


def _end(record: HyperParameterTuningJobRecord, outcome: Outcome[Any], at: datetime) -> None:
    record.end_time = at
    # Only a shutdown ends a tuning job before its children: they are cut short by it too.
    _fail_running_children(record, training.SHUTDOWN_REASON)


def _interrupted(
    record: HyperParameterTuningJobRecord, outcome: Outcome[Any], at: datetime
) -> None:
    record.end_time = at
    _fail_running_children(record, training.RESTART_REASON)


def _fail_running_children(record: HyperParameterTuningJobRecord, reason: str) -> None:
    for child in record.children:
        if child.status in (TrainingJobStatus.IN_PROGRESS, TrainingJobStatus.STOPPING):
            child.status = TrainingJobStatus.FAILED
            child.failure_reason = reason


class TuningService:
    def __init__(
        self,
        region: str,
        store: RecordStore,
        tags: TagService,
        events: JobEvents,
        port: ChildPort,
    ) -> None:
        self._region = region
        self._tags = tags
        self._port = port
        self.engine: JobEngine[HyperParameterTuningJobRecord, HyperParameterTuningJobStatus] = (
            JobEngine(KIND, store, HyperParameterTuningJobRecord, events, _end)
        )

    def start(self) -> None:
        self.engine.recover(_interrupted)

    def close(self) -> None:
        self.engine.close()

    def exists(self, arn: str) -> bool:
        return self.engine.exists(arn)

    # --- operations -----------------------------------------------------------------------------

    def create_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["HyperParameterTuningJobName"]
        parsed = parse(request, self.engine.find, lambda r: r.status in self.engine.kind.terminal)
        spec = parsed.spec
        parents = [p for p in (self.engine.find(n) for n in spec.parents) if p is not None]
        history = [
            Observation(c.tuned, c.objective)
            for p in parents
            for c in p.children
            if c.objective is not None
        ]
        strategy = make_strategy(spec, history)
        at = now()
        arn = arns.arn(self._region, "hyper-parameter-tuning-job", name)
        record = HyperParameterTuningJobRecord(
            name=name,
            arn=arn,
            request=parsed.echo,
            creation_time=at,
            last_modified_time=at,
        )
        if spec.warm_start_type == "IdenticalDataAndAlgorithm":
            record.parent_best = [b for b in (_best_of(p) for p in parents) if b is not None]

        def work(job: Job[HyperParameterTuningJobRecord]) -> Outcome[HyperParameterTuningJobStatus]:
            return TuningRun(job, spec, strategy, self._port)()

        self.engine.submit(
            record,
            work,
            before_store=lambda: self._tags.set_initial(arn, request.get("Tags", [])),
        )
        return {"HyperParameterTuningJobArn": arn}

    def describe_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.engine.view(
            request["HyperParameterTuningJobName"], HyperParameterTuningJobRecord.describe
        )

    def list_hyper_parameter_tuning_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        page, token = list_summaries(
            self.engine.views(HyperParameterTuningJobRecord.summary),
            request,
            name_key="HyperParameterTuningJobName",
            status_key="HyperParameterTuningJobStatus",
            operation="ListHyperParameterTuningJobs",
        )
        response: dict[str, Any] = {"HyperParameterTuningJobSummaries": page}
        if token is not None:
            response["NextToken"] = token
        return response

    def stop_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["HyperParameterTuningJobName"]
        with self.engine.lock:
            record = self.engine.find(name)
            if record is None:
                raise ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {name}")
            if record.status != _HP.IN_PROGRESS:
                raise ValidationException(
                    "The request was rejected because the hyperparameter tuning job is in "
                    f"status {record.status}."
                )
            self.engine.request_stop(name)
        return {}

    def delete_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        """Forget a finished tuning job; its training jobs, artifacts and logs stay."""
        name = request["HyperParameterTuningJobName"]
        if self.engine.find(name) is None:
            # The model declares no error for this operation: the service's generic one.
            raise ValidationException(f"Amazon SageMaker can't find a tuning job with name {name}")
        record = self.engine.delete(name)
        self._tags.forget(record.arn)
        return {}

    def list_training_jobs_for_hyper_parameter_tuning_job(
        self, request: dict[str, Any]
    ) -> dict[str, Any]:
        name = request["HyperParameterTuningJobName"]

        def summaries(record: HyperParameterTuningJobRecord) -> list[dict[str, Any]]:
            return [c.summary(record.name) for c in record.children]

        items = self.engine.view(name, summaries)
        by_objective = request.get("SortBy") == "FinalObjectiveMetricValue"
        if by_objective:
            # Documented: jobs that did not return an objective metric are not listed.
            items = [s for s in items if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        page, token = list_summaries(
            items,
            request,
            name_key="TrainingJobName",
            status_key="TrainingJobStatus",
            operation="ListTrainingJobsForHyperParameterTuningJob",
            extra_sort_keys={
                "FinalObjectiveMetricValue": lambda s: s[
                    "FinalHyperParameterTuningJobObjectiveMetric"
                ]["Value"]
            },
        )
        response: dict[str, Any] = {"TrainingJobSummaries": page}
        if token is not None:
            response["NextToken"] = token
        return response


def _best_of(record: HyperParameterTuningJobRecord) -> TuningChild | None:
    """A parent's best job (its own overall best, when it warm-started too)."""
    return record.overall_best() or (record.child(record.best) if record.best else None)


__all__ = ["KIND", "TuningService"]
