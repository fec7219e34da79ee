"""emulator.aws.event_stream writes what botocore's own event-stream parser reads."""

from __future__ import annotations

import json

import botocore.eventstream
import botocore.parsers
import botocore.session
import pytest

from emulator.aws import event_stream


def test_messages_parse_with_botocore_s_decoder() -> None:
    buffer = botocore.eventstream.EventStreamBuffer()
    payloads = [b"", b"x", bytes(range(256)) * 300]
    for payload in payloads:
        buffer.add_data(event_stream.event("PayloadPart", payload))
    messages = list(buffer)
    assert [m.payload for m in messages] == payloads
    assert messages[0].headers == {
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }


def test_a_corrupted_message_fails_its_checksum() -> None:
    data = bytearray(event_stream.event("PayloadPart", b"hello"))
    data[-6] ^= 0xFF
    buffer = botocore.eventstream.EventStreamBuffer()
    buffer.add_data(bytes(data))
    with pytest.raises(botocore.eventstream.ChecksumMismatch):
        list(buffer)


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self) -> list[bytes]:
        return [self._data]

    def close(self) -> None:
        pass


def test_sagemaker_runtime_response_stream_events() -> None:
    """botocore's sagemaker-runtime model reads the events as ResponseStream members."""
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    output = model.operation_model("InvokeEndpointWithResponseStream").output_shape
    data = (
        event_stream.event("PayloadPart", b"one ")
        + event_stream.event("PayloadPart", b"two")
        + event_stream.exception(
            "ModelStreamError", {"Message": "broken", "ErrorCode": "StreamBroken"}
        )
    )
    parser = botocore.parsers.EventStreamJSONParser()
    stream = botocore.eventstream.EventStream(
        _Raw(data), output.members["Body"], parser, "InvokeEndpointWithResponseStream"
    )
    events = iter(stream)
    assert next(events) == {"PayloadPart": {"Bytes": b"one "}}
    assert next(events) == {"PayloadPart": {"Bytes": b"two"}}
    with pytest.raises(botocore.eventstream.EventStreamError) as raised:
        next(events)
    assert raised.value.response["Error"]["Code"] == "ModelStreamError"
    assert raised.value.response["Error"]["Message"] == "broken"


def test_exception_members_are_a_json_payload() -> None:
    buffer = botocore.eventstream.EventStreamBuffer()
    buffer.add_data(
        event_stream.exception("ModelStreamError", {"Message": "m", "ErrorCode": "StreamBroken"})
    )
    (message,) = list(buffer)
    assert message.headers[":message-type"] == "exception"
    assert message.headers[":exception-type"] == "ModelStreamError"
    assert json.loads(message.payload) == {"Message": "m", "ErrorCode": "StreamBroken"}
