"""A training job as its run needs it: typed, parsed once from the validated CreateTrainingJob
request. `parse` is the one place that reads that request's PascalCase members; the run and the
/opt/ml config files read the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.aws.errors import ValidationException
from emulator.runtime.images import algorithm_for_image
from emulator.runtime.optml import HOMOGENEOUS_GROUP, HostLayout, InstanceGroup
from emulator.services.metrics import BUILTIN_METRIC_DEFINITIONS

DEFAULT_MAX_RUNTIME_SECONDS = 86400
"""StoppingCondition.MaxRuntimeInSeconds when the request sets none: the real default, one day."""


@dataclass(frozen=True)
class ChannelSpec:
    """One InputDataConfig channel, its defaults applied."""

    name: str
    data_type: str | None
    """S3DataType (S3Prefix, ManifestFile...); None when the channel has no S3DataSource."""
    uri: str | None
    distribution: str
    """S3DataDistributionType: FullyReplicated unless the channel says ShardedByS3Key."""
    compression: str
    """CompressionType: None or Gzip."""
    content_type: str | None
    input_mode: str
    """The channel's InputMode, else the job's TrainingInputMode, else File."""
    record_wrapper: str
    instance_group_names: tuple[str, ...] = ()
    """The instance groups whose hosts get this channel (empty: every host)."""

    def goes_to(self, group: str) -> bool:
        return not self.instance_group_names or group in self.instance_group_names


@dataclass(frozen=True)
class TrainingJobSpec:
    name: str
    image: str
    algorithm: str | None
    """The built-in algorithm the image names (pca, kmeans), None for bring-your-own."""
    role_arn: str
    hyperparameters: Mapping[str, str]
    """Every value a string, as the real service hands them to the container."""
    environment: Mapping[str, str]
    channels: tuple[ChannelSpec, ...]
    output_path: str
    """S3OutputPath, without a trailing slash."""
    layout: HostLayout
    volume_size_in_gb: int | None
    max_runtime_seconds: float
    network_isolation: bool
    metric_definitions: tuple[Mapping[str, str], ...]
    """The built-in algorithm's definitions, else the request's own."""


def parse(request: Mapping[str, Any]) -> TrainingJobSpec:
    """The spec of a validated CreateTrainingJob request; ValidationException for what the model
    allows but a job this emulator runs cannot do without (the real service refuses it too)."""
    algorithm_spec = request.get("AlgorithmSpecification")
    if algorithm_spec is None:
        raise ValidationException("AlgorithmSpecification is required.")
    resources = request.get("ResourceConfig", {})
    for member in ("InstanceType", "InstanceCount"):
        if member not in resources:
            raise ValidationException(f"ResourceConfig.{member} is required.")
    image = algorithm_spec.get("TrainingImage")
    if not image:
        raise ValidationException(
            "AlgorithmSpecification.TrainingImage is required: this emulator does not "
            "support AlgorithmName (marketplace algorithms)."
        )
    default_mode = algorithm_spec.get("TrainingInputMode", "File")
    channels = tuple(parse_channel(c, default_mode) for c in request.get("InputDataConfig", []))
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise ValidationException("Channel names must be unique within InputDataConfig.")
    output_path = request["OutputDataConfig"]["S3OutputPath"]
    if not output_path.startswith("s3://") or not output_path[len("s3://") :].split("/")[0]:
        raise ValidationException(
            f'S3OutputPath "{output_path}" is not an S3 URI (s3://bucket/prefix).'
        )
    algorithm = algorithm_for_image(image)
    definitions = (
        BUILTIN_METRIC_DEFINITIONS[algorithm]
        if algorithm is not None
        else algorithm_spec.get("MetricDefinitions", [])
    )
    stopping = request.get("StoppingCondition", {})
    return TrainingJobSpec(
        name=request["TrainingJobName"],
        image=image,
        algorithm=algorithm,
        role_arn=request["RoleArn"],
        hyperparameters={k: str(v) for k, v in request.get("HyperParameters", {}).items()},
        environment=dict(request.get("Environment", {})),
        channels=channels,
        output_path=output_path.rstrip("/"),
        layout=host_layout(resources),
        volume_size_in_gb=resources.get("VolumeSizeInGB"),
        max_runtime_seconds=float(stopping.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS)),
        network_isolation=bool(request.get("EnableNetworkIsolation", False)),
        metric_definitions=tuple(dict(d) for d in definitions),
    )


def parse_channel(channel: Mapping[str, Any], default_mode: str = "File") -> ChannelSpec:
    s3 = channel.get("DataSource", {}).get("S3DataSource")
    return ChannelSpec(
        name=channel["ChannelName"],
        data_type=None if s3 is None else s3["S3DataType"],
        uri=None if s3 is None else s3["S3Uri"],
        distribution=(s3 or {}).get("S3DataDistributionType", "FullyReplicated"),
        compression=channel.get("CompressionType", "None"),
        content_type=channel.get("ContentType"),
        input_mode=channel.get("InputMode", default_mode),
        record_wrapper=channel.get("RecordWrapperType", "None"),
        instance_group_names=tuple((s3 or {}).get("InstanceGroupNames") or ()),
    )


def host_layout(resources: Mapping[str, Any]) -> HostLayout:
    """The hosts of a ResourceConfig: InstanceCount of one type, or the InstanceGroups of a
    heterogeneous cluster (hosts numbered group after group)."""
    groups = resources.get("InstanceGroups") or [
        {
            "InstanceGroupName": HOMOGENEOUS_GROUP,
            "InstanceType": resources.get("InstanceType", "local"),
            "InstanceCount": resources.get("InstanceCount", 1),
        }
    ]
    made: list[InstanceGroup] = []
    number = 1
    for group in groups:
        count = max(0, int(group.get("InstanceCount", 1)))
        names = tuple(f"algo-{n}" for n in range(number, number + count))
        number += count
        made.append(InstanceGroup(group["InstanceGroupName"], group["InstanceType"], names))
    return HostLayout(tuple(made))
