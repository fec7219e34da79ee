"""The documented constraints table (docs/constraints.md) and the rules that enforce it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from emulator.aws.constraints import RULES, apply_constraints
from emulator.aws.errors import ValidationException
from emulator.aws.specs import operation_names
from emulator.aws.validate import validate_input

TABLE = Path(__file__).resolve().parents[2] / "docs" / "constraints.md"
ROW = re.compile(r"^\| ([a-z0-9-]+) \| (\w+) \| (.+?) \| (.+?) \|$")


def table_rows() -> set[tuple[str, str]]:
    rows = set()
    for line in TABLE.read_text().splitlines():
        match = ROW.match(line)
        if match and match.group(1) != "rule":
            assert match.group(4).strip(), f"row {match.group(1)} names no source"
            rows.add((match.group(1), match.group(2)))
    return rows


TUNING = "CreateHyperParameterTuningJob"
"""Its rows are checked by the tuning spec's parser (tests/unit/test_tuning_constraints.py)."""


def test_every_table_row_has_a_rule_and_every_rule_a_row() -> None:
    rules = {(rule.name, operation) for operation, rs in RULES.items() for rule in rs}
    assert {row for row in table_rows() if row[1] != TUNING} == rules
    assert all(operation in operation_names() for operation in RULES)


def endpoint_config(**serverless: int) -> dict[str, Any]:
    return {
        "EndpointConfigName": "c",
        "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "m", "ServerlessConfig": serverless}
        ],
    }


def transform(**members: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TransformJobName": "t",
        "ModelName": "m",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
            "SplitType": members.pop("SplitType", "Line"),
        },
        "TransformOutput": {"S3OutputPath": "s3://b/out"},
        "TransformResources": {
            "InstanceType": "ml.m4.xlarge",
            "InstanceCount": members.pop("InstanceCount", 1),
        },
    }
    request.update(members)
    return request


def training(channel: dict[str, Any] | None = None, **members: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": "j",
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/R",
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t"}},
                **(channel or {}),
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
        "ResourceConfig": {"InstanceType": "ml.m4.xlarge", "InstanceCount": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    request.update(members)
    return request


def two_variants() -> dict[str, Any]:
    request = endpoint_config(MemorySizeInMB=2048, MaxConcurrency=5)
    request["ProductionVariants"].append(
        {"VariantName": "B", "ModelName": "m", "InstanceType": "ml.t2.medium"}
    )
    return request


def with_capture() -> dict[str, Any]:
    request = endpoint_config(MemorySizeInMB=2048, MaxConcurrency=5)
    request["DataCaptureConfig"] = {
        "InitialSamplingPercentage": 10,
        "DestinationS3Uri": "s3://b/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}],
    }
    return request


# (rule, operation, a request that breaks it, the message it must carry)
BROKEN: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "serverless-memory-size",
        "CreateEndpointConfig",
        endpoint_config(MemorySizeInMB=1111, MaxConcurrency=5),
        "1 validation error detected: Value '1111' at "
        "'productionVariants.1.member.serverlessConfig.memorySizeInMB' failed to satisfy "
        "constraint: Member must satisfy enum value set: [1024, 2048, 3072, 4096, 5120, 6144]",
    ),
    (
        "serverless-provisioned-concurrency",
        "CreateEndpointConfig",
        endpoint_config(MemorySizeInMB=2048, MaxConcurrency=5, ProvisionedConcurrency=6),
        "ProvisionedConcurrency (6) must be less than or equal to MaxConcurrency (5).",
    ),
    (
        "serverless-no-data-capture",
        "CreateEndpointConfig",
        with_capture(),
        "Data capture is not supported for serverless endpoints.",
    ),
    (
        "serverless-single-variant",
        "CreateEndpointConfig",
        two_variants(),
        "exactly one production variant",
    ),
    (
        "transform-max-payload",
        "CreateTransformJob",
        transform(MaxPayloadInMB=101),
        "Value '101' at 'maxPayloadInMB' failed to satisfy constraint: Member must have value "
        "less than or equal to 100",
    ),
    (
        "transform-payload-times-concurrency",
        "CreateTransformJob",
        transform(MaxPayloadInMB=30, MaxConcurrentTransforms=4),
        "MaxConcurrentTransforms * MaxPayloadInMB (4 * 30) must not exceed 100 MB.",
    ),
    (
        "transform-instance-count",
        "CreateTransformJob",
        transform(InstanceCount=101),
        "at 'transformResources.instanceCount' failed to satisfy constraint",
    ),
    (
        "transform-batch-strategy-split",
        "CreateTransformJob",
        transform(BatchStrategy="MultiRecord", SplitType="None"),
        "BatchStrategy MultiRecord requires TransformInput.SplitType",
    ),
    (
        "training-max-runtime",
        "CreateTrainingJob",
        training(StoppingCondition={"MaxRuntimeInSeconds": 2419201}),
        "Member must have value less than or equal to 2419200",
    ),
    (
        "channel-compression-pipe",
        "CreateTrainingJob",
        training({"CompressionType": "Gzip"}),
        "Channel train: CompressionType Gzip is supported only in Pipe input mode, not File.",
    ),
    (
        "channel-record-wrapper-file",
        "CreateTrainingJob",
        training({"RecordWrapperType": "RecordIO"}),
        "RecordWrapperType RecordIO is not supported in File input mode.",
    ),
    (
        "channel-augmented-manifest-pipe",
        "CreateTrainingJob",
        training(
            {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "AugmentedManifestFile", "S3Uri": "s3://b/m"}
                },
                "InputMode": "FastFile",
            }
        ),
        "AugmentedManifestFile can only be used in Pipe input mode, not FastFile.",
    ),
]


def test_every_rule_has_a_case() -> None:
    assert {case[0] for case in BROKEN} == {r.name for rs in RULES.values() for r in rs}


@pytest.mark.parametrize(("rule", "operation", "request_", "message"), BROKEN, ids=lambda x: "")
def test_each_rule_refuses_what_the_documentation_forbids(
    rule: str, operation: str, request_: dict[str, Any], message: str
) -> None:
    validate_input(operation, request_)  # the model alone accepts it: the rule is needed
    with pytest.raises(ValidationException) as caught:
        apply_constraints(operation, request_)
    assert message in caught.value.message, rule


@pytest.mark.parametrize(
    ("operation", "request_"),
    [
        ("CreateEndpointConfig", endpoint_config(MemorySizeInMB=2048, MaxConcurrency=5)),
        (
            "CreateEndpointConfig",
            endpoint_config(MemorySizeInMB=6144, MaxConcurrency=200, ProvisionedConcurrency=200),
        ),
        ("CreateTransformJob", transform(MaxPayloadInMB=25, MaxConcurrentTransforms=4)),
        ("CreateTransformJob", transform(BatchStrategy="MultiRecord", InstanceCount=100)),
        ("CreateTrainingJob", training({"CompressionType": "Gzip", "InputMode": "Pipe"})),
        ("CreateTrainingJob", training(StoppingCondition={"MaxRuntimeInSeconds": 2419200})),
    ],
)
def test_what_the_documentation_allows_passes(operation: str, request_: dict[str, Any]) -> None:
    apply_constraints(operation, request_)


def test_value_rules_report_together_in_the_constraint_wording() -> None:
    request = endpoint_config(MemorySizeInMB=1111, MaxConcurrency=5, ProvisionedConcurrency=9)
    with pytest.raises(ValidationException) as caught:
        apply_constraints("CreateEndpointConfig", request)
    # The value rule is reported first, as the model's own constraint failures are.
    assert caught.value.message.startswith("1 validation error detected: Value '1111'")
