"""Request validation derived from the botocore service model.

One walker checks any operation's input against its shape: required members, types, length and
value bounds, enums and patterns. The messages copy the real service's (Coral) wording, e.g.
``1 validation error detected: Value 'x' at 'trainingJobName' failed to satisfy constraint:
Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``. Paths use
the lower-camel member names and 1-based ``.N.member`` list steps, as AWS does.

A value of the wrong JSON type is not a constraint failure on the real service but a
deserialization failure, so it raises ``SerializationException``.

A JSON ``null`` member is an absent member, as on the real service; a ``null`` inside a list or
as a map value is refused ("Member must not be null"). Values a message echoes are clipped to
`SHOWN_CHARS` characters, so a 10 MB name cannot make a 20 MB error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import cache
from itertools import islice
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from emulator.aws.errors import SerializationException, ValidationException
from emulator.aws.specs import SAGEMAKER, operation_model
from emulator.aws.wire import from_wire_timestamp

_NUMBER_TYPES = {"integer", "long", "float", "double"}

SHOWN_CHARS = 256
"""At most this many characters of a value (or a path holding a map key) go into a message."""

SHOWN_PROBLEMS = 10
"""At most this many constraint failures are listed in one message (all are counted)."""

PATH_SEGMENT_SHAPES = frozenset({"ChannelName"})
"""String shapes whose value names a folder (/opt/ml/input/data/<channel>): the model's pattern
allows "." and "..", which would name the folder itself or its parent, so they are refused."""


def validate_input(
    operation_name: str, params: Mapping[str, Any], service_name: str = SAGEMAKER
) -> None:
    """Raise ValidationException (or SerializationException) unless `params` fits the input shape."""
    shape = operation_model(operation_name, service_name).input_shape
    if shape is None:
        return
    problems: list[str] = []
    try:
        _check_structure(shape, params, "", problems)
    except RecursionError:  # a recursive shape (e.g. nested search expressions) nested too deep
        raise SerializationException("The request is nested too deeply.") from None
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        # All are counted, the first few listed: a 1,000-item list of bad values stays readable.
        listed = "; ".join(problems[:SHOWN_PROBLEMS])
        more = f"; and {count - SHOWN_PROBLEMS} more" if count > SHOWN_PROBLEMS else ""
        raise ValidationException(f"{count} validation {noun} detected: {listed}{more}")


def _member_path(parent: str, member: str) -> str:
    camel = member[:1].lower() + member[1:]
    return f"{parent}.{camel}" if parent else camel


def _check_structure(shape: StructureShape, value: object, path: str, problems: list[str]) -> None:
    if not isinstance(value, Mapping):
        raise _type_error(shape, value, path)
    required = set(shape.required_members)
    # Coral reports in member order, a missing required member in its place.
    for name, member_shape in shape.members.items():
        member_value = value.get(name)
        if member_value is not None:
            _check(member_shape, member_value, _member_path(path, name), problems)
        elif name in required:
            problems.append(_failure(None, _member_path(path, name), "Member must not be null"))


def _check(shape: Shape, value: object, path: str, problems: list[str]) -> None:
    type_name = shape.type_name
    if isinstance(shape, StructureShape):
        _check_structure(shape, value, path, problems)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise _type_error(shape, value, path)
        _check_length(shape, value, len(value), path, problems)
        for index, item in enumerate(value, start=1):
            item_path = f"{path}.{index}.member"
            if item is None:
                problems.append(_failure(None, item_path, "Member must not be null"))
            else:
                _check(shape.member, item, item_path, problems)
    elif isinstance(shape, MapShape):
        if not isinstance(value, Mapping):
            raise _type_error(shape, value, path)
        _check_length(shape, value, len(value), path, problems)
        _check_map_entries(shape, value, path, problems)
    elif type_name == "string":
        if not isinstance(value, str):
            raise _type_error(shape, value, path)
        problems.extend(_failure(value, path, text) for text in _string_failures(shape, value))
    elif type_name in _NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(shape, value, path)
        # NaN and infinities are not JSON: they would come back out in a Describe unreadable.
        if isinstance(value, float) and not math.isfinite(value):
            raise _type_error(shape, value, path)
        # No float() of an int: a 400-digit integer is valid JSON and must be range-checked.
        if type_name in ("integer", "long") and isinstance(value, float) and not value.is_integer():
            raise _type_error(shape, value, path)
        _check_range(shape, value, path, problems)
    elif type_name == "boolean":
        if not isinstance(value, bool):
            raise _type_error(shape, value, path)
    elif type_name == "timestamp":
        # JSON 1.1 clients send epoch seconds; ISO 8601 strings are accepted too.
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _type_error(shape, value, path)
        try:
            from_wire_timestamp(value)
        except (ValueError, OverflowError, OSError):
            raise _type_error(shape, value, path) from None
    elif type_name == "blob":
        if not isinstance(value, str | bytes):
            raise _type_error(shape, value, path)
        # Sensitive payloads (InvokeEndpoint's Body) are never echoed back in a message.
        shown = "***" if shape.metadata.get("sensitive") else value
        _check_length(shape, shown, len(value), path, problems)


def _check_map_entries(
    shape: MapShape, value: Mapping[Any, Any], path: str, problems: list[str]
) -> None:
    # Coral reports a map's entry failures once per map (the whole map as the value), listing
    # the inner constraints that failed: "Map value must satisfy constraint: [...]".
    key_failures: dict[str, None] = {}
    value_failures: dict[str, None] = {}
    for key, item in value.items():
        if isinstance(key, str):
            key_failures.update(dict.fromkeys(_string_failures(shape.key, key)))
        if item is None:
            value_failures["Member must not be null"] = None
        elif shape.value.type_name == "string":
            if not isinstance(item, str):
                raise _type_error(shape.value, item, f"{path}.{key}")
            value_failures.update(dict.fromkeys(_string_failures(shape.value, item)))
        else:
            _check(shape.value, item, f"{path}.{key}", problems)
    for kind, failures in (("Map keys", key_failures), ("Map value", value_failures)):
        if failures:
            constraint = f"{kind} must satisfy constraint: [" + ", ".join(failures) + "]"
            problems.append(_failure(value, path, constraint))


def _string_failures(shape: Shape, value: str) -> list[str]:
    failures: list[str] = []
    meta = shape.metadata
    if "min" in meta and len(value) < meta["min"]:
        failures.append(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and len(value) > meta["max"]:
        failures.append(f"Member must have length less than or equal to {meta['max']}")
    if shape.enum and value not in shape.enum:
        failures.append("Member must satisfy enum value set: [" + ", ".join(shape.enum) + "]")
    pattern = meta.get("pattern")
    if pattern is not None:
        compiled = _compile(pattern)
        if compiled is not None and compiled.fullmatch(value) is None:
            failures.append(f"Member must satisfy regular expression pattern: {pattern}")
    if shape.name in PATH_SEGMENT_SHAPES and value in (".", ".."):
        failures.append("Member must not be '.' or '..'")
    return failures


def _check_length(shape: Shape, value: object, length: int, path: str, problems: list[str]) -> None:
    meta = shape.metadata
    if "min" in meta and length < meta["min"]:
        problems.append(
            _failure(value, path, f"Member must have length greater than or equal to {meta['min']}")
        )
    if "max" in meta and length > meta["max"]:
        problems.append(
            _failure(value, path, f"Member must have length less than or equal to {meta['max']}")
        )


def _check_range(shape: Shape, value: float, path: str, problems: list[str]) -> None:
    meta = shape.metadata
    if "min" in meta and value < meta["min"]:
        problems.append(
            _failure(value, path, f"Member must have value greater than or equal to {meta['min']}")
        )
    if "max" in meta and value > meta["max"]:
        problems.append(
            _failure(value, path, f"Member must have value less than or equal to {meta['max']}")
        )


@cache
def _compile(pattern: str) -> re.Pattern[str] | None:
    """The model's patterns are Java regexes; the few Python cannot compile are not enforced."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _clip(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def _render(value: object) -> str:
    """How Coral prints a value in a message: null bare, everything else quoted (and clipped)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    if isinstance(value, list):
        # No more items than could show: a 2-million-item list is not joined whole.
        items = ", ".join(_clip(str(item)) for item in value[:SHOWN_CHARS])
        return "'" + _clip("[" + items + "]") + "'"
    if isinstance(value, Mapping):
        entries = ", ".join(
            f"{_clip(str(k))}={_clip('null' if v is None else str(v))}"
            for k, v in islice(value.items(), SHOWN_CHARS)
        )
        return "'" + _clip("{" + entries + "}") + "'"
    return f"'{_clip(str(value))}'"


def _failure(value: object, path: str, constraint: str) -> str:
    return f"Value {_render(value)} at '{_clip(path)}' failed to satisfy constraint: {constraint}"


def _type_error(shape: Shape, value: object, path: str) -> SerializationException:
    expected = {
        "structure": "an object",
        "map": "an object",
        "list": "an array",
        "string": "a string",
        "boolean": "a boolean",
        "timestamp": "a number of epoch seconds",
        "blob": "a base64 string",
    }.get(
        shape.type_name, "a number" if shape.type_name not in ("integer", "long") else "an integer"
    )
    got = "null" if value is None else type(value).__name__
    where = _clip(path) or "the request body"
    return SerializationException(f"Expected {expected} at '{where}' ({shape.name}), got {got}")
