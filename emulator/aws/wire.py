"""Wire (de)serialization derived from the botocore service model.

Output: the services return plain dicts with AWS member names and aware UTC datetimes; the walker
keeps only the members the output shape declares, drops None, writes timestamps as epoch seconds
(the JSON 1.1 protocol's format) and blobs as base64, so botocore parses every response.

Input: the validated request's timestamps become aware UTC datetimes and blobs become bytes, so
the services see Python values, not wire encodings. Members the input shape does not define are
dropped at every level, and so are null members (absent, as on the real service): nothing a
service stores can carry a member the model does not know.
"""

from __future__ import annotations

import base64
import enum
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from emulator.aws.specs import SAGEMAKER, operation_model

STRICT_ENV = "SAGEMAKER_EMULATOR_STRICT_WIRE"
"""When set to 1, members outside the shape and values outside an enum raise (used by tests)."""


class WireError(Exception):
    """A service returned a value its output shape cannot carry (strict mode only)."""


def serialize_output(
    operation_name: str, result: Mapping[str, Any] | None, service_name: str = SAGEMAKER
) -> dict[str, Any]:
    shape = operation_model(operation_name, service_name).output_shape
    if shape is None or result is None:
        return {}
    strict = os.environ.get(STRICT_ENV) == "1"
    out = _serialize(shape, result, operation_name, strict)
    assert isinstance(out, dict)
    return out


def parse_input(
    operation_name: str, params: Mapping[str, Any], service_name: str = SAGEMAKER
) -> dict[str, Any]:
    """The request with timestamps as aware UTC datetimes and blobs as bytes."""
    shape = operation_model(operation_name, service_name).input_shape
    if shape is None:
        return dict(params)
    parsed = _parse(shape, params)
    assert isinstance(parsed, dict)
    return parsed


def to_epoch_seconds(value: datetime | float | int | str) -> float | int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, str):
        return to_epoch_seconds(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return value


def from_wire_timestamp(value: float | int | str) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)


def _serialize(shape: Shape, value: Any, where: str, strict: bool) -> Any:
    if isinstance(shape, StructureShape):
        if not isinstance(value, Mapping):
            raise WireError(
                f"{where}: expected a mapping for {shape.name}, got {type(value).__name__}"
            )
        out: dict[str, Any] = {}
        for key, item in value.items():
            member = shape.members.get(key)
            if member is None:
                if strict:
                    raise WireError(f"{where}: {key!r} is not a member of {shape.name}")
                continue
            if item is not None:
                out[key] = _serialize(member, item, f"{where}.{key}", strict)
        return out
    if isinstance(shape, ListShape):
        return [_serialize(shape.member, item, f"{where}[]", strict) for item in value]
    if isinstance(shape, MapShape):
        return {
            str(_scalar(k)): _serialize(shape.value, v, f"{where}{{}}", strict)
            for k, v in value.items()
            if v is not None
        }
    type_name = shape.type_name
    if type_name == "timestamp":
        return to_epoch_seconds(value)
    if type_name == "blob":
        raw = value if isinstance(value, bytes) else str(value).encode()
        return base64.b64encode(raw).decode("ascii")
    if type_name in ("integer", "long"):
        return int(value)
    if type_name in ("float", "double"):
        return float(value)
    if type_name == "boolean":
        return bool(value)
    if type_name == "string":
        text = str(_scalar(value))
        if strict and shape.enum and text not in shape.enum:
            raise WireError(f"{where}: {text!r} is not in the {shape.name} enum")
        return text
    return _scalar(value)


def _scalar(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _parse(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        return {
            key: _parse(shape.members[key], item)
            for key, item in value.items()
            if key in shape.members and item is not None
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_parse(shape.member, item) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, Mapping):
        return {key: _parse(shape.value, item) for key, item in value.items()}
    if value is None:
        return None
    if shape.type_name == "timestamp" and isinstance(value, int | float | str):
        return from_wire_timestamp(value)
    if shape.type_name == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value
