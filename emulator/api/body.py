"""Bounded request bodies: a body over the limit is refused without being held in memory.

The control plane reads at most `CONTROL_BODY_LIMIT` bytes. SageMaker documents no request-size
limit for its JSON API; the largest member its model allows (a pipeline definition) is 1 MiB, so
5 MiB admits every valid request while a 200 MB upload never reaches the JSON decoder. A body
whose declared Content-Length is over the limit is refused before a byte of it is read.

InvokeEndpoint's limit is the model's `Body` max (6 MiB); over it the real front end answers
HTTP 413 ``HTTP content length exceeded <limit> bytes.`` with no error type, so botocore reports
the code ``413``: `runtime_too_large` builds that answer.
"""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import Response

from emulator.aws.errors import RequestEntityTooLarge

CONTROL_BODY_LIMIT = 5 * 1024 * 1024


def declared_length(content_length: str | None) -> int | None:
    """The Content-Length header as a number; None when absent or not a number."""
    if content_length is None or not content_length.strip().isdigit():
        return None
    return int(content_length)


def too_large_message(limit: int) -> str:
    return f"HTTP content length exceeded {limit} bytes."


async def read_body(request: Request, limit: int = CONTROL_BODY_LIMIT) -> bytes:
    """The whole body, or RequestEntityTooLarge as soon as it is known to pass `limit`."""
    declared = declared_length(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise RequestEntityTooLarge(too_large_message(limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a chunked upload, or one longer than it declared
            raise RequestEntityTooLarge(too_large_message(limit))
        chunks.append(chunk)
    return b"".join(chunks)


def runtime_too_large(limit: int) -> Response:
    """InvokeEndpoint's answer to a body over `limit`, as the real service gives it."""
    return Response(
        content=json.dumps({"message": too_large_message(limit)}),
        status_code=413,
        media_type="application/json",
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )
