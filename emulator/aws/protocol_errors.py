"""An AWS error in the wire shape of whichever service a request was meant for.

The edge refuses some requests before any service sees them (a foreign Host, a cross-origin page,
a bad signature), and moto fails on some (an operation it does not implement). The client must
still be able to parse the answer: JSON for SageMaker and Logs, S3's `<Error>` XML for S3 (and
unsigned requests, which are S3's unless they carry a target), `<ErrorResponse>` XML for the query
services (STS, IAM, SNS), CBOR for a Smithy RPCv2 CBOR request. The protocol comes from botocore's
model (emulator/aws/service_models.py).
"""

from __future__ import annotations

import json
import struct
import uuid
from xml.sax.saxutils import escape

from emulator.aws.service_models import protocol_of, request_protocol, xml_namespace

__all__ = [
    "Headers",
    "internal_failure",
    "not_implemented",
    "protocol_of",
    "render",
    "request_protocol",
]

Headers = list[tuple[bytes, bytes]]


def render(
    service: str | None,
    status: int,
    code: str,
    message: str,
    *,
    json_shaped: bool = False,
    protocol: str | None = None,
) -> tuple[int, Headers, bytes]:
    """`json_shaped` forces JSON (an unsigned request with an X-Amz-Target is a JSON request);
    `protocol` names the request's own (`request_protocol`) where the service accepts several."""
    request_id = str(uuid.uuid4())
    if protocol is None:
        protocol = "json" if json_shaped else protocol_of(service)
    extra: Headers = []
    if protocol == "rest-xml":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        content_type = b"application/xml"
    elif protocol in ("query", "ec2"):
        namespace = xml_namespace(service)
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        fault = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = b"text/xml"
    elif protocol == "smithy-rpc-v2-cbor":
        body = _cbor_text_map({"__type": code, "message": message})
        content_type = b"application/cbor"
        extra.append((b"smithy-protocol", b"rpc-v2-cbor"))
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = b"application/x-amz-json-1.1"
    headers: Headers = [
        (b"content-type", content_type),
        (b"x-amzn-requestid", request_id.encode()),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    if protocol not in ("rest-xml", "query", "ec2"):
        headers.append((b"x-amzn-errortype", code.encode()))
    return status, headers, body


def not_implemented(
    service: str | None, protocol: str, operation: str
) -> tuple[int, Headers, bytes]:
    """An operation AWS has and the emulator does not. S3 answers functionality it does not
    implement with `NotImplemented` (501); the other services' common error for an action they
    do not offer is `InvalidAction` (400)."""
    message = f"The emulator does not implement this operation ({operation})."
    if protocol == "rest-xml":
        return render(service, 501, "NotImplemented", message, protocol=protocol)
    return render(service, 400, "InvalidAction", message, protocol=protocol)


def internal_failure(service: str | None, protocol: str) -> tuple[int, Headers, bytes]:
    """An unexpected failure: S3's `InternalError`, the other services' `InternalFailure`."""
    code = "InternalError" if protocol == "rest-xml" else "InternalFailure"
    message = "We encountered an internal error. Please try again."
    return render(service, 500, code, message, protocol=protocol)


def _cbor_text(text: str) -> bytes:
    """A CBOR text string (major type 3) with its length in the shortest form."""
    data = text.encode()
    return _cbor_head(3, len(data)) + data


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    if length < 1 << 8:
        return bytes([major << 5 | 24, length])
    if length < 1 << 16:
        return bytes([major << 5 | 25]) + struct.pack(">H", length)
    return bytes([major << 5 | 26]) + struct.pack(">I", length)


def _cbor_text_map(items: dict[str, str]) -> bytes:
    """A CBOR map (major type 5) of text keys to text values: a Smithy RPCv2 error body."""
    parts = [_cbor_head(5, len(items))]
    for key, value in items.items():
        parts += [_cbor_text(key), _cbor_text(value)]
    return b"".join(parts)
