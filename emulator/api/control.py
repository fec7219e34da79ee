"""The SageMaker control plane over HTTP: the JSON 1.1 protocol, `X-Amz-Target: SageMaker.<Op>`.

A thin layer: decode the body, validate it against the operation's input shape, call the
service method named `xform_name(Op)`, serialize the result by the output shape. Every failure
becomes an AWS-shaped error (`{"__type", "message"}` + `X-Amzn-ErrorType` + status); nothing a
client sends can produce a stack trace in a response.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from emulator.aws.constraints import apply_constraints
from emulator.aws.errors import (
    AwsError,
    InternalFailure,
    NotImplementedOperation,
    SerializationException,
    UnknownOperationException,
)
from emulator.aws.specs import operation_names, target_prefix
from emulator.aws.validate import validate_input
from emulator.aws.wire import parse_input, serialize_output

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"


def error_response(error: AwsError) -> Response:
    return Response(
        content=json.dumps(error.to_wire()),
        status_code=error.status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-ErrorType": error.code, "x-amzn-RequestId": str(uuid.uuid4())},
    )


def internal_failure(context: str) -> Response:
    """Log the exception with its trace here; the client gets a short message and no trace."""
    log.exception("unexpected error in %s", context)
    return error_response(
        InternalFailure(f"An internal error occurred in the emulator ({context}).")
    )


def resolve(service: object, target: str | None) -> tuple[str, Callable[[dict[str, Any]], Any]]:
    """The operation named by X-Amz-Target and the service method that implements it."""
    prefix = target_prefix() + "."
    if not target or not target.startswith(prefix):
        raise UnknownOperationException(
            f"Missing or unknown X-Amz-Target {target!r}: expected '{prefix}<Operation>'."
        )
    operation = target[len(prefix) :]
    if operation not in operation_names():
        raise UnknownOperationException(f"Unknown operation {operation!r}.")
    method = getattr(service, xform_name(operation), None)
    if not callable(method):
        raise NotImplementedOperation(
            f"The operation {operation} is not implemented by sagemaker-emulator."
        )
    return operation, method


def decode_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}  # botocore sends "{}" for an operation without members; allow empty too
    try:
        params = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # [[[... nested too deep
        raise SerializationException(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object.")
    return params


def make_router(service: object) -> APIRouter:
    router = APIRouter()

    async def control(request: Request) -> Response:
        operation = "request"
        try:
            operation, method = resolve(service, request.headers.get("x-amz-target"))
            params = decode_body(await request.body())
            validate_input(operation, params)
            apply_constraints(operation, params)
            result = await run_in_threadpool(method, parse_input(operation, params))
            payload = serialize_output(operation, result)
        except AwsError as error:
            return error_response(error)
        except Exception:
            return internal_failure(operation)
        return Response(
            content=json.dumps(payload),
            media_type=CONTENT_TYPE,
            headers={"x-amzn-RequestId": str(uuid.uuid4())},
        )

    # boto3 posts every operation to "/"; another path gets the app's 404 (UnknownOperation).
    router.add_api_route("/", control, methods=["POST"], include_in_schema=False)
    return router
