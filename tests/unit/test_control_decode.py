"""JSON 1.1 request bodies that are not a usable JSON object are a SerializationException."""

from __future__ import annotations

import pytest

from emulator.api.control import decode_body
from emulator.aws.errors import SerializationException


@pytest.mark.parametrize(
    "body",
    [b"{", b"[1, 2]", b"\xff\xfe", b"[" * 100_000, b'{"a": ' * 100_000],
    ids=["truncated", "not-an-object", "not-utf8", "nested-lists", "nested-objects"],
)
def test_unusable_bodies_are_serialization_errors(body: bytes) -> None:
    with pytest.raises(SerializationException):
        decode_body(body)


def test_an_empty_body_is_an_empty_request() -> None:
    assert decode_body(b"  ") == {}
