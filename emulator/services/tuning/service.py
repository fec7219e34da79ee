"""Hyperparameter tuning jobs: CreateHyperParameterTuningJob and
ListTrainingJobsForHyperParameterTuningJob (Describe, List, Stop and Delete are the job service's).

A tuning job is a job kind on the job engine (stored, persisted, stopped, failed over at restart
like every job); its run (`run.py`) launches real training jobs. A tuning job that was running
when the emulator stopped is Failed when it starts again, as its children are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulator.services import training
from emulator.services.context import ServiceContext
from emulator.services.jobs import Job, JobService, Outcome, Peers
from emulator.services.jobs.service import OperationHandler
from emulator.services.listing import list_response
from emulator.services.tuning.run import KIND, ChildPort, TuningRun
from emulator.services.tuning.run import end as _end
from emulator.services.tuning.run import interrupted as _interrupted
from emulator.services.tuning.spec import parse
from emulator.services.tuning.strategies import Observation, make_strategy
from emulator.state.records import HyperParameterTuningJobStatus, now
from emulator.state.tuning_records import HyperParameterTuningJobRecord, TuningChild


class TuningService(JobService[HyperParameterTuningJobRecord, HyperParameterTuningJobStatus]):
    kind = KIND
    record_type = HyperParameterTuningJobRecord

    def __init__(self, context: ServiceContext, peers: Peers) -> None:
        super().__init__(context)

        def mark(name: str, tuning_job_arn: str) -> None:
            trainer = peers.job_service(training.STORE_KIND)
            assert isinstance(trainer, training.TrainingService)
            trainer.mark_tuning_child(name, tuning_job_arn)

        # Children are created as a client creates training jobs; the tuning job's ARN is the one
        # field it sets on them directly.
        self._port = ChildPort(call=peers.call, mark=mark, events=context.events)

    def end(
        self,
        record: HyperParameterTuningJobRecord,
        outcome: Outcome[HyperParameterTuningJobStatus],
        at: datetime,
    ) -> None:
        _end(record, outcome, at)

    def interrupted(
        self,
        record: HyperParameterTuningJobRecord,
        outcome: Outcome[HyperParameterTuningJobStatus],
        at: datetime,
    ) -> None:
        _interrupted(record, outcome, at)

    @classmethod
    def operations(cls) -> dict[str, OperationHandler]:
        return {
            **super().operations(),
            "ListTrainingJobsForHyperParameterTuningJob": cls.list_training_jobs,
        }

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
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
        record = HyperParameterTuningJobRecord(
            name=name,
            arn=self.arn(name),
            request=parsed.echo,
            creation_time=at,
            last_modified_time=at,
        )
        if spec.warm_start_type == "IdenticalDataAndAlgorithm":
            record.parent_best = [b for b in (_best_of(p) for p in parents) if b is not None]

        def work(job: Job[HyperParameterTuningJobRecord]) -> Outcome[HyperParameterTuningJobStatus]:
            return TuningRun(job, spec, strategy, self._port)()

        return self.submit(record, work, request)

    def list_training_jobs(self, request: dict[str, Any]) -> dict[str, Any]:
        """ListTrainingJobsForHyperParameterTuningJob."""
        name = request["HyperParameterTuningJobName"]

        def summaries(record: HyperParameterTuningJobRecord) -> list[dict[str, Any]]:
            return [c.summary(record.name) for c in record.children]

        items = self.engine.view(name, summaries)
        by_objective = request.get("SortBy") == "FinalObjectiveMetricValue"
        if by_objective:
            # Documented: jobs that did not return an objective metric are not listed.
            items = [s for s in items if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        return list_response(
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


def _best_of(record: HyperParameterTuningJobRecord) -> TuningChild | None:
    """A parent's best job (its own overall best, when it warm-started too)."""
    return record.overall_best() or (record.child(record.best) if record.best else None)


__all__ = ["KIND", "TuningService"]
