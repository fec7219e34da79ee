"""What a tuning job's run does: launch children as slots free, follow them, learn from them.

Children are real training jobs, created through CreateTrainingJob with the same validation as a
client's request, and followed through the region's job events (a terminal event wakes the run; a
slow poll covers anything missed). When a child ends, its objective is read from its
FinalMetricDataList, told to the strategy, and the tuning record's counters, best job and
completion details are updated. The run ends when the budget is spent (MaxNumberOfTrainingJobs,
the grid, MaxRuntimeInSeconds), a completion criterion is met, StopHyperParameterTuningJob is
called (every running child is stopped), or a child cannot be created.
"""

from __future__ import annotations

import contextlib
import copy
import math
import queue
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.aws.errors import AwsError, ResourceNotFound, ValidationException
from emulator.aws.wire import from_wire_timestamp
from emulator.services import training
from emulator.services.jobs import Job, JobEvent, JobEvents, JobKind, JobStopped, Outcome, declare
from emulator.services.tuning.hyperparameters import OBJECTIVE_KEY
from emulator.services.tuning.spec import TuningSpec
from emulator.services.tuning.strategies import Strategy, Suggestion
from emulator.state import lifecycle
from emulator.state.records import HyperParameterTuningJobStatus, TrainingJobStatus, now
from emulator.state.tuning_records import HyperParameterTuningJobRecord, TuningChild

_HP = HyperParameterTuningJobStatus


def _no_tuning_job(name: str) -> str:
    return f"Amazon SageMaker can't find a tuning job with name {name}"


KIND: JobKind[HyperParameterTuningJobStatus] = declare(
    "HyperParameterTuningJob",
    "hyperparameter tuning job",
    HyperParameterTuningJobStatus,
    lifecycle.TUNING_TRANSITIONS,
    not_found=lambda name: ResourceNotFound(_no_tuning_job(name)),
    stop_not_found=lambda name: ResourceNotFound(_no_tuning_job(name)),
    # The model declares no error for DeleteHyperParameterTuningJob: the service's generic one.
    delete_not_found=lambda name: ValidationException(_no_tuning_job(name)),
)
_WAIT_SECONDS = 0.5
_POLL_SECONDS = 2.0
"""How often running children are looked at directly, in case an event was missed."""
IMPROVEMENT = 0.01
"""An objective improves on the best when it is better by 1% or more (the documented rule of
BestObjectiveNotImproving and of convergence)."""


@dataclass(frozen=True)
class ChildPort:
    """How the run reaches training jobs: operations as a client calls them, and the one field a
    tuning job sets on its children."""

    call: Callable[[str, dict[str, Any]], dict[str, Any]]
    mark: Callable[[str, str], None]
    events: JobEvents


def end(record: HyperParameterTuningJobRecord, outcome: Outcome[Any], at: datetime) -> None:
    record.end_time = at
    # Only a shutdown ends a tuning job before its children: they are cut short by it too.
    _fail_running_children(record, training.SHUTDOWN_REASON)


def interrupted(record: HyperParameterTuningJobRecord, outcome: Outcome[Any], at: datetime) -> None:
    record.end_time = at
    _fail_running_children(record, training.RESTART_REASON)


def _fail_running_children(record: HyperParameterTuningJobRecord, reason: str) -> None:
    for child in record.children:
        if child.status in (TrainingJobStatus.IN_PROGRESS, TrainingJobStatus.STOPPING):
            child.status = TrainingJobStatus.FAILED
            child.failure_reason = reason


def convergence_window(max_jobs: int) -> int:
    """Jobs in a row without a 1% improvement after which the emulator calls the search
    converged (AWS does not document its rule)."""
    return max(3, math.ceil(max_jobs / 5))


