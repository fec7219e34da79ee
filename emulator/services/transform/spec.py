"""A batch transform job as its run needs it: typed, parsed once from the validated
CreateTransformJob request. `parse` is the one place that reads that request's PascalCase members.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.aws.errors import ValidationException
from emulator.state.hosting_records import ModelRecord

# Defaults when neither the job nor the container's /execution-parameters says (the API docs, see
# docs/sagemaker-facts.md#inference-container; the SDK's local mode uses BatchStrategy MultiRecord
# and MaxPayloadInMB 6).
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_MAX_CONCURRENT = 1
DEFAULT_BATCH_STRATEGY = "MultiRecord"

STRATEGY_TO_ENV = {"SingleRecord": "SINGLE_RECORD", "MultiRecord": "MULTI_RECORD"}
"""The container contract spells the strategy in upper snake case (SAGEMAKER_BATCH_STRATEGY)."""
_ENV_TO_STRATEGY = {v: k for k, v in STRATEGY_TO_ENV.items()}

SPLIT_TYPES = ("None", "Line", "RecordIO")
"""The SplitTypes this emulator splits by."""


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
class EffectiveBatch:
    """The batch settings a run uses: the job's value, then the container's answer, then the
    defaults."""

    batch_strategy: str
    max_payload_mb: int
    max_concurrent: int


@dataclass(frozen=True)
class BatchSettings:
    """What the job itself set; None where the container's answer or the default applies."""

    strategy: str | None
    max_payload_mb: int | None
    max_concurrent: int | None

    def effective(self, container: Mapping[str, Any]) -> EffectiveBatch:
        """With the container's GET /execution-parameters answer: SageMaker's precedence
        (docs/sagemaker-facts.md#inference-container)."""
        strategy = self.strategy or _ENV_TO_STRATEGY.get(
            str(container.get("BatchStrategy", "")), DEFAULT_BATCH_STRATEGY
        )
        payload = self.max_payload_mb
        if payload is None:
            payload = _positive_int(container.get("MaxPayloadInMB"), DEFAULT_MAX_PAYLOAD_MB, 0)
        concurrent = self.max_concurrent
        if concurrent is None:
            concurrent = _positive_int(
                container.get("MaxConcurrentTransforms"), DEFAULT_MAX_CONCURRENT, 1
            )
        return EffectiveBatch(str(strategy), int(payload), max(1, int(concurrent)))


def _positive_int(value: Any, default: int, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number >= minimum else default


@dataclass(frozen=True)
class DataProcessingSpec:
    input_filter: str = "$"
    output_filter: str = "$"
    join_source: str = "None"


@dataclass(frozen=True)
class ModelSpec:
    """What the job serves: the model's (first) container."""

    image: str
    model_data_url: str | None
    environment: Mapping[str, str]
    network_isolation: bool


@dataclass(frozen=True)
class TransformJobSpec:
    name: str
    model_name: str
    model: ModelSpec
    input: TransformInputSpec
    output: TransformOutputSpec
    resources: TransformResourcesSpec
    batch: BatchSettings
    environment: Mapping[str, str]
    data_processing: DataProcessingSpec

    def unsupported(self) -> str | None:
        """Why this emulator cannot run the job (a valid request: the job fails, not the call)."""
        defaults = DataProcessingSpec()
        for member, value, default in (
            ("InputFilter", self.data_processing.input_filter, defaults.input_filter),
            ("OutputFilter", self.data_processing.output_filter, defaults.output_filter),
            ("JoinSource", self.data_processing.join_source, defaults.join_source),
        ):
            if value != default:
                return (
                    f"DataProcessing.{member}={value!r} is not supported by this emulator (only "
                    f"the default {default!r})."
                )
        if self.input.split_type not in SPLIT_TYPES:
            return (
                f"SplitType {self.input.split_type} is not supported by this emulator "
                "(None, Line and RecordIO are)."
            )
        return None


def parse(request: Mapping[str, Any], model: ModelRecord) -> TransformJobSpec:
    """The spec of a validated CreateTransformJob request and the model it names;
    ValidationException for an output path that is not an S3 URI."""
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
        model=_model(model),
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


def _model(model: ModelRecord) -> ModelSpec:
    container = model.containers()[0]
    return ModelSpec(
        image=str(container.get("Image", "")),
        model_data_url=str(container["ModelDataUrl"]) if container.get("ModelDataUrl") else None,
        environment={str(k): str(v) for k, v in container.get("Environment", {}).items()},
        network_isolation=bool(model.request.get("EnableNetworkIsolation", False)),
    )
