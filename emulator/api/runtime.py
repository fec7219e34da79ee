"""SageMaker Runtime over HTTP: `POST /endpoints/{name}/invocations` (rest-json).

The hot path. The body goes to the service as bytes, untouched (binary-safe), with the headers
InvokeEndpoint defines; the answer's body comes back untouched with Content-Type,
x-Amzn-Invoked-Production-Variant and X-Amzn-SageMaker-Custom-Attributes. Errors use the
runtime's codes (ValidationError, ModelError 424 with OriginalStatusCode/OriginalMessage/
LogStreamArn, ...), shaped by the error shapes of the sagemaker-runtime model.
"""

from __future__ import annotations

import inspect
import json
import logging
import uuid
from typing import Any, Protocol

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from emulator.aws.errors import AwsError, InternalFailure, ValidationError, ValidationException
from emulator.aws.specs import SAGEMAKER_RUNTIME, runtime_model
from emulator.aws.validate import validate_input

log = logging.getLogger(__name__)

OPERATION = "InvokeEndpoint"


class InvokeResultLike(Protocol):
    body: bytes
    content_type: str
    invoked_production_variant: str
    custom_attributes: str | None


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


def make_router(service: Any) -> APIRouter:
    router = APIRouter()
    invoke = service.invoke_endpoint
    is_async = inspect.iscoroutinefunction(invoke)

    async def invocations(request: Request, endpoint_name: str) -> Response:
        try:
            body = await request.body()
            headers = request.headers
            try:
                validate_input(
                    OPERATION, {"EndpointName": endpoint_name, "Body": body}, SAGEMAKER_RUNTIME
                )
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
            result: InvokeResultLike
            if is_async:
                result = await invoke(**kwargs)
            else:
                result = await run_in_threadpool(invoke, **kwargs)
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

    router.add_api_route(
        "/endpoints/{endpoint_name}/invocations",
        invocations,
        methods=["POST"],
        include_in_schema=False,
    )
    return router