class TuningRun:
    def __init__(
        self,
        job: Job[HyperParameterTuningJobRecord],
        spec: TuningSpec,
        strategy: Strategy,
        port: ChildPort,
    ) -> None:
        self._job = job
        self._spec = spec
        self._strategy = strategy
        self._port = port
        self._arn = job.read(lambda r: r.arn)
        self._running: dict[str, Suggestion] = {}
        self._launched = 0
        self._inbox: queue.Queue[JobEvent] = queue.Queue()
        self._end_early = False
        self._failure: str | None = None
        self._best: float | None = None

    def __call__(self) -> Outcome[HyperParameterTuningJobStatus]:
        prefix = f"{self._spec.name}-"

        def on_event(event: JobEvent) -> None:
            if event.kind == "training-job" and event.name.startswith(prefix):
                self._inbox.put(event)

        unsubscribe = self._port.events.subscribe(on_event)
        try:
            return self._loop()
        finally:
            unsubscribe()

    # --- the loop -------------------------------------------------------------------------------

    def _loop(self) -> Outcome[HyperParameterTuningJobStatus]:
        spec = self._spec
        deadline = None if spec.max_runtime is None else time.monotonic() + spec.max_runtime
        children_stopped = False
        last_poll = time.monotonic()
        while True:
            if self._job.shutdown:
                # The emulator is stopping: the children are cut short by the same shutdown.
                raise JobStopped()
            timed_out = deadline is not None and time.monotonic() >= deadline
            ending = (
                self._job.stop_requested.is_set()
                or timed_out
                or self._end_early
                or self._failure is not None
            )
            if ending and not children_stopped:
                self._stop_children()
                children_stopped = True
            if not ending:
                self._launch_while_free()
            if not self._running:
                break
            try:
                event = self._inbox.get(timeout=_WAIT_SECONDS)
            except queue.Empty:
                if time.monotonic() - last_poll >= _POLL_SECONDS:
                    last_poll = time.monotonic()
                    self._poll()
                continue
            if event.name in self._running:
                if event.terminal:
                    self._child_ended(event.name)
                else:
                    self._update_child(event.name, event.status)
        return self._outcome()

    def _outcome(self) -> Outcome[HyperParameterTuningJobStatus]:
        if self._job.stop_requested.is_set():
            return Outcome(_HP.STOPPED)
        if self._failure is not None:
            return Outcome(_HP.FAILED, self._failure)
        if self._best is None:
            metrics = sorted({d.objective.metric for d in self._spec.definitions})
            return Outcome(
                _HP.FAILED,
                "No training job succeeded: every training job failed or did not emit the "
                f"objective metric ({', '.join(metrics)}).",
            )
        return Outcome(_HP.COMPLETED)

    # --- children -----------------------------------------------------------------------------

    def _launch_while_free(self) -> None:
        spec = self._spec
        while len(self._running) < spec.max_parallel and self._launched < spec.max_jobs:
            suggestion = self._strategy.ask()
            if suggestion is None:
                return
            self._launched += 1
            try:
                self._launch(suggestion)
            except AwsError as exc:
                self._failure = (
                    f"ClientError: training job {self._launched} could not be created: "
                    f"{exc.code}: {exc.message}"
                )
                return

    def _launch(self, suggestion: Suggestion) -> None:
        spec = self._spec
        definition = spec.definitions[suggestion.definition]
        name = f"{spec.name}-{self._launched:03d}-{secrets.token_hex(4)}"
        params = copy.deepcopy(definition.template)
        params["TrainingJobName"] = name
        params["HyperParameters"] = {
            **definition.static,
            **suggestion.values,
            OBJECTIVE_KEY: definition.objective.metric,
        }
        arn = self._port.call("CreateTrainingJob", params)["TrainingJobArn"]
        self._port.mark(name, self._arn)
        child = TuningChild(
            name=name,
            arn=arn,
            creation_time=now(),
            tuned=dict(suggestion.values),
            definition_name=definition.name,
            objective_type=definition.objective.type,
            objective_name=definition.objective.metric,
        )
        self._job.update(lambda r: r.children.append(child))
        self._running[name] = suggestion

    def _stop_children(self) -> None:
        for name in list(self._running):
            # One that ended meanwhile refuses the stop; its event is on the way.
            with contextlib.suppress(AwsError):
                self._port.call("StopTrainingJob", {"TrainingJobName": name})

    def _poll(self) -> None:
        for name in list(self._running):
            try:
                status = self._port.call("DescribeTrainingJob", {"TrainingJobName": name})[
                    "TrainingJobStatus"
                ]
            except AwsError:
                status = TrainingJobStatus.FAILED.value
            if status in ("Completed", "Failed", "Stopped"):
                self._child_ended(name)

    def _update_child(self, name: str, status: str) -> None:
        def apply(record: HyperParameterTuningJobRecord) -> None:
            child = record.child(name)
            if child is not None:
                child.status = TrainingJobStatus(status)

        self._job.update(apply)

    def _child_ended(self, name: str) -> None:
        suggestion = self._running.pop(name)
        definition = self._spec.definitions[suggestion.definition]
        try:
            described = self._port.call("DescribeTrainingJob", {"TrainingJobName": name})
        except AwsError:
            described = {"TrainingJobStatus": "Failed", "FailureReason": "The job was deleted."}
        status = TrainingJobStatus(described["TrainingJobStatus"])
        objective: float | None = None
        if status != TrainingJobStatus.FAILED:
            for metric in described.get("FinalMetricDataList", []):
                if metric["MetricName"] == definition.objective.metric:
                    objective = float(metric["Value"])
        self._strategy.tell(suggestion.key, objective)

        def change(record: HyperParameterTuningJobRecord) -> None:
            child = record.child(name)
            if child is None:
                return
            child.status = status
            child.failure_reason = described.get("FailureReason")
            for key, attr in (
                ("TrainingStartTime", "training_start_time"),
                ("TrainingEndTime", "training_end_time"),
            ):
                if key in described:
                    setattr(child, attr, from_wire_timestamp(described[key]))
            child.objective = objective
            if objective is not None:
                self._judge(record, child, objective)

        self._job.update(change)

    # --- the best job and the completion criteria ------------------------------------------------

    def _better(self, value: float, than: float) -> bool:
        return value < than if self._spec.objective_type == "Minimize" else value > than

    def _improves(self, value: float, best: float) -> bool:
        margin = IMPROVEMENT * abs(best)
        if self._spec.objective_type == "Minimize":
            return value <= best - margin if margin else value < best
        return value >= best + margin if margin else value > best

    def _judge(
        self, record: HyperParameterTuningJobRecord, child: TuningChild, value: float
    ) -> None:
        spec = self._spec
        best = self._best
        improved = best is None or self._improves(value, best)
        if best is None or self._better(value, best):
            self._best = value
            record.best = child.name
        tracked = spec.not_improving is not None or spec.convergence
        if tracked:
            record.not_improving = 0 if improved else (record.not_improving or 0) + 1
        if spec.target is not None and not self._better(spec.target, value):
            self._end_early = True  # the target objective value is reached
        if spec.not_improving is not None and (record.not_improving or 0) >= spec.not_improving:
            self._end_early = True
        if spec.convergence and (record.not_improving or 0) >= convergence_window(spec.max_jobs):
            if record.convergence_time is None:
                record.convergence_time = now()
            if spec.complete_on_convergence:
                self._end_early = True
