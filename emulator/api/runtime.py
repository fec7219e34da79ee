"""SageMaker Runtime over HTTP: `POST /endpoints/{name}/invocations` (rest-json).

The hot path. The body goes to the service as bytes, untouched (binary-safe), with the headers
InvokeEndpoint defines; the answer's body comes back untouched with Content-Type,
x-Amzn-Invoked-Production-Variant and X-Amzn-SageMaker-Custom-Attributes. Errors use the
runtime's codes (ValidationError, ModelError 424 with OriginalStatusCode/OriginalMessage/
LogStreamArn, ...), shaped by the error shapes of the sagemaker-runtime model.

`POST /endpoints/{name}/async-invocations` (InvokeEndpointAsync) queues the request and answers
202 at once, with the inference id in the body and the S3 locations in headers.
"""

from __future__ import annotations

import json
import logging
import uuid
from functools import cache
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from emulator.api import control, response_stream
from emulator.api.body import runtime_too_large
from emulator.aws.context import context_from_request
from emulator.aws.errors import (
    AwsError,
    InternalFailure,
    NotImplementedOperation,
    UnknownOperationException,
    ValidationError,
    ValidationException,
)
from emulator.aws.specs import SAGEMAKER_RUNTIME, runtime_model
from emulator.aws.validate import validate_input
from emulator.services.invocation import InvokeResult
from emulator.services.regions import RegionalServices

log = logging.getLogger(__name__)

OPERATION = "InvokeEndpoint"
ASYNC_OPERATION = "InvokeEndpointAsync"
STREAM_OPERATION = "InvokeEndpointWithResponseStream"


def error_response(error: AwsError) -> Response:
    """A rest-json error: code in X-Amzn-ErrorType, members of the error shape in the body."""
    wire: dict[str, Any] = {"Message": error.message}
    extra = {k: v for k, v in error.to_wire().items() if k not in ("__type", "message")}
    model = runtime_model()
    if error.code in model.shape_names:
        members = model.shape_for(error.code).members
        for name, value in extra.items():
            if name in members:
                is_int = members[name].type_name in ("integer", "long")
                wire[name] = int(value) if is_int else value
    return Response(
        content=json.dumps(wire),
        status_code=error.status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": error.code, "x-amzn-RequestId": str(uuid.uuid4())},
    )


