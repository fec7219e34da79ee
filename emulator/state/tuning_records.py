"""The records of hyperparameter tuning jobs: the job and the training jobs it launched, and
their Describe/List shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulator.state.describe import describe
from emulator.state.records import (
    HyperParameterTuningJobStatus,
    ObjectiveStatus,
    TrainingJobStatus,
    now,
)


@dataclass
class TuningChild:
    """One training job a tuning job launched, as the tuning job last saw it."""

    name: str
    arn: str
    creation_time: datetime
    tuned: dict[str, str]
    """TunedHyperParameters: the values the strategy chose, as the job received them."""
    definition_name: str | None = None
    status: TrainingJobStatus = TrainingJobStatus.IN_PROGRESS
    failure_reason: str | None = None
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None
    objective_type: str = "Minimize"
    objective_name: str = ""
    objective: float | None = None
    """The objective metric's final value; None while running or when the job emitted none."""

    @property
    def objective_status(self) -> ObjectiveStatus:
        if self.objective is not None:
            return ObjectiveStatus.SUCCEEDED
        if self.status in (TrainingJobStatus.IN_PROGRESS, TrainingJobStatus.STOPPING):
            return ObjectiveStatus.PENDING
        return ObjectiveStatus.FAILED

    def summary(self, tuning_job_name: str) -> dict[str, Any]:
        """A HyperParameterTrainingJobSummary."""
        wire: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "TuningJobName": tuning_job_name,
            "CreationTime": self.creation_time,
            "TrainingJobStatus": self.status.value,
            "TunedHyperParameters": dict(self.tuned),
            "ObjectiveStatus": self.objective_status.value,
        }
        if self.definition_name is not None:
            wire["TrainingJobDefinitionName"] = self.definition_name
        if self.training_start_time is not None:
            wire["TrainingStartTime"] = self.training_start_time
        if self.training_end_time is not None:
            wire["TrainingEndTime"] = self.training_end_time
        if self.failure_reason is not None:
            wire["FailureReason"] = self.failure_reason
        if self.objective is not None:
            wire["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": self.objective_type,
                "MetricName": self.objective_name,
                "Value": self.objective,
            }
        return wire


@dataclass
class HyperParameterTuningJobRecord:
    name: str
    arn: str
    request: dict[str, Any]
    """What Describe echoes: the validated request (without Tags) with the service's additions
    (defaults, `_tuning_objective_metric`, injected metric definitions, ResourceConfig)."""
    creation_time: datetime
    last_modified_time: datetime
    status: HyperParameterTuningJobStatus = HyperParameterTuningJobStatus.IN_PROGRESS
    failure_reason: str | None = None
    end_time: datetime | None = None
    children: list[TuningChild] = field(default_factory=list)
    best: str | None = None
    """Name of the best child so far."""
    parent_best: list[TuningChild] = field(default_factory=list)
    """The best jobs of the warm-start parents (IdenticalDataAndAlgorithm: OverallBestTrainingJob
    is the best of these and this job's own)."""
    not_improving: int | None = None
    convergence_time: datetime | None = None

    def child(self, name: str) -> TuningChild | None:
        return next((c for c in self.children if c.name == name), None)

    def status_counters(self) -> dict[str, int]:
        counters = dict.fromkeys(
            ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
        )
        for c in self.children:
            if c.status == TrainingJobStatus.FAILED:
                # An error inside the platform may succeed on a retry; the job's own may not.
                internal = (c.failure_reason or "").startswith("InternalServerError")
                counters["RetryableError" if internal else "NonRetryableError"] += 1
            elif c.status == TrainingJobStatus.STOPPING:
                counters["InProgress"] += 1
            else:
                counters[c.status.value] += 1
        return counters

    def objective_counters(self) -> dict[str, int]:
        counters = {s.value: 0 for s in ObjectiveStatus}
        for c in self.children:
            counters[c.objective_status.value] += 1
        return counters

    def runtime_seconds(self) -> int:
        return int(((self.end_time or now()) - self.creation_time).total_seconds())

    def describe(self) -> dict[str, Any]:
        best = self.child(self.best) if self.best is not None else None
        overall = self.overall_best()
        details: dict[str, Any] = {}
        if self.not_improving is not None:
            details["NumberOfTrainingJobsObjectiveNotImproving"] = self.not_improving
        if self.convergence_time is not None:
            details["ConvergenceDetectedTime"] = self.convergence_time
        fields: dict[str, Any] = {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobArn": self.arn,
            "HyperParameterTuningJobStatus": self.status.value,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "TrainingJobStatusCounters": self.status_counters(),
            "ObjectiveStatusCounters": self.objective_counters(),
            "ConsumedResources": {"RuntimeInSeconds": self.runtime_seconds()},
            "HyperParameterTuningEndTime": self.end_time,
            "BestTrainingJob": None if best is None else best.summary(self.name),
            "OverallBestTrainingJob": (
                None
                if overall is None
                else overall.summary(self.name if overall is best else _tuning_name_of(overall))
            ),
            "FailureReason": self.failure_reason,
            "TuningJobCompletionDetails": details or None,
        }
        return describe("DescribeHyperParameterTuningJob", self.request, fields)

    def overall_best(self) -> TuningChild | None:
        warm = self.request.get("WarmStartConfig", {})
        if warm.get("WarmStartType") != "IdenticalDataAndAlgorithm":
            return None
        candidates = [c for c in self.parent_best if c.objective is not None]
        best = self.child(self.best) if self.best is not None else None
        if best is not None and best.objective is not None:
            candidates.insert(0, best)
        if not candidates:
            return None
        sign = -1.0 if candidates[0].objective_type == "Maximize" else 1.0
        return min(candidates, key=lambda c: sign * (c.objective or 0.0))

    def summary(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobArn": self.arn,
            "HyperParameterTuningJobStatus": self.status.value,
            "Strategy": self.request["HyperParameterTuningJobConfig"]["Strategy"],
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "TrainingJobStatusCounters": self.status_counters(),
            "ObjectiveStatusCounters": self.objective_counters(),
            "ResourceLimits": self.request["HyperParameterTuningJobConfig"]["ResourceLimits"],
        }
        if self.end_time is not None:
            wire["HyperParameterTuningEndTime"] = self.end_time
        return wire


def _tuning_name_of(child: TuningChild) -> str:
    """A child's tuning job: its name is `<tuning job>-NNN-<8 hex>`."""
    return child.name.rsplit("-", 2)[0]
