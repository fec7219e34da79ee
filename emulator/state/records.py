"""The records the control plane keeps: one dataclass per SageMaker resource, plus status enums.

The hosting records (models, endpoint configs, endpoints) are in `hosting_records.py`, the
tuning job's in `tuning_records.py`.

The enums copy values from botocore's service model (a unit test checks every value against the
model's enum). Each record keeps the validated create request (AWS PascalCase keys) and the few
fields the service changes over its life, and converts to the Describe/List shapes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from emulator.state.describe import describe


def now() -> datetime:
    return datetime.now(UTC)


class TrainingJobStatus(StrEnum):
    """Shape TrainingJobStatus."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class SecondaryStatus(StrEnum):
    """Shape SecondaryStatus (the values this emulator produces)."""

    STARTING = "Starting"
    DOWNLOADING = "Downloading"
    TRAINING = "Training"
    UPLOADING = "Uploading"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
    COMPLETED = "Completed"
    FAILED = "Failed"


class HyperParameterTuningJobStatus(StrEnum):
    """Shape HyperParameterTuningJobStatus (the values this emulator produces)."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class ObjectiveStatus(StrEnum):
    """Shape ObjectiveStatus."""

    SUCCEEDED = "Succeeded"
    PENDING = "Pending"
    FAILED = "Failed"


class TransformJobStatus(StrEnum):
    """Shape TransformJobStatus."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class EndpointStatus(StrEnum):
    """Shape EndpointStatus (the values this emulator produces)."""

    CREATING = "Creating"
    UPDATING = "Updating"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    FAILED = "Failed"


class NotebookInstanceStatus(StrEnum):
    """Shape NotebookInstanceStatus (only the value DescribeNotebookInstance answers)."""

    IN_SERVICE = "InService"


TERMINAL_TRAINING_STATUSES = frozenset(
    {TrainingJobStatus.COMPLETED, TrainingJobStatus.FAILED, TrainingJobStatus.STOPPED}
)

TERMINAL_TRANSFORM_STATUSES = frozenset(
    {TransformJobStatus.COMPLETED, TransformJobStatus.FAILED, TransformJobStatus.STOPPED}
)


@dataclass
class StatusTransition:
    """One SecondaryStatusTransition."""

    status: SecondaryStatus
    start_time: datetime
    status_message: str
    end_time: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "Status": self.status.value,
            "StartTime": self.start_time,
            "StatusMessage": self.status_message,
        }
        if self.end_time is not None:
            wire["EndTime"] = self.end_time
        return wire


@dataclass
class MetricValue:
    """One FinalMetricDataList entry."""

    name: str
    value: float
    timestamp: datetime

    def to_wire(self) -> dict[str, Any]:
        return {"MetricName": self.name, "Value": self.value, "Timestamp": self.timestamp}


_TRAINING_DEFAULTS = {
    "HyperParameters": {},
    "EnableNetworkIsolation": False,
    "EnableInterContainerTrafficEncryption": False,
    "EnableManagedSpotTraining": False,
}
"""What DescribeTrainingJob answers for members the request left out."""


@dataclass
class TrainingJobRecord:
    name: str
    arn: str
    request: dict[str, Any]
    """The validated CreateTrainingJob request (without Tags)."""
    creation_time: datetime
    last_modified_time: datetime
    status: TrainingJobStatus = TrainingJobStatus.IN_PROGRESS
    secondary_status: SecondaryStatus = SecondaryStatus.STARTING
    transitions: list[StatusTransition] = field(default_factory=list)
    metric_definitions: list[dict[str, str]] = field(default_factory=list)
    final_metrics: list[MetricValue] = field(default_factory=list)
    failure_reason: str | None = None
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None
    model_artifacts: str | None = None
    log_stream: str | None = None
    tuning_job_arn: str | None = None
    """Set when a hyperparameter tuning job launched this job (CreateTrainingJob has no member
    for it)."""

    def set_secondary(self, status: SecondaryStatus, message: str, at: datetime) -> None:
        """Move to a secondary status, or update the message of the current one.

        The real service rewrites StatusMessage while the status stays the same (the SDK prints each
        change), and closes a transition (EndTime) when the next one starts.
        """
        last = self.transitions[-1] if self.transitions else None
        if last is not None and last.status == status:
            last.status_message = message
        else:
            if last is not None:
                last.end_time = at
            self.transitions.append(StatusTransition(status, at, message))
        self.secondary_status = status
        self.last_modified_time = at

    def describe(self) -> dict[str, Any]:
        req = self.request
        algo = dict(req["AlgorithmSpecification"])
        if self.metric_definitions:
            algo["MetricDefinitions"] = self.metric_definitions
        output = dict(req["OutputDataConfig"])
        # The SDK's attach() indexes KmsKeyId directly, and the real service answers "".
        output.setdefault("KmsKeyId", "")
        fields: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "TrainingJobStatus": self.status.value,
            "SecondaryStatus": self.secondary_status.value,
            "AlgorithmSpecification": algo,
            "OutputDataConfig": output,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "SecondaryStatusTransitions": [t.to_wire() for t in self.transitions],
            "ModelArtifacts": (
                None if self.model_artifacts is None else {"S3ModelArtifacts": self.model_artifacts}
            ),
            "TuningJobArn": self.tuning_job_arn,
            "FailureReason": self.failure_reason,
            "FinalMetricDataList": [m.to_wire() for m in self.final_metrics] or None,
            "TrainingStartTime": self.training_start_time,
            "TrainingEndTime": self.training_end_time,
        }
        if self.training_end_time is not None and self.training_start_time is not None:
            seconds = max(
                1, round((self.training_end_time - self.training_start_time).total_seconds())
            )
            fields["TrainingTimeInSeconds"] = seconds
            # Wall-clock seconds per instance: AWS multiplies by InstanceCount for the bill,
            # and so does the SDK's "Billable seconds:" line.
            fields["BillableTimeInSeconds"] = seconds
        return describe("DescribeTrainingJob", req, fields, _TRAINING_DEFAULTS)

    def summary(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "TrainingJobStatus": self.status.value,
            "SecondaryStatus": self.secondary_status.value,
        }
        if self.training_end_time is not None:
            wire["TrainingEndTime"] = self.training_end_time
        return wire


@dataclass
class TransformJobRecord:
    name: str
    arn: str
    request: dict[str, Any]
    """The validated CreateTransformJob request (without Tags)."""
    creation_time: datetime
    last_modified_time: datetime
    status: TransformJobStatus = TransformJobStatus.IN_PROGRESS
    failure_reason: str | None = None
    transform_start_time: datetime | None = None
    transform_end_time: datetime | None = None

    def describe(self) -> dict[str, Any]:
        # The real service echoes what the job set; unset tuning fields stay absent.
        fields: dict[str, Any] = {
            "TransformJobName": self.name,
            "TransformJobArn": self.arn,
            "TransformJobStatus": self.status.value,
            "CreationTime": self.creation_time,
            "FailureReason": self.failure_reason,
            "TransformStartTime": self.transform_start_time,
            "TransformEndTime": self.transform_end_time,
        }
        return describe("DescribeTransformJob", self.request, fields)

    def summary(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "TransformJobName": self.name,
            "TransformJobArn": self.arn,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "TransformJobStatus": self.status.value,
        }
        if self.transform_end_time is not None:
            wire["TransformEndTime"] = self.transform_end_time
        if self.failure_reason is not None:
            wire["FailureReason"] = self.failure_reason
        return wire
