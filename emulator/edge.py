"""The edge router: one port, every service. Decides per request whether it is ours or moto's.

Clients sign each request with SigV4; the credential scope names the service
(`Credential=AKID/20240101/us-east-1/sagemaker/aws4_request`, in the Authorization header or, for
presigned URLs, the X-Amz-Credential query parameter). SageMaker and SageMaker Runtime both sign
as `sagemaker`: the runtime is told apart by its path (`/endpoints/{name}/invocations`).
Everything that is not ours (s3, sts, iam, logs, ...) goes to moto's server app in-process.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

SERVICE_SCOPE_KEY = "emulator.service"
"""ASGI scope key where the edge leaves the signing service it found (or None)."""

ADMIN_PREFIX = "/_emulator/"


class Route(StrEnum):
    CONTROL = "control"
    RUNTIME = "runtime"
    ADMIN = "admin"
    MOTO = "moto"
    BAD_SIGNATURE = "bad-signature"


def signing_service(authorization: str | None, query_string: str) -> str | None:
    """The service of the SigV4 credential scope, lower-cased, or None for an unsigned request."""
    credential = None
    if authorization and "Credential=" in authorization:
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
    elif "X-Amz-Credential" in query_string:
        values = parse_qs(query_string).get("X-Amz-Credential")
        credential = unquote(values[0]) if values else None
    if not credential:
        return None
    parts = credential.split("/")
    # AKID/date/region/service/aws4_request; an access key never contains "/".
    return parts[3].lower() if len(parts) >= 5 else None


def is_invocation_path(path: str) -> bool:
    parts = path.split("/")
    # "", "endpoints", name, "invocations" (or "invocations-response-stream", "async-invocations")
    return len(parts) == 4 and parts[1] == "endpoints" and bool(parts[2])


def classify(path: str, headers: dict[str, str], query_string: str = "") -> Route:
    """Where a request goes. `headers` has lower-case names."""
    if path.startswith(ADMIN_PREFIX) or path == ADMIN_PREFIX.rstrip("/"):
        return Route.ADMIN
    authorization = headers.get("authorization")
    service = signing_service(authorization, query_string)
    if service is None and authorization and authorization.startswith("AWS4-"):
        # A SigV4 header without a usable credential scope: AWS answers 400, not 500.
        return Route.BAD_SIGNATURE
    target = headers.get("x-amz-target", "")
    if service == "sagemaker":
        return Route.RUNTIME if is_invocation_path(path) else Route.CONTROL
    if service is None:
        # Unsigned requests: ours only when they are unmistakably SageMaker's.
        if target.startswith("SageMaker."):
            return Route.CONTROL
        if is_invocation_path(path):
            return Route.RUNTIME
    return Route.MOTO


class EdgeRouter:
    """ASGI app: the runtime app for invocations (the hot path, no framework routing), our
    FastAPI app for the control plane and admin, the moto bridge for the rest."""

    def __init__(self, ours: ASGIApp, moto: ASGIApp, runtime: ASGIApp) -> None:
        self.ours = ours
        self.moto = moto
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # lifespan (start-up and shutdown of the services) and anything else: ours.
            await self.ours(scope, receive, send)
            return
        headers = _headers(scope)
        query_string = scope.get("query_string", b"").decode("latin-1")
        route = classify(scope["path"], headers, query_string)
        scope[SERVICE_SCOPE_KEY] = signing_service(headers.get("authorization"), query_string)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            if route is Route.RUNTIME:
                await self.runtime(scope, receive, tracking_send)
            elif route is Route.MOTO:
                await self.moto(scope, receive, tracking_send)
            elif route is Route.BAD_SIGNATURE:
                await _error(tracking_send, 400, "IncompleteSignatureException", _NO_SCOPE)
            else:
                await self.ours(scope, receive, tracking_send)
        except Exception:
            # Last line of defence: the trace goes to the log, the client gets AWS's shape.
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _error(send, 500, "InternalFailure", "An internal error occurred.")


_NO_SCOPE = (
    "Authorization header requires a 'Credential' parameter of the form "
    "AKID/date/region/service/aws4_request."
)


async def _error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"__type": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"x-amzn-errortype", code.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _headers(scope: Scope) -> dict[str, str]:
    wanted: dict[str, str] = {}
    raw: Any
    for name, raw in scope.get("headers", ()):
        if name in (b"authorization", b"x-amz-target"):
            wanted[name.decode("latin-1")] = raw.decode("latin-1")
    return wanted
