"""The records the control plane keeps: one dataclass per SageMaker resource, plus status enums.

The enums copy values from botocore's service model (a unit test checks every value against the
model's enum). Each record keeps the validated create request (AWS PascalCase keys) and the few
fields the service changes over its life, and converts to the Describe/List shapes in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


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
        wire: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "TrainingJobStatus": self.status.value,
            "SecondaryStatus": self.secondary_status.value,
            "HyperParameters": dict(req.get("HyperParameters", {})),
            "AlgorithmSpecification": algo,
            "RoleArn": req["RoleArn"],
            "OutputDataConfig": output,
            "ResourceConfig": req["ResourceConfig"],
            "StoppingCondition": req["StoppingCondition"],
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "SecondaryStatusTransitions": [t.to_wire() for t in self.transitions],
            "EnableNetworkIsolation": bool(req.get("EnableNetworkIsolation", False)),
            "EnableInterContainerTrafficEncryption": bool(
                req.get("EnableInterContainerTrafficEncryption", False)
            ),
            "EnableManagedSpotTraining": bool(req.get("EnableManagedSpotTraining", False)),
        }
        for key in ("InputDataConfig", "VpcConfig", "Environment", "CheckpointConfig"):
            if key in req:
                wire[key] = req[key]
        if self.tuning_job_arn is not None:
            wire["TuningJobArn"] = self.tuning_job_arn
        if self.model_artifacts is not None:
            wire["ModelArtifacts"] = {"S3ModelArtifacts": self.model_artifacts}
        if self.failure_reason is not None:
            wire["FailureReason"] = self.failure_reason
        if self.final_metrics:
            wire["FinalMetricDataList"] = [m.to_wire() for m in self.final_metrics]
        if self.training_start_time is not None:
            wire["TrainingStartTime"] = self.training_start_time
        if self.training_end_time is not None:
            wire["TrainingEndTime"] = self.training_end_time
            if self.training_start_time is not None:
                seconds = max(
                    1, round((self.training_end_time - self.training_start_time).total_seconds())
                )
                wire["TrainingTimeInSeconds"] = seconds
                # Wall-clock seconds per instance: AWS multiplies by InstanceCount for the bill,
                # and so does the SDK's "Billable seconds:" line.
                wire["BillableTimeInSeconds"] = seconds
        return wire

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
        req = self.request
        wire: dict[str, Any] = {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobArn": self.arn,
            "HyperParameterTuningJobConfig": req["HyperParameterTuningJobConfig"],
            "HyperParameterTuningJobStatus": self.status.value,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "TrainingJobStatusCounters": self.status_counters(),
            "ObjectiveStatusCounters": self.objective_counters(),
            "ConsumedResources": {"RuntimeInSeconds": self.runtime_seconds()},
        }
        for key in (
            "TrainingJobDefinition",
            "TrainingJobDefinitions",
            "WarmStartConfig",
            "Autotune",
        ):
            if key in req:
                wire[key] = req[key]
        if self.end_time is not None:
            wire["HyperParameterTuningEndTime"] = self.end_time
        best = self.child(self.best) if self.best is not None else None
        if best is not None:
            wire["BestTrainingJob"] = best.summary(self.name)
        overall = self.overall_best()
        if overall is not None:
            wire["OverallBestTrainingJob"] = overall.summary(
                self.name if overall is best else _tuning_name_of(overall)
            )
        if self.failure_reason is not None:
            wire["FailureReason"] = self.failure_reason
        details: dict[str, Any] = {}
        if self.not_improving is not None:
            details["NumberOfTrainingJobsObjectiveNotImproving"] = self.not_improving
        if self.convergence_time is not None:
            details["ConvergenceDetectedTime"] = self.convergence_time
        if details:
            wire["TuningJobCompletionDetails"] = details
        return wire

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
        req = self.request
        wire: dict[str, Any] = {
            "TransformJobName": self.name,
            "TransformJobArn": self.arn,
            "TransformJobStatus": self.status.value,
            "ModelName": req["ModelName"],
            "TransformInput": req["TransformInput"],
            "TransformOutput": req["TransformOutput"],
            "TransformResources": req["TransformResources"],
            "CreationTime": self.creation_time,
        }
        # The real service echoes what the job set; unset tuning fields stay absent.
        for key in (
            "MaxConcurrentTransforms",
            "ModelClientConfig",
            "MaxPayloadInMB",
            "BatchStrategy",
            "Environment",
            "DataCaptureConfig",
            "DataProcessing",
            "ExperimentConfig",
        ):
            if key in req:
                wire[key] = req[key]
        if self.failure_reason is not None:
            wire["FailureReason"] = self.failure_reason
        if self.transform_start_time is not None:
            wire["TransformStartTime"] = self.transform_start_time
        if self.transform_end_time is not None:
            wire["TransformEndTime"] = self.transform_end_time
        return wire

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


@dataclass
class ModelRecord:
    name: str
    arn: str
    request: dict[str, Any]
    creation_time: datetime

    def containers(self) -> list[dict[str, Any]]:
        """The model's container definitions (PrimaryContainer, or the Containers list)."""
        if "PrimaryContainer" in self.request:
            return [self.request["PrimaryContainer"]]
        return list(self.request.get("Containers", []))

    def describe(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "ModelName": self.name,
            "ModelArn": self.arn,
            "CreationTime": self.creation_time,
            "EnableNetworkIsolation": bool(self.request.get("EnableNetworkIsolation", False)),
        }
        for key in (
            "PrimaryContainer",
            "Containers",
            "InferenceExecutionConfig",
            "ExecutionRoleArn",
            "VpcConfig",
        ):
            if key in self.request:
                wire[key] = self.request[key]
        return wire

    def summary(self) -> dict[str, Any]:
        return {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.creation_time}