class RuntimeApp:
    """A bare ASGI app for the invocations route: no framework routing on the hot path."""

    def __init__(self, regions: RegionalServices) -> None:
        self._regions = regions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._respond(scope, receive)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive) -> Response:
        try:
            parts = scope["path"].split("/")
            operation = _operations_by_suffix().get(parts[3]) if len(parts) == 4 else None
            if scope["method"] == "POST" and operation == ASYNC_OPERATION:
                return await self._respond_async(scope, receive, parts[2])
            if scope["method"] == "POST" and operation == STREAM_OPERATION:
                return await response_stream.respond(self._regions, scope, receive, parts[2])
            if scope["method"] == "POST" and operation not in (None, OPERATION):
                raise NotImplementedOperation(
                    f"The operation {operation} is not implemented by sagemaker-emulator."
                )
            if scope["method"] != "POST" or operation != OPERATION:
                response = control.error_response(
                    UnknownOperationException(
                        f"No runtime operation answers {scope['method']} {scope['path']}."
                    )
                )
                response.status_code = 404 if scope["method"] == "POST" else 405
                return response
            body = await _read_body(receive, _body_limit(OPERATION))
            if len(body) > _body_limit(OPERATION):
                return runtime_too_large(_body_limit(OPERATION))
            headers = Headers(scope=scope)
            # The endpoint lives in the region the client signed for (its own region on AWS).
            context = context_from_request(
                headers.get("authorization"),
                scope.get("query_string", b"").decode("latin-1"),
                self._regions.default_region,
            )
            endpoint_name = parts[2]
            params: dict[str, Any] = {"EndpointName": endpoint_name, "Body": body}
            for member, header in _header_members(OPERATION).items():
                if header in headers:
                    params[member] = headers[header]
            try:
                validate_input(OPERATION, params, SAGEMAKER_RUNTIME)
            except ValidationException as exc:
                raise ValidationError(exc.message) from None
            kwargs = {
                "endpoint_name": endpoint_name,
                "body": body,
                "content_type": headers.get("content-type"),
                "accept": headers.get("accept"),
                "custom_attributes": headers.get("x-amzn-sagemaker-custom-attributes"),
                "target_variant": headers.get("x-amzn-sagemaker-target-variant"),
            }
            service = self._regions.get(context.region)
            result: InvokeResult = await run_in_threadpool(service.invoke_endpoint, **kwargs)
        except AwsError as error:
            return error_response(error)
        except Exception:
            log.exception("unexpected error in InvokeEndpoint")
            return error_response(InternalFailure("An internal error occurred in the emulator."))
        # Content-Type goes out exactly as the container gave it (no charset added).
        out_headers = {
            "Content-Type": result.content_type or "application/octet-stream",
            "x-Amzn-Invoked-Production-Variant": result.invoked_production_variant,
        }
        if result.custom_attributes:
            out_headers["X-Amzn-SageMaker-Custom-Attributes"] = result.custom_attributes
        return Response(content=result.body, headers=out_headers)

    async def _respond_async(self, scope: Scope, receive: Receive, endpoint_name: str) -> Response:
        """InvokeEndpointAsync: queue the request; 202 with the inference id and locations."""
        body = await _read_body(receive, _body_limit(ASYNC_OPERATION))
        headers = Headers(scope=scope)
        params: dict[str, Any] = {"EndpointName": endpoint_name}
        if body:
            params["Body"] = body
        shape = runtime_model().operation_model(ASYNC_OPERATION).input_shape
        try:
            for member, header in _header_members(ASYNC_OPERATION).items():
                if header in headers:
                    value = headers[header]
                    is_int = shape.members[member].type_name in ("integer", "long")
                    params[member] = _header_int(member, value) if is_int else value
            try:
                validate_input(ASYNC_OPERATION, params, SAGEMAKER_RUNTIME)
            except ValidationException as exc:
                raise ValidationError(exc.message) from None
            context = context_from_request(
                headers.get("authorization"),
                scope.get("query_string", b"").decode("latin-1"),
                self._regions.default_region,
            )
            service = self._regions.get(context.region)
            result = await run_in_threadpool(service.invoke_endpoint_async, endpoint_name, params)
        except AwsError as error:
            return error_response(error)
        except Exception:
            log.exception("unexpected error in InvokeEndpointAsync")
            return error_response(InternalFailure("An internal error occurred in the emulator."))
        output = runtime_model().operation_model(ASYNC_OPERATION).output_shape
        out_headers: dict[str, str] = {}
        payload: dict[str, Any] = {}
        for member, shape_member in output.members.items():
            if member not in result:
                continue
            if shape_member.serialization.get("location") == "header":
                out_headers[shape_member.serialization["name"]] = str(result[member])
            else:
                payload[member] = result[member]
        status = int(runtime_model().operation_model(ASYNC_OPERATION).http["responseCode"])
        return Response(
            content=json.dumps(payload),
            status_code=status,
            media_type="application/json",
            headers=out_headers,
        )


def _header_int(member: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"Value '{value}' at '{member}' must be an integer.") from None


@cache
def _operations_by_suffix() -> dict[str, str]:
    """`invocations` -> InvokeEndpoint, `async-invocations` -> InvokeEndpointAsync, ... (from the
    request URIs of the sagemaker-runtime model)."""
    model = runtime_model()
    found: dict[str, str] = {}
    for name in model.operation_names:
        uri = model.operation_model(name).http.get("requestUri", "")
        if uri.startswith("/endpoints/{EndpointName}/"):
            found[uri.rsplit("/", 1)[1]] = name
    return found


@cache
def _header_members(operation: str) -> dict[str, str]:
    """The operation's members sent as headers (member -> header name), from the model."""
    shape = runtime_model().operation_model(operation).input_shape
    return {
        name: member.serialization["name"]
        for name, member in shape.members.items()
        if member.serialization.get("location") == "header"
    }


@cache
def _body_limit(operation: str) -> int:
    body = runtime_model().operation_model(operation).input_shape.members["Body"]
    limit: int = body.metadata["max"]
    return limit


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The request body; past `limit` bytes it stops collecting and keeps one byte more, enough
    for validation to say the body is too large without holding a huge upload in memory."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        if size <= limit:
            chunk = message.get("body", b"")[: limit + 1 - size]
            chunks.append(chunk)
            size += len(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)
