"""Output serialization from the model: every operation's output parses with botocore."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.parsers import create_parser

from emulator.aws.specs import operation_model, sagemaker_model
from emulator.aws.wire import STRICT_ENV, WireError, parse_input, serialize_output

WHEN = datetime(2024, 5, 16, 11, 52, 20, 920000, tzinfo=UTC)


def sample(shape: Shape, depth: int = 0) -> Any:
    """A value of `shape` with every member filled (recursion cut at a few levels)."""
    if isinstance(shape, StructureShape):
        members = list(shape.members.items())
        if shape.metadata.get("union"):
            members = members[:1]  # a union carries exactly one member, even at the cut
        elif depth > 3:
            return {}
        return {name: sample(member, depth + 1) for name, member in members}
    if isinstance(shape, ListShape):
        return [] if depth > 3 else [sample(shape.member, depth + 1)]
    if isinstance(shape, MapShape):
        return {} if depth > 3 else {"k": sample(shape.value, depth + 1)}
    if shape.type_name == "string":
        enum: list[str] = shape.metadata.get("enum", [])
        return enum[0] if enum else "text"
    return {
        "integer": 7,
        "long": 1 << 40,
        "float": 0.25,
        "double": 0.125,
        "boolean": True,
        "timestamp": WHEN,
        "blob": b"\x00\x01binary",
    }[shape.type_name]


def parse(operation: str, wire: dict[str, Any]) -> dict[str, Any]:
    model = operation_model(operation)
    response = {"body": json.dumps(wire).encode(), "headers": {}, "status_code": 200}
    parsed: dict[str, Any] = create_parser("json").parse(response, model.output_shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


@pytest.mark.parametrize(
    "operation",
    sorted(
        name
        for name in sagemaker_model().operation_names
        if sagemaker_model().operation_model(name).output_shape is not None
    ),
)
def test_every_output_shape_round_trips_through_botocore(operation: str) -> None:
    result = sample(operation_model(operation).output_shape)
    parsed = parse(operation, serialize_output(operation, result))
    assert parsed == result


def test_timestamps_are_epoch_seconds_and_naive_means_utc() -> None:
    wire = serialize_output(
        "DescribeNotebookInstance",
        {"CreationTime": WHEN, "LastModifiedTime": WHEN.replace(tzinfo=None)},
    )
    assert wire == {"CreationTime": WHEN.timestamp(), "LastModifiedTime": WHEN.timestamp()}
    other_zone = WHEN.astimezone(timezone(timedelta(hours=5)))
    assert serialize_output("DescribeNotebookInstance", {"CreationTime": other_zone}) == {
        "CreationTime": WHEN.timestamp()
    }


def test_none_and_unknown_members_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STRICT_ENV, raising=False)
    wire = serialize_output(
        "DescribeTrainingJob",
        {"TrainingJobName": "j", "FailureReason": None, "InternalThing": 1},
    )
    assert wire == {"TrainingJobName": "j"}


def test_strict_mode_rejects_members_and_enum_values_the_model_lacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(WireError, match="InternalThing"):
        serialize_output("DescribeTrainingJob", {"TrainingJobName": "j", "InternalThing": 1})
    with pytest.raises(WireError, match="Finished"):
        serialize_output("DescribeTrainingJob", {"TrainingJobStatus": "Finished"})


def test_enum_members_are_written_as_their_values() -> None:
    class Status(StrEnum):
        DONE = "Completed"

    wire = serialize_output("DescribeTrainingJob", {"TrainingJobStatus": Status.DONE})
    assert wire == {"TrainingJobStatus": "Completed"}
    assert isinstance(json.loads(json.dumps(wire))["TrainingJobStatus"], str)


def test_parse_input_gives_aware_datetimes() -> None:
    parsed = parse_input(
        "ListTrainingJobs", {"CreationTimeAfter": WHEN.timestamp(), "MaxResults": 5}
    )
    assert parsed == {"CreationTimeAfter": WHEN, "MaxResults": 5}
    assert parsed["CreationTimeAfter"].tzinfo is not None


def test_empty_result_is_an_empty_object() -> None:
    assert serialize_output("DeleteModel", None) == {}
    assert serialize_output("StopTrainingJob", {}) == {}
