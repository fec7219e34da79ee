"""Generated requests: every answer is AWS-shaped, never a 500 or a stack trace.

The generator derives requests from botocore's `sagemaker` model. For each operation it builds a
base request (the required members, filled with values that fit their shapes), then, for every
member of the input shape and of its nested structures (two levels down), one request per kind of
bad value: null, a value of the wrong JSON type, an oversized value, odd unicode (a lone
surrogate, NUL, an emoji), deep nesting, a null list item or map value, and an unknown member.
They go as raw HTTP (botocore would refuse most of them before sending) to one real server
(process runtime). Every answer must be JSON; an error must be ``{"__type", "message"}`` with a
status under 500, except NotImplemented (501) for an operation the emulator does not implement.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape

from emulator.aws.specs import sagemaker_model, target_prefix
from emulator.aws.validate import _compile
from emulator.services.operations import OPERATIONS
from sdk.launcher import EmulatorServer, start_emulator

# Strings tried, in order, for a member that has a pattern; the first that fits is used.
CANDIDATES = (
    "fuzz-missing",
    "arn:aws:sagemaker:us-east-1:123456789012:model/fuzz-missing",
    "arn:aws:iam::123456789012:role/FuzzRole",
    "s3://fuzz-missing-bucket/fuzz/key",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/fuzz:1",
    "fuzz",
    "a",
    "1",
)
UNICODE = "名前-\u00e9-\U0001f600-\u0000-\ud800"
HUGE_STRING = "x" * 100_000
DEEP = 200


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def valid_value(shape: Shape, depth: int = 0) -> Any:
    """A value that fits `shape`: its required members, minimal lists, the first enum value."""
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        if depth > 6:
            return {}
        return {
            name: valid_value(shape.members[name], depth + 1) for name in shape.required_members
        }
    if isinstance(shape, ListShape):
        count = meta.get("min", 0)
        return [valid_value(shape.member, depth + 1) for _ in range(min(count, 1))] * count
    if isinstance(shape, MapShape):
        return {}
    if shape.type_name == "string":
        if shape.enum:
            return shape.enum[0]
        low, high = meta.get("min", 0), meta.get("max", 10_000)
        pattern = _compile(meta["pattern"]) if "pattern" in meta else None
        for candidate in CANDIDATES:
            fits = low <= len(candidate) <= high
            if fits and (pattern is None or pattern.fullmatch(candidate)):
                return candidate
        return "a" * max(low, 1)
    if shape.type_name in ("integer", "long", "float", "double"):
        return meta.get("min", 1)
    if shape.type_name == "boolean":
        return False
    if shape.type_name == "timestamp":
        return 1_700_000_000
    if shape.type_name == "blob":
        return base64.b64encode(b"fuzz").decode()
    return None


def bad_values(shape: Shape) -> Iterator[tuple[str, Any]]:
    """(kind, value) pairs a client could send for a member of `shape`."""
    yield "null", None
    if isinstance(shape, StructureShape):
        yield "wrong-type", ["not", "an", "object"]
        yield "nested", nested(DEEP)
        yield "unknown-member", {"FuzzUnknown": HUGE_STRING}
    elif isinstance(shape, ListShape):
        yield "wrong-type", {"not": "a list"}
        yield "null-item", [None]
        yield "oversized", [valid_value(shape.member)] * 1_000
        yield "nested", [nested(DEEP)]
    elif isinstance(shape, MapShape):
        yield "wrong-type", ["not", "a", "map"]
        yield "null-value", {"k": None}
        yield "oversized", {f"k{i}": "v" for i in range(1_000)}
        yield "unicode", {UNICODE: UNICODE}
    elif shape.type_name == "string":
        yield "wrong-type", 12345
        yield "oversized", HUGE_STRING
        yield "unicode", UNICODE
        yield "nested", nested(DEEP)
    elif shape.type_name in ("integer", "long", "float", "double"):
        yield "wrong-type", "12"
        yield "oversized", 10**400
        yield "negative", -(10**18)
        yield "fraction", 0.5
    elif shape.type_name == "boolean":
        yield "wrong-type", "true"
    elif shape.type_name == "timestamp":
        yield "wrong-type", {"t": 1}
        yield "oversized", 10**30
        yield "unicode", UNICODE
    elif shape.type_name == "blob":
        yield "wrong-type", 7
        yield "unicode", UNICODE


def mutations(
    shape: StructureShape, base: dict[str, Any], depth: int = 0
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Copies of `base` with one member (here or up to two structures down) made bad."""
    for name, member in shape.members.items():
        for kind, value in bad_values(member):
            yield f"{name}:{kind}", {**base, name: value}
        if depth >= 2:
            continue
        inner: StructureShape | None = None
        if isinstance(member, StructureShape):
            inner = member
        elif isinstance(member, ListShape) and isinstance(member.member, StructureShape):
            inner = member.member
        if inner is None:
            continue
        inner_base = valid_value(inner)
        for label, changed in mutations(inner, inner_base, depth + 1):
            wrapped = [changed] if isinstance(member, ListShape) else changed
            yield f"{name}.{label}", {**base, name: wrapped}


def implemented(operation: str) -> bool:
    return operation in OPERATIONS


def generated_requests() -> Iterator[tuple[str, str, bytes]]:
    """(operation, label, body): every operation once as is, implemented ones mutated too."""
    model = sagemaker_model()
    for operation in sorted(model.operation_names):
        shape = model.operation_model(operation).input_shape
        base = valid_value(shape) if shape is not None else {}
        yield operation, "base", json.dumps(base).encode()
        if not implemented(operation) or shape is None:
            continue
        for body in (b"null", b"[]", b'"x"', b"{", b"[" * 100_000, b"{}"):
            yield operation, f"body:{body[:8]!r}", body
        for label, request in mutations(shape, base):
            yield operation, label, json.dumps(request).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    started = start_emulator(Path(tmp_path_factory.mktemp("fuzz")), "process")
    try:
        yield started
    finally:
        started.stop()


def test_the_generator_covers_every_operation_and_stays_small() -> None:
    requests = list(generated_requests())
    operations = {operation for operation, _, _ in requests}
    assert operations == set(sagemaker_model().operation_names)
    assert 1_500 < len(requests) < 6_000


def test_every_generated_request_gets_an_aws_shaped_answer(server: EmulatorServer) -> None:
    url = urlsplit(server.url)
    assert url.hostname is not None and url.port is not None
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    problems: list[str] = []
    started = time.monotonic()
    count = 0
    for operation, label, body in generated_requests():
        count += 1
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{target_prefix()}.{operation}",
        }
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        where = f"{operation} [{label}] -> {response.status}"
        try:
            answer = json.loads(raw)
        except ValueError:
            problems.append(f"{where}: not JSON: {raw[:200]!r}")
            continue
        if response.status >= 300:
            if not isinstance(answer, dict) or set(answer) != {"__type", "message"}:
                problems.append(f"{where}: not {{__type, message}}: {raw[:200]!r}")
                continue
            declared_5xx = response.status == 501 and answer["__type"] == "NotImplemented"
            if response.status >= 500 and not (declared_5xx and not implemented(operation)):
                problems.append(f"{where}: {answer['__type']}: {answer['message'][:200]}")
            if len(raw) > 20_000:
                problems.append(f"{where}: a {len(raw)}-byte error")
        elif not isinstance(answer, dict):
            problems.append(f"{where}: a success that is not a JSON object")
    connection.close()
    assert problems == [], f"{len(problems)} of {count} requests:\n" + "\n".join(problems[:40])
    # One server, a few thousand requests: well under a minute even on a busy machine.
    assert time.monotonic() - started < 120
