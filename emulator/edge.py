"""The edge router: one port, every service. Decides per request whether it is ours or moto's.

Clients sign each request with SigV4; the credential scope names the service
(`Credential=AKID/20240101/us-east-1/sagemaker/aws4_request`, in the Authorization header or, for
presigned URLs, the X-Amz-Credential query parameter). SageMaker and SageMaker Runtime both sign
as `sagemaker`: the runtime is told apart by its path (`/endpoints/{name}/invocations`).
Everything that is not ours (s3, sts, iam, logs, ...) goes to moto's server app in-process.
`routing.py` classifies a request; `edge_messages.py` holds what the edge answers itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import s3_cors
from emulator.aws import sigv4
from emulator.aws.protocol_errors import protocol_of, render
from emulator.config import Settings
from emulator.edge_messages import (
    NO_SCOPE,
    WRONG_SCOPE,
    Answer,
    invalid_endpoint_name,
    read_body,
    replay_body,
    send_error,
    signed_request,
)
from emulator.hosts import HostPolicy
from emulator.origins import Origin, OriginPolicy
from emulator.routing import (
    HEALTH_PATH,
    MOTO_API_ALLOWED,
    SERVICE_SCOPE_KEY,
    Route,
    classify,
    encoded_slash_endpoint,
    request_headers,
    signing_service,
)

log = logging.getLogger(__name__)


class EdgeRouter:
    """ASGI app: the runtime app for invocations (the hot path, no framework routing), our
    FastAPI app for the control plane and admin, the moto bridge for the rest.

    Before any of them runs, the guard refuses what must not reach them: foreign Host names (DNS
    rebinding), cross-origin browser requests (a page the user visits), moto's admin routes
    unless enabled, and, with access keys configured, requests not signed with one of them."""

    def __init__(
        self, ours: ASGIApp, moto: ASGIApp, runtime: ASGIApp, guard: Guard | None = None
    ) -> None:
        self.ours = ours
        self.moto = moto
        self.runtime = runtime
        self.guard = guard or Guard()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # lifespan (start-up and shutdown of the services) and anything else: ours.
            await self.ours(scope, receive, send)
            return
        headers = request_headers(scope)
        query_string = scope.get("query_string", b"").decode("latin-1")
        path: str = scope["path"]
        route = classify(path, headers, query_string)
        service = signing_service(headers.get("authorization"), query_string)
        scope[SERVICE_SCOPE_KEY] = service
        if route in (Route.CONTROL, Route.MOTO) and encoded_slash_endpoint(scope, service):
            route = Route.BAD_ENDPOINT_NAME
        requested = headers.get("access-control-request-headers", "").lower()
        if scope["method"] == "OPTIONS" and route is Route.MOTO and "x-amz-target" in requested:
            # The preflight of a JSON-protocol call (S3 never sends X-Amz-Target): not S3's CORS.
            route = Route.CONTROL
        started = False
        extra: list[tuple[bytes, bytes]] = []

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # moto's server allows every origin; CORS is decided here, not there.
                kept = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if not name.lower().startswith(b"access-control-")
                ]
                message = {**message, "headers": kept + extra}
            await send(message)

        try:
            decision = await self._guard(scope, receive, headers, route, service)
            if isinstance(decision, Answer):
                await decision.send(send)
                return
            extra, receive = decision
            if route is Route.RUNTIME:
                await self.runtime(scope, receive, tracking_send)
            elif route is Route.MOTO:
                # CORS was decided above; moto would answer 403 to any Origin it has no rule for.
                scope["headers"] = [
                    h for h in scope.get("headers", ()) if h[0].lower() != b"origin"
                ]
                await self.moto(scope, receive, tracking_send)
            elif route is Route.MOTO_API:
                await self._moto_api(scope, receive, tracking_send, service)
            elif route is Route.BAD_SIGNATURE:
                await send_error(tracking_send, 400, "IncompleteSignatureException", NO_SCOPE)
            elif route is Route.WRONG_SCOPE:
                await send_error(tracking_send, 403, "InvalidSignatureException", WRONG_SCOPE)
            elif route is Route.BAD_ENDPOINT_NAME:
                await invalid_endpoint_name(scope, receive, tracking_send)
            elif route is Route.UNKNOWN_TARGET:
                target = headers.get("x-amz-target", "")
                message = f"Unknown or unsigned X-Amz-Target {target!r}: sign the request."
                await send_error(tracking_send, 400, "UnknownOperationException", message)
            else:
                await self.ours(scope, receive, tracking_send)
        except Exception:
            # Last line of defence: the trace goes to the log, the client gets AWS's shape.
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await send_error(send, 500, "InternalFailure", "An internal error occurred.")

    async def _guard(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        route: Route,
        service: str | None,
    ) -> Answer | tuple[list[tuple[bytes, bytes]], Receive]:
        """An answer that ends the request, or the CORS headers to add and the body's source."""
        guard = self.guard
        method: str = scope["method"]
        json_shaped = "x-amz-target" in headers or route in (Route.CONTROL, Route.RUNTIME)

        def refuse(status: int, code: str | None, message: str) -> Answer:
            protocol = "json" if json_shaped else protocol_of(service)
            if code is None:
                code = "AccessDeniedException" if protocol.endswith("json") else "AccessDenied"
            return Answer(*render(service, status, code, message, json_shaped=json_shaped))

        host = headers.get("host")
        if not guard.hosts.allows(host):
            return refuse(
                403,
                None,
                f"The Host header {host!r} is not a name this server answers to "
                "(add it with --allowed-host).",
            )
        origin_header = headers.get("origin")
        origin = guard.origins.classify(headers, scope.get("scheme", "http"))
        extra: list[tuple[bytes, bytes]] = []
        if route is Route.MOTO and service in (None, "s3"):
            # S3: CORS per bucket, from its CORS configuration, as real S3 does.
            bucket = _bucket_of(scope["path"], host, guard.hosts)
            if method == "OPTIONS" and origin_header is not None:
                return self._s3_preflight(bucket, origin_header, headers)
            rule = None
            if origin_header is not None and guard.cors is not None:
                rule = guard.cors.match(bucket, origin_header, method)
            embedded_read = origin_header is None and method in ("GET", "HEAD")
            if origin is Origin.FOREIGN and rule is None and not embedded_read:
                return refuse(
                    403,
                    None,
                    f"Cross-origin request from {origin_header or 'another site'} refused: the "
                    "bucket's CORS configuration does not allow it.",
                )
            if rule is not None and origin_header is not None:
                extra = s3_cors.response_headers(rule, origin_header, method)
        else:
            if origin is Origin.FOREIGN:
                return refuse(
                    403,
                    None,
                    f"Cross-origin request from {origin_header or 'another site'} refused "
                    "(allow an origin with --allowed-origin).",
                )
            if origin is Origin.TRUSTED and origin_header is not None:
                if method == "OPTIONS":
                    return Answer(200, _trusted_preflight(origin_header, headers), b"")
                extra = _trusted_cors(origin_header)
        if guard.verifier is None or (route is Route.ADMIN and scope["path"] == HEALTH_PATH):
            return extra, receive
        body: bytes | None = None
        if guard.verifier.needs_body(signed_request(scope, None)):
            body = await read_body(receive)
            if body is None:
                return Answer(400, [], b"")  # the client went away
        failure = guard.verifier.verify(signed_request(scope, body), service)
        if failure is not None:
            code, message = sigv4.error_for(
                failure, "json" if json_shaped else protocol_of(service)
            )
            return refuse(403, code, message)
        return extra, (replay_body(body, receive) if body is not None else receive)

    def _s3_preflight(self, bucket: str, origin: str, headers: dict[str, str]) -> Answer:
        requested_method = headers.get("access-control-request-method", "")
        requested = [
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        rules = self.guard.cors.rules(bucket) if self.guard.cors is not None else None
        if not rules:
            return Answer(*render("s3", 403, "AccessForbidden", s3_cors.NOT_ENABLED))
        rule = self.guard.cors.match(bucket, origin, requested_method, requested)  # type: ignore[union-attr]
        if rule is None:
            return Answer(*render("s3", 403, "AccessForbidden", s3_cors.NOT_ALLOWED))
        return Answer(200, s3_cors.response_headers(rule, origin, requested_method, requested), b"")

    async def _moto_api(
        self, scope: Scope, receive: Receive, send: Send, service: str | None
    ) -> None:
        path: str = scope["path"]
        if not self.guard.moto_api or path not in MOTO_API_ALLOWED:
            # What S3 says about a bucket named "moto-api" that does not exist.
            answer = Answer(
                *render(service, 404, "NoSuchBucket", "The specified bucket does not exist")
                if protocol_of(service) == "rest-xml"
                else render(service, 404, "UnknownOperationException", f"No operation at {path}.")
            )
            await answer.send(send)
            return
        if path == "/moto-api/reset":
            if scope["method"] != "POST":
                await send_error(
                    send, 405, "MethodNotAllowed", "POST /moto-api/reset resets state."
                )
                return
            if self.guard.reset is None:
                message = "This build cannot reset every store in one step."
                await send_error(send, 501, "NotImplemented", message)
                return
            await anyio.to_thread.run_sync(self.guard.reset)
            await Answer(200, [(b"content-type", b"application/json")], b'{"status": "ok"}').send(
                send
            )
            return
        await self.moto(scope, receive, send)


@dataclass
class Guard:
    """What the edge refuses before routing; the defaults are those of a server without flags."""

    hosts: HostPolicy = field(default_factory=lambda: HostPolicy("127.0.0.1"))
    origins: OriginPolicy = field(default_factory=OriginPolicy)
    cors: s3_cors.BucketCors | None = None
    verifier: sigv4.SignatureVerifier | None = None
    moto_api: bool = False
    reset: Callable[[], None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, s3: Any, reset: Callable[[], None] | None) -> Guard:
        """`s3`: the S3 store (it reads the buckets' CORS rules)."""
        keys = sigv4.parse_keys(settings.access_keys)
        return cls(
            hosts=HostPolicy(settings.host, settings.host_names()),
            origins=OriginPolicy(settings.origin_list()),
            cors=s3_cors.BucketCors(s3.cors_rules),
            verifier=sigv4.SignatureVerifier(keys) if keys else None,
            moto_api=settings.moto_api,
            reset=reset,
        )


_EXPOSED = b"x-amzn-requestid, x-amzn-errortype, x-amz-request-id, etag, x-amz-version-id"


def _trusted_cors(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", _EXPOSED),
        (b"vary", b"Origin"),
    ]


def _trusted_preflight(origin: str, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [
        *_trusted_cors(origin),
        (b"access-control-allow-methods", b"GET, HEAD, POST, PUT, DELETE"),
        (
            b"access-control-allow-headers",
            headers.get("access-control-request-headers", "").encode("latin-1"),
        ),
        (b"access-control-max-age", b"600"),
    ]


def _bucket_of(path: str, host: str | None, hosts: HostPolicy) -> str:
    """The bucket of an S3 request: virtual-hosted (`<bucket>.localhost`) or path-style."""
    if host is not None:
        bucket = hosts.bucket_of(host)
        if bucket:
            return bucket
    return path.lstrip("/").split("/", 1)[0]
