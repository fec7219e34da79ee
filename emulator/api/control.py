"""The SageMaker control plane over HTTP: the JSON 1.1 protocol, `X-Amz-Target: SageMaker.<Op>`.

A thin layer: the request's context (region from the SigV4 scope), the operation from the
target, the body decoded; the dispatcher validates, runs and serializes. Every failure
becomes an AWS-shaped error (`{"__type", "message"}` + `X-Amzn-ErrorType` + status); nothing a
client sends can produce a stack trace in a response.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from emulator.api.body import read_body
from emulator.aws.context import context_from_request
from emulator.aws.errors import (
    AwsError,
    InternalFailure,
    SerializationException,
    UnknownOperationException,
)
from emulator.aws.specs import target_prefix
from emulator.services.dispatch import Dispatcher
from emulator.services.operations import resolve

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"


def error_response(error: AwsError, request_id: str | None = None) -> Response:
    return Response(
        content=json.dumps(error.to_wire()),
        status_code=error.status,
        media_type=CONTENT_TYPE,
        headers={
            "x-amzn-ErrorType": error.code,
            "x-amzn-RequestId": request_id or str(uuid.uuid4()),
        },
    )


def internal_failure(where: str, request_id: str | None = None) -> Response:
    """Log the exception with its trace here; the client gets a short message and no trace."""
    log.exception("unexpected error in %s (request %s)", where, request_id)
    return error_response(
        InternalFailure(f"An internal error occurred in the emulator ({where})."), request_id
    )


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


def make_router(dispatcher: Dispatcher) -> APIRouter:
    router = APIRouter()
    prefix = target_prefix() + "."
    default_region = dispatcher.regions.default_region

    async def control(request: Request) -> Response:
        operation = "request"
        context = context_from_request(
            request.headers.get("authorization"), request.url.query, default_region
        )
        try:
            target = request.headers.get("x-amz-target")
            if not target or not target.startswith(prefix):
                raise UnknownOperationException(
                    f"Missing or unknown X-Amz-Target {str(target)[:100]!r}: expected "
                    f"'{prefix}<Operation>'."
                )
            operation = target[len(prefix) :]
            resolve(operation)  # an unknown operation is refused before the body is read
            params = decode_body(await read_body(request))
            payload = await run_in_threadpool(dispatcher.call, context, operation, params)
        except AwsError as error:
            return error_response(error, context.request_id)
        except Exception:
            return internal_failure(operation[:100], context.request_id)
        return Response(
            content=json.dumps(payload),
            media_type=CONTENT_TYPE,
            headers={"x-amzn-RequestId": context.request_id},
        )

    # boto3 posts every operation to "/"; another path gets the app's 404 (UnknownOperation).
    router.add_api_route("/", control, methods=["POST"], include_in_schema=False)
    return router
