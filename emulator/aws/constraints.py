"""Documented constraints that botocore's service model does not encode, keyed by operation.

The model carries types, lengths, min/max and enums (checked by `validate`); the service
documentation states more: value sets inside a range (serverless memory in 1 GB steps), maxima the
model leaves open, and rules across members. Each rule here is one row of docs/constraints.md,
with the documentation page it comes from; a unit test keeps the two in step.

Value rules answer in the service's constraint wording (`1 validation error detected: Value 'x'
at 'path' failed to satisfy constraint: Member must ...`), reported together as the model's own
constraints are; rules across members answer with one plain ValidationException sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from emulator.aws.errors import ValidationException

SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_TRAINING_RUNTIME_SECONDS = 28 * 24 * 3600
MAX_TRANSFORM_PAYLOAD_MB = 100
MAX_TRANSFORM_INSTANCES = 100
SPLIT_TYPES_FOR_BATCHING = frozenset({"Line", "RecordIO", "TFRecord"})


@dataclass(frozen=True)
class Violation:
    message: str
    field_constraint: bool
    """True: a `Value ... at ... failed to satisfy constraint` fragment; False: a sentence."""


@dataclass(frozen=True)
class Rule:
    name: str
    operation: str
    check: Callable[[Mapping[str, Any]], Iterator[Violation]]


def _camel(member: str) -> str:
    return member[:1].lower() + member[1:]


def _value(path: str, value: object, constraint: str) -> Violation:
    return Violation(
        f"Value '{value}' at '{path}' failed to satisfy constraint: Member must {constraint}", True
    )


def _variants(params: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for list_name in ("ProductionVariants", "ShadowProductionVariants"):
        for index, variant in enumerate(params.get(list_name) or [], start=1):
            if isinstance(variant, Mapping):
                yield f"{_camel(list_name)}.{index}.member", variant


def _serverless(params: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for path, variant in _variants(params):
        config = variant.get("ServerlessConfig")
        if isinstance(config, Mapping):
            yield f"{path}.serverlessConfig", config


# --- CreateEndpointConfig ------------------------------------------------------------------------


def _serverless_memory_size(params: Mapping[str, Any]) -> Iterator[Violation]:
    for path, config in _serverless(params):
        size = config.get("MemorySizeInMB")
        if isinstance(size, int) and size not in SERVERLESS_MEMORY_SIZES:
            allowed = ", ".join(str(s) for s in SERVERLESS_MEMORY_SIZES)
            yield _value(f"{path}.memorySizeInMB", size, f"satisfy enum value set: [{allowed}]")


def _serverless_provisioned_concurrency(params: Mapping[str, Any]) -> Iterator[Violation]:
    for _, config in _serverless(params):
        provisioned, maximum = config.get("ProvisionedConcurrency"), config.get("MaxConcurrency")
        if isinstance(provisioned, int) and isinstance(maximum, int) and provisioned > maximum:
            yield Violation(
                f"ProvisionedConcurrency ({provisioned}) must be less than or equal to "
                f"MaxConcurrency ({maximum}).",
                False,
            )


def _serverless_no_data_capture(params: Mapping[str, Any]) -> Iterator[Violation]:
    if params.get("DataCaptureConfig") and any(True for _ in _serverless(params)):
        yield Violation("Data capture is not supported for serverless endpoints.", False)


def _serverless_single_variant(params: Mapping[str, Any]) -> Iterator[Violation]:
    variants = list(_variants(params))
    if len(variants) > 1 and any(True for _ in _serverless(params)):
        yield Violation(
            "A serverless endpoint configuration must have exactly one production variant.",
            False,
        )


# --- CreateTransformJob --------------------------------------------------------------------------


def _transform_max_payload(params: Mapping[str, Any]) -> Iterator[Violation]:
    payload = params.get("MaxPayloadInMB")
    if isinstance(payload, int) and payload > MAX_TRANSFORM_PAYLOAD_MB:
        yield _value(
            "maxPayloadInMB",
            payload,
            f"have value less than or equal to {MAX_TRANSFORM_PAYLOAD_MB}",
        )


def _transform_payload_times_concurrency(params: Mapping[str, Any]) -> Iterator[Violation]:
    payload, concurrent = params.get("MaxPayloadInMB"), params.get("MaxConcurrentTransforms")
    if (
        isinstance(payload, int)
        and isinstance(concurrent, int)
        and payload * concurrent > MAX_TRANSFORM_PAYLOAD_MB
    ):
        yield Violation(
            f"MaxConcurrentTransforms * MaxPayloadInMB ({concurrent} * {payload}) must not "
            f"exceed {MAX_TRANSFORM_PAYLOAD_MB} MB.",
            False,
        )


def _transform_instance_count(params: Mapping[str, Any]) -> Iterator[Violation]:
    resources = params.get("TransformResources")
    count = resources.get("InstanceCount") if isinstance(resources, Mapping) else None
    if isinstance(count, int) and count > MAX_TRANSFORM_INSTANCES:
        yield _value(
            "transformResources.instanceCount",
            count,
            f"have value less than or equal to {MAX_TRANSFORM_INSTANCES}",
        )


def _transform_batch_strategy_split(params: Mapping[str, Any]) -> Iterator[Violation]:
    transform_input = params.get("TransformInput")
    split = transform_input.get("SplitType") if isinstance(transform_input, Mapping) else None
    if params.get("BatchStrategy") == "MultiRecord" and split not in SPLIT_TYPES_FOR_BATCHING:
        yield Violation(
            "BatchStrategy MultiRecord requires TransformInput.SplitType to be Line, RecordIO "
            "or TFRecord.",
            False,
        )


# --- CreateTrainingJob ---------------------------------------------------------------------------


def _training_max_runtime(params: Mapping[str, Any]) -> Iterator[Violation]:
    stopping = params.get("StoppingCondition")
    runtime = stopping.get("MaxRuntimeInSeconds") if isinstance(stopping, Mapping) else None
    if isinstance(runtime, int) and runtime > MAX_TRAINING_RUNTIME_SECONDS:
        yield _value(
            "stoppingCondition.maxRuntimeInSeconds",
            runtime,
            f"have value less than or equal to {MAX_TRAINING_RUNTIME_SECONDS}",
        )


def _channels(params: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Each channel with its effective input mode (its own, else the algorithm's)."""
    spec = params.get("AlgorithmSpecification")
    default_mode = spec.get("TrainingInputMode") if isinstance(spec, Mapping) else None
    for channel in params.get("InputDataConfig") or []:
        if isinstance(channel, Mapping):
            yield channel, channel.get("InputMode") or default_mode or "File"


