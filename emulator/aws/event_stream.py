"""The AWS event-stream wire format (application/vnd.amazon.eventstream), the writing side.

botocore only parses it (botocore.eventstream). A message is: a prelude (total length and
headers length, both big-endian uint32, then the CRC32 of those 8 bytes), the headers, the
payload, then the CRC32 of everything before it. A header is its name's length (1 byte), the
name, a value type (7: string), the value's length (big-endian uint16) and the value.

An event of a response stream names its member of the stream union in `:event-type`, with
`:message-type` `event`; a modelled error is `:message-type` `exception` with its shape's name in
`:exception-type` and its members as a JSON payload.
"""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Mapping

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One framed message with string-valued headers."""
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = _PRELUDE.size + _CRC.size + len(encoded) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(encoded))
    head = prelude + _CRC.pack(binascii.crc32(prelude)) + encoded + payload
    return head + _CRC.pack(binascii.crc32(head))


def event(event_type: str, payload: bytes, content_type: str = "application/octet-stream") -> bytes:
    """An event carrying `payload` as its event payload member (PayloadPart's Bytes)."""
    return message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"},
        payload,
    )


def exception(exception_type: str, members: Mapping[str, str]) -> bytes:
    """A modelled error inside the stream (ModelStreamError, InternalStreamFailure)."""
    return message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps(dict(members)).encode(),
    )


def _header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING, len(raw_value))
        + raw_value
    )
