"""Request validation from the botocore model: messages as AWS words them, one walker for all."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.serialize import create_serializer

from emulator.aws.errors import SerializationException, ValidationException
from emulator.aws.specs import operation_model
from emulator.aws.validate import SHOWN_CHARS, validate_input
from emulator.aws.wire import parse_input

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
NAME_PATTERN = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


def sdk_training_request(**overrides: Any) -> dict[str, Any]:
    """The CreateTrainingJob request `KMeans.fit(record_set)` builds (spec section 8)."""
    request: dict[str, Any] = {
        "TrainingJobName": "kmeans-2021-05-16-12-23-57-384",
        "AlgorithmSpecification": {
            "TrainingImage": "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1",
            "TrainingInputMode": "File",
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile",
                        "S3Uri": "s3://bucket/sagemaker-record-sets/KMeans-2021/.amazon.manifest",
                        "S3DataDistributionType": "ShardedByS3Key",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://sagemaker-us-east-1-123456789012/"},
        "ResourceConfig": {
            "InstanceType": "ml.c4.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "HyperParameters": {"force_dense": "True", "k": "8", "feature_dim": "7"},
    }
    request.update(overrides)
    return request


def error_of(operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationException) as info:
        validate_input(operation, params)
    return info.value.message


def on_the_wire(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """What botocore's own serializer puts in the body (timestamps as epoch numbers, ...)."""
    request = create_serializer("json").serialize_to_request(params, operation_model(operation))
    body: dict[str, Any] = json.loads(request["body"] or b"{}")
    return body


def test_the_request_the_sdk_sends_is_valid() -> None:
    validate_input("CreateTrainingJob", on_the_wire("CreateTrainingJob", sdk_training_request()))


def test_list_filters_with_timestamps_as_botocore_sends_them_are_valid() -> None:
    from datetime import UTC, datetime

    params = {
        "CreationTimeAfter": datetime(2024, 1, 1, tzinfo=UTC),
        "StatusEquals": "Completed",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 10,
    }
    validate_input("ListTrainingJobs", on_the_wire("ListTrainingJobs", params))