@dataclass
class EndpointConfigRecord:
    name: str
    arn: str
    request: dict[str, Any]
    creation_time: datetime

    def variants(self) -> list[dict[str, Any]]:
        return list(self.request["ProductionVariants"])

    def describe(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "EndpointConfigName": self.name,
            "EndpointConfigArn": self.arn,
            "ProductionVariants": self.variants(),
            "CreationTime": self.creation_time,
        }
        for key in (
            "DataCaptureConfig",
            "KmsKeyId",
            "AsyncInferenceConfig",
            "ExplainerConfig",
            "ShadowProductionVariants",
            "ExecutionRoleArn",
            "VpcConfig",
            "EnableNetworkIsolation",
        ):
            if key in self.request:
                wire[key] = self.request[key]
        return wire

    def summary(self) -> dict[str, Any]:
        return {
            "EndpointConfigName": self.name,
            "EndpointConfigArn": self.arn,
            "CreationTime": self.creation_time,
        }


@dataclass
class VariantState:
    """One production variant as deployed: what it runs (a snapshot of its model at deploy time,
    so a restart can bring it back even if the model was deleted since) and what DescribeEndpoint
    reports about it."""

    variant_name: str
    model_name: str
    container: dict[str, Any]
    """The model's container definition (Image, ModelDataUrl, Environment...)."""
    weight: float
    instance_count: int
    instance_type: str = ""
    network_isolation: bool = False
    """The model's EnableNetworkIsolation: the serving container gets no outside network."""
    volume_size_in_gb: int | None = None
    """The variant's VolumeSizeInGB: what its model may expand to (None: the default volume)."""
    routing_strategy: str | None = None
    """RoutingConfig.RoutingStrategy as the config gave it (None: the emulator's default)."""

    @property
    def image(self) -> str:
        return str(self.container.get("Image", ""))

    def to_wire(self, at: datetime, current: tuple[int, float] | None = None) -> dict[str, Any]:
        """`current`: the instance count and weight that really serve (default: the desired)."""
        count, weight = current if current is not None else (self.instance_count, self.weight)
        wire: dict[str, Any] = {
            "VariantName": self.variant_name,
            "DeployedImages": [
                {
                    "SpecifiedImage": self.image,
                    "ResolvedImage": self.image,
                    "ResolutionTime": at,
                }
            ],
            "CurrentWeight": weight,
            "DesiredWeight": self.weight,
            "CurrentInstanceCount": count,
            "DesiredInstanceCount": self.instance_count,
        }
        if self.routing_strategy is not None:
            wire["RoutingConfig"] = {"RoutingStrategy": self.routing_strategy}
        return wire


@dataclass
class EndpointRecord:
    name: str
    arn: str
    config_name: str
    creation_time: datetime
    last_modified_time: datetime
    status: EndpointStatus = EndpointStatus.CREATING
    failure_reason: str | None = None
    variants: list[VariantState] = field(default_factory=list)
    pending_config_name: str | None = None
    """The config an UpdateEndpoint is moving to, while Updating."""
    pending_variants: list[VariantState] = field(default_factory=list)
    async_config: dict[str, Any] | None = None
    """The AsyncInferenceConfig of the config it serves: set, it takes asynchronous invocations
    only."""

    def describe(self, current: Mapping[str, tuple[int, float]] | None = None) -> dict[str, Any]:
        """`current`: per variant, the instance count and weight that really serve."""
        wire: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config_name,
            "EndpointStatus": self.status.value,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }
        # Variants are reported once they serve (the real service shows none while Creating).
        if self.variants and self.status in (EndpointStatus.IN_SERVICE, EndpointStatus.UPDATING):
            wire["ProductionVariants"] = [
                v.to_wire(self.last_modified_time, (current or {}).get(v.variant_name))
                for v in self.variants
            ]
        if self.failure_reason is not None:
            wire["FailureReason"] = self.failure_reason
        return wire

    def summary(self) -> dict[str, Any]:
        return {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "EndpointStatus": self.status.value,
        }
