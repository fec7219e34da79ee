"""The one serializer of Describe answers: a record's own fields, plus the members of its stored
Create request that the Describe output echoes.

Which members are echoed is read from the botocore model, not listed by hand: those of the Create
operation's input that the Describe operation's output also has, with the same shape
(CreateTrainingJob's HyperParameters, VpcConfig, DebugHookConfig...). A member the request left
out is absent from the answer unless the record gives it a default (the real service answers
`EnableNetworkIsolation: false` for a job that did not set it).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from emulator.aws.specs import operation_model


@cache
def echoed_members(describe_operation: str) -> tuple[str, ...]:
    """The members of the Create input that `describe_operation`'s output echoes, in the
    output's order (`DescribeModel` -> those of `CreateModel`)."""
    create = "Create" + describe_operation.removeprefix("Describe")
    given = operation_model(create).input_shape.members
    answered = operation_model(describe_operation).output_shape.members
    return tuple(m for m in answered if m in given and given[m].name == answered[m].name)


@cache
def _output_members(describe_operation: str) -> tuple[str, ...]:
    return tuple(operation_model(describe_operation).output_shape.members)


def describe(
    operation: str,
    request: Mapping[str, Any],
    fields: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The answer of `operation` (DescribeTrainingJob...), in the output shape's member order:
    the record's `fields` (a None value is left out), else the request's echoed member, else
    the member's default."""
    members = _output_members(operation)
    unknown = set(fields) - set(members)
    if unknown:
        raise ValueError(f"{operation} has no member {sorted(unknown)}")
    echoed = echoed_members(operation)
    defaults = defaults or {}
    wire: dict[str, Any] = {}
    for member in members:
        if member in fields:
            value = fields[member]
        elif member in echoed and member in request:
            value = request[member]
        else:
            value = defaults.get(member)
        if value is not None:
            wire[member] = value
    return wire