def _channel_compression_pipe(params: Mapping[str, Any]) -> Iterator[Violation]:
    for channel, mode in _channels(params):
        if channel.get("CompressionType") == "Gzip" and mode != "Pipe":
            yield Violation(
                f"Channel {channel.get('ChannelName')}: CompressionType Gzip is supported only "
                f"in Pipe input mode, not {mode}.",
                False,
            )


def _channel_record_wrapper_file(params: Mapping[str, Any]) -> Iterator[Violation]:
    for channel, mode in _channels(params):
        if channel.get("RecordWrapperType") == "RecordIO" and mode == "File":
            yield Violation(
                f"Channel {channel.get('ChannelName')}: RecordWrapperType RecordIO is not "
                "supported in File input mode.",
                False,
            )


def _channel_augmented_manifest_pipe(params: Mapping[str, Any]) -> Iterator[Violation]:
    for channel, mode in _channels(params):
        source = channel.get("DataSource")
        s3 = source.get("S3DataSource") if isinstance(source, Mapping) else None
        data_type = s3.get("S3DataType") if isinstance(s3, Mapping) else None
        if data_type == "AugmentedManifestFile" and mode != "Pipe":
            yield Violation(
                f"Channel {channel.get('ChannelName')}: S3DataType AugmentedManifestFile can "
                f"only be used in Pipe input mode, not {mode}.",
                False,
            )


RULES: dict[str, tuple[Rule, ...]] = {}
for _rule in (
    Rule("serverless-memory-size", "CreateEndpointConfig", _serverless_memory_size),
    Rule(
        "serverless-provisioned-concurrency",
        "CreateEndpointConfig",
        _serverless_provisioned_concurrency,
    ),
    Rule("serverless-no-data-capture", "CreateEndpointConfig", _serverless_no_data_capture),
    Rule("serverless-single-variant", "CreateEndpointConfig", _serverless_single_variant),
    Rule("transform-max-payload", "CreateTransformJob", _transform_max_payload),
    Rule(
        "transform-payload-times-concurrency",
        "CreateTransformJob",
        _transform_payload_times_concurrency,
    ),
    Rule("transform-instance-count", "CreateTransformJob", _transform_instance_count),
    Rule("transform-batch-strategy-split", "CreateTransformJob", _transform_batch_strategy_split),
    Rule("training-max-runtime", "CreateTrainingJob", _training_max_runtime),
    Rule("channel-compression-pipe", "CreateTrainingJob", _channel_compression_pipe),
    Rule("channel-record-wrapper-file", "CreateTrainingJob", _channel_record_wrapper_file),
    Rule("channel-augmented-manifest-pipe", "CreateTrainingJob", _channel_augmented_manifest_pipe),
):
    RULES[_rule.operation] = (*RULES.get(_rule.operation, ()), _rule)


def apply_constraints(operation: str, params: Mapping[str, Any]) -> None:
    """Raise ValidationException if the request breaks a documented constraint.

    Runs after the model's own validation, so members have their declared types when present.
    """
    violations = [v for rule in RULES.get(operation, ()) for v in rule.check(params)]
    fragments = [v.message for v in violations if v.field_constraint]
    if fragments:
        noun = "error" if len(fragments) == 1 else "errors"
        raise ValidationException(
            f"{len(fragments)} validation {noun} detected: " + "; ".join(fragments)
        )
    if violations:
        raise ValidationException(violations[0].message)
