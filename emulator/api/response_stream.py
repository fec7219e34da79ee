"""InvokeEndpointWithResponseStream over HTTP: `POST /endpoints/{name}/invocations-response-stream`.

The request is InvokeEndpoint's (its Accept travels as X-Amzn-SageMaker-Accept). The container's
answer to /invocations-response-stream is relayed as it arrives, each part a `PayloadPart` event
of the model's `ResponseStream` in AWS's event-stream framing, with the response headers the
model defines (X-Amzn-SageMaker-Content-Type, x-Amzn-Invoked-Production-Variant,
X-Amzn-SageMaker-Custom-Attributes). An error before the first part is an ordinary error
response (ValidationError, ModelError...); a stream that breaks afterwards ends with a
`ModelStreamError` event (StreamBroken, ModelInvocationTimeExceeded), an unexpected failure with
`InternalStreamFailure`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from emulator.api import runtime
from emulator.api.body import runtime_too_large
from emulator.aws import event_stream
from emulator.aws.context import context_from_request
from emulator.aws.errors import AwsError, InternalFailure, ValidationError, ValidationException
from emulator.aws.specs import SAGEMAKER_RUNTIME, runtime_model
from emulator.aws.validate import validate_input
from emulator.services.invocation import ResponseStream, StreamFailure
from emulator.services.regions import RegionalServices

log = logging.getLogger(__name__)

OPERATION = "InvokeEndpointWithResponseStream"
_PAYLOAD_EVENT = "PayloadPart"


async def respond(
    regions: RegionalServices, scope: Scope, receive: Receive, endpoint_name: str
) -> Response:
    try:
        limit = runtime._body_limit(OPERATION)
        body = await runtime._read_body(receive, limit)
        if len(body) > limit:
            return runtime_too_large(limit)
        headers = Headers(scope=scope)
        params: dict[str, Any] = {"EndpointName": endpoint_name, "Body": body}
        members = runtime._header_members(OPERATION)
        for member, header in members.items():
            if header in headers:
                params[member] = headers[header]
        try:
            validate_input(OPERATION, params, SAGEMAKER_RUNTIME)
        except ValidationException as exc:
            raise ValidationError(exc.message) from None
        context = context_from_request(
            headers.get("authorization"),
            scope.get("query_string", b"").decode("latin-1"),
            regions.default_region,
        )
        service = regions.get(context.region)
        stream: ResponseStream = await anyio.to_thread.run_sync(
            lambda: service.invoke_endpoint_with_response_stream(
                endpoint_name,
                body,
                params.get("ContentType"),
                params.get("Accept"),
                params.get("CustomAttributes"),
                params.get("TargetVariant"),
            )
        )
    except AwsError as error:
        return runtime.error_response(error)
    except Exception:
        log.exception("unexpected error in %s", OPERATION)
        return runtime.error_response(
            InternalFailure("An internal error occurred in the emulator.")
        )
    return _EventStreamResponse(stream)


class _EventStreamResponse(StreamingResponse):
    """The events of a stream; its container connection and instance are given back however
    the response ends (a client gone before the first event never starts the generator)."""

    def __init__(self, stream: ResponseStream) -> None:
        super().__init__(
            _events(stream), media_type=event_stream.CONTENT_TYPE, headers=_output_headers(stream)
        )
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stream.close()


def _output_headers(stream: ResponseStream) -> dict[str, str]:
    """The output members the model sends as headers, by their names in the model."""
    values = {
        "ContentType": stream.content_type,
        "InvokedProductionVariant": stream.invoked_production_variant,
        "CustomAttributes": stream.custom_attributes,
    }
    shape = runtime_model().operation_model(OPERATION).output_shape
    return {
        member.serialization["name"]: str(values[name])
        for name, member in shape.members.items()
        if member.serialization.get("location") == "header" and values.get(name) is not None
    }


async def _events(stream: ResponseStream) -> AsyncIterator[bytes]:
    """Each part the container sends, as an event, read in a worker thread (blocking socket)."""
    parts = stream.chunks()
    try:
        while True:
            try:
                chunk = await anyio.to_thread.run_sync(_next, parts)
            except StreamFailure as failure:
                members = {"Message": failure.message, "ErrorCode": failure.error_code}
                yield event_stream.exception("ModelStreamError", members)
                return
            except Exception:
                log.exception("the response stream failed")
                members = {"Message": "The stream processing failed; try your request again."}
                yield event_stream.exception("InternalStreamFailure", members)
                return
            if chunk is None:
                return
            yield event_stream.event(_PAYLOAD_EVENT, chunk)
    finally:
        stream.close()


def _next(parts: Iterator[bytes]) -> bytes | None:
    return next(parts, None)