def test_missing_required_member_is_reported_as_null() -> None:
    params = sdk_training_request()
    del params["RoleArn"]
    assert error_of("CreateTrainingJob", params) == (
        "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_pattern_must_match_the_whole_value() -> None:
    # re.match would accept the valid prefix "pca"; the service anchors its patterns.
    message = error_of("CreateTrainingJob", sdk_training_request(TrainingJobName="pca_1"))
    assert message == (
        "1 validation error detected: Value 'pca_1' at 'trainingJobName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_too_long_name_reports_length_and_pattern() -> None:
    name = "a" * 64
    message = error_of("CreateTrainingJob", sdk_training_request(TrainingJobName=name))
    assert message.startswith("2 validation errors detected: ")
    assert (
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63"
    ) in message
    assert "Member must satisfy regular expression pattern" in message


def test_enum_value_set_is_listed_in_model_order() -> None:
    request = sdk_training_request()
    request["AlgorithmSpecification"]["TrainingInputMode"] = "Stream"
    assert error_of("CreateTrainingJob", request) == (
        "1 validation error detected: Value 'Stream' at 'algorithmSpecification.trainingInputMode' "
        "failed to satisfy constraint: Member must satisfy enum value set: [Pipe, File, FastFile]"
    )


def test_list_members_are_addressed_one_based() -> None:
    request = sdk_training_request()
    request["InputDataConfig"][0]["ChannelName"] = "bad channel"
    message = error_of("CreateTrainingJob", request)
    assert "at 'inputDataConfig.1.member.channelName' failed to satisfy constraint" in message


def test_numeric_bounds() -> None:
    request = sdk_training_request()
    request["StoppingCondition"]["MaxRuntimeInSeconds"] = 0
    assert error_of("CreateTrainingJob", request) == (
        "1 validation error detected: Value '0' at 'stoppingCondition.maxRuntimeInSeconds' "
        "failed to satisfy constraint: Member must have value greater than or equal to 1"
    )


def test_map_entries_are_reported_once_per_map() -> None:
    request = sdk_training_request(HyperParameters={"k": "x" * 2501, "d": "y" * 2501})
    message = error_of("CreateTrainingJob", request)
    assert message.startswith("1 validation error detected: Value '{k=")
    assert message.endswith(
        "at 'hyperParameters' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 2500]"
    )


def test_map_keys_are_checked() -> None:
    request = sdk_training_request(HyperParameters={"k" * 257: "1"})
    message = error_of("CreateTrainingJob", request)
    assert message.endswith(
        "Map keys must satisfy constraint: [Member must have length less than or equal to 256]"
    )


def test_list_length_bounds() -> None:
    message = error_of("CreateTrainingJob", sdk_training_request(InputDataConfig=[]))
    assert (
        "at 'inputDataConfig' failed to satisfy constraint: Member must have length greater than or equal to 1"
        in message
    )


def test_several_errors_are_joined_and_counted() -> None:
    message = error_of("DescribeTrainingJob", {})
    assert message.startswith("1 validation error detected")
    message = error_of("CreateEndpoint", {})
    assert message.startswith("2 validation errors detected: Value null at 'endpointName'")
    assert "; Value null at 'endpointConfigName'" in message


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"TrainingJobName": 5}, "trainingJobName"),
        ({"TrainingJobName": ["a"]}, "trainingJobName"),
        ({"TrainingJobName": None, "X": 1}, None),
    ],
)
def test_wrong_json_types_are_serialization_errors(
    params: dict[str, Any], where: str | None
) -> None:
    if where is None:
        # None is "absent", which is a constraint failure, not a type error.
        with pytest.raises(ValidationException):
            validate_input("DescribeTrainingJob", params)
        return
    with pytest.raises(SerializationException) as info:
        validate_input("DescribeTrainingJob", params)
    assert f"'{where}'" in info.value.message


def test_booleans_are_not_numbers() -> None:
    request = sdk_training_request()
    request["ResourceConfig"]["InstanceCount"] = True
    with pytest.raises(SerializationException):
        validate_input("CreateTrainingJob", request)


def test_structure_must_be_an_object() -> None:
    with pytest.raises(SerializationException):
        validate_input("CreateTrainingJob", sdk_training_request(ResourceConfig="big"))


def test_runtime_body_size_is_bounded_and_never_echoed() -> None:
    body = b"\x00" * (6 * 1024 * 1024 + 1)
    with pytest.raises(ValidationException) as info:
        validate_input(
            "InvokeEndpoint", {"EndpointName": "ep", "Body": body}, service_name="sagemaker-runtime"
        )
    assert "Value '***' at 'body'" in info.value.message
    assert "Member must have length less than or equal to 6291456" in info.value.message


# --- input that used to reach the services and answer a 500 ------------------------------------


@pytest.mark.parametrize("value", ["abc", 1e300, "9999-99-99T00:00:00Z"])
def test_an_unreadable_timestamp_is_a_serialization_error(value: object) -> None:
    with pytest.raises(SerializationException):
        validate_input("ListTrainingJobs", {"CreationTimeAfter": value})


def test_a_huge_integer_is_range_checked_not_an_overflow() -> None:
    with pytest.raises(ValidationException, match="less than or equal to 100"):
        validate_input("ListTrainingJobs", {"MaxResults": 10**400})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    request = {
        "EndpointConfigName": "c",
        "ProductionVariants": [
            {"VariantName": "v", "ModelName": "m", "InitialVariantWeight": value}
        ],
    }
    with pytest.raises(SerializationException):
        validate_input("CreateEndpointConfig", request)


# --- nulls, huge values, unknown members ------------------------------------------------------


