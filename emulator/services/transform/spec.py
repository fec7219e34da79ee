"""A batch transform job as its run needs it: typed, parsed once from the validated
CreateTransformJob request. `parse` is the one place that reads that request's PascalCase members.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.aws.errors import ValidationException


@dataclass(frozen=True)
class TransformInputSpec:
    data_type: str
    """S3DataType: S3Prefix or ManifestFile."""
    uri: str
    content_type: str | None
    split_type: str
    compression: str


@dataclass(frozen=True)
class TransformOutputSpec:
    path: str
    """S3OutputPath."""
    accept: str | None
    assemble_with: str


@dataclass(frozen=True)
class TransformResourcesSpec:
    instance_type: str
    instance_count: int


@dataclass(frozen=True)
class BatchSettings:
    """What the job itself set; None where the container's answer or the default applies."""

    strategy: str | None
    max_payload_mb: int | None
    max_concurrent: int | None


@dataclass(frozen=True)
class DataProcessingSpec:
    input_filter: str = "$"
    output_filter: str = "$"
    join_source: str = "None"


@dataclass(frozen=True)
class TransformJobSpec:
    name: str
    model_name: str
    input: TransformInputSpec
    output: TransformOutputSpec
    resources: TransformResourcesSpec
    batch: BatchSettings
    environment: Mapping[str, str]
    data_processing: DataProcessingSpec


def parse(request: Mapping[str, Any]) -> TransformJobSpec:
    """The spec of a validated CreateTransformJob request; ValidationException for an output
    path that is not an S3 URI."""
    transform_input = request["TransformInput"]
    source = transform_input["DataSource"]["S3DataSource"]
    output = request["TransformOutput"]
    output_path = output["S3OutputPath"]
    if not output_path.startswith("s3://") or not output_path[len("s3://") :].split("/")[0]:
        raise ValidationException(
            f'S3OutputPath "{output_path}" is not an S3 URI (s3://bucket/prefix).'
        )
    resources = request["TransformResources"]
    processing = request.get("DataProcessing", {})
    defaults = DataProcessingSpec()
    return TransformJobSpec(
        name=request["TransformJobName"],
        model_name=request["ModelName"],
        input=TransformInputSpec(
            data_type=source["S3DataType"],
            uri=source["S3Uri"],
            content_type=transform_input.get("ContentType") or None,
            split_type=transform_input.get("SplitType", "None"),
            compression=transform_input.get("CompressionType", "None"),
        ),
        output=TransformOutputSpec(
            path=output_path,
            accept=output.get("Accept") or None,
            assemble_with=output.get("AssembleWith", "None"),
        ),
        resources=TransformResourcesSpec(
            instance_type=resources["InstanceType"],
            instance_count=int(resources.get("InstanceCount", 1)),
        ),
        batch=BatchSettings(
            strategy=request.get("BatchStrategy"),
            max_payload_mb=request.get("MaxPayloadInMB"),
            max_concurrent=request.get("MaxConcurrentTransforms"),
        ),
        environment={str(k): str(v) for k, v in request.get("Environment", {}).items()},
        data_processing=DataProcessingSpec(
            input_filter=processing.get("InputFilter", defaults.input_filter),
            output_filter=processing.get("OutputFilter", defaults.output_filter),
            join_source=processing.get("JoinSource", defaults.join_source),
        ),
    )
