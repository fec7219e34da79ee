"""An AWS error in the wire shape of whichever service a request was meant for.

The edge refuses some requests before any service sees them (a foreign Host, a cross-origin page,
a bad signature). The client must still be able to parse the refusal: JSON for SageMaker and Logs,
S3's `<Error>` XML for S3 (and unsigned requests, which are S3's unless they carry a target),
`<ErrorResponse>` XML for the query services (STS, IAM). The protocol comes from botocore's model.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from xml.sax.saxutils import escape

import botocore.session

Headers = list[tuple[bytes, bytes]]

_QUERY_NAMESPACES = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}


@cache
def protocol_of(service: str | None) -> str:
    """`json`, `rest-json`, `rest-xml`, `query`, `ec2` for a signing name; S3's for None."""
    if service is None or service == "s3":
        return "rest-xml"
    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:  # a signing name that is no service's endpoint prefix: JSON, the common one
        return "json"
    return str(model.protocol)


def render(
    service: str | None, status: int, code: str, message: str, *, json_shaped: bool = False
) -> tuple[int, Headers, bytes]:
    """`json_shaped` forces JSON (an unsigned request with an X-Amz-Target is a JSON request)."""
    request_id = str(uuid.uuid4())
    protocol = "json" if json_shaped else protocol_of(service)
    if protocol == "rest-xml":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        content_type = b"application/xml"
    elif protocol in ("query", "ec2"):
        namespace = _QUERY_NAMESPACES.get(service or "", "")
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = b"text/xml"
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = b"application/x-amz-json-1.1"
    headers: Headers = [
        (b"content-type", content_type),
        (b"x-amzn-requestid", request_id.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if protocol not in ("rest-xml", "query", "ec2"):
        headers.append((b"x-amzn-errortype", code.encode()))
    return status, headers, body