@pytest.mark.parametrize("operation", ["ListTrainingJobs", "ListModels", "ListEndpoints"])
def test_a_null_member_is_an_absent_member(operation: str) -> None:
    validate_input(operation, {"MaxResults": None, "NextToken": None})
    assert parse_input(operation, {"MaxResults": None, "SortOrder": "Ascending"}) == {
        "SortOrder": "Ascending"
    }


def test_a_null_list_item_is_refused() -> None:
    assert error_of("CreateTrainingJob", sdk_training_request(InputDataConfig=[None])) == (
        "1 validation error detected: Value null at 'inputDataConfig.1.member' failed to "
        "satisfy constraint: Member must not be null"
    )
    message = error_of("CreateTrainingJob", sdk_training_request(Tags=[None]))
    assert "Value null at 'tags.1.member'" in message


def test_a_null_map_value_is_refused() -> None:
    message = error_of("CreateTrainingJob", sdk_training_request(HyperParameters={"k": None}))
    assert message == (
        "1 validation error detected: Value '{k=null}' at 'hyperParameters' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must not be null]"
    )


def test_echoed_values_are_clipped() -> None:
    name = "n" * 10_000_000
    message = error_of("CreateTrainingJob", sdk_training_request(TrainingJobName=name))
    assert message.startswith("2 validation errors detected: ")
    assert len(message) < 2_000
    assert f"Value '{'n' * SHOWN_CHARS}...' at 'trainingJobName'" in message
    huge_key = {"k" * 1_000_000: "v"}
    assert (
        len(error_of("CreateTrainingJob", sdk_training_request(HyperParameters=huge_key))) < 2_000
    )
    many = [{"Key": "k", "Value": "v"}] * 100_000
    assert len(error_of("CreateTrainingJob", sdk_training_request(Tags=many))) < 2_000


def test_a_wrong_type_under_a_huge_map_key_is_clipped() -> None:
    with pytest.raises(SerializationException) as info:
        validate_input("CreateTrainingJob", sdk_training_request(Environment={"e" * 1_000_000: 7}))
    assert len(info.value.message) < 1_000


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_channel_names_are_refused(name: str) -> None:
    request = sdk_training_request()
    request["InputDataConfig"][0]["ChannelName"] = name
    assert error_of("CreateTrainingJob", request) == (
        f"1 validation error detected: Value '{name}' at "
        "'inputDataConfig.1.member.channelName' failed to satisfy constraint: "
        "Member must not be '.' or '..'"
    )


def test_a_recursive_shape_nested_too_deep_is_a_serialization_error() -> None:
    expression: dict[str, Any] = {}
    for _ in range(5_000):
        expression = {"SubExpressions": [expression]}
    with pytest.raises(SerializationException, match="nested too deeply"):
        validate_input("Search", {"Resource": "TrainingJob", "SearchExpression": expression})


def test_members_outside_the_shape_are_dropped_at_every_level() -> None:
    request = sdk_training_request(Junk="x" * 1000)
    request["ResourceConfig"]["Junk"] = {"deep": ["x"]}
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["Junk"] = 1
    validate_input("CreateTrainingJob", request)
    parsed = parse_input("CreateTrainingJob", request)
    assert "Junk" not in json.dumps(parsed)
    assert parsed["ResourceConfig"] == {
        "InstanceType": "ml.c4.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
    }
    # Map keys are data, not members: they stay.
    assert parsed["HyperParameters"] == {"force_dense": "True", "k": "8", "feature_dim": "7"}


def test_many_failures_are_counted_and_the_first_listed() -> None:
    request = sdk_training_request()
    request["InputDataConfig"] = [dict(request["InputDataConfig"][0], ChannelName="..")] * 20
    message = error_of("CreateTrainingJob", request)
    assert message.startswith("20 validation errors detected: ")
    assert message.count("failed to satisfy constraint") == 10
    assert message.endswith("; and 10 more")
