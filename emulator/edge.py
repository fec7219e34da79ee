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
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import s3_cors
from emulator.aws import sigv4
from emulator.aws.context import credential_scope
from emulator.aws.protocol_errors import protocol_of, render
from emulator.config import Settings
from emulator.hosts import HostPolicy
from emulator.origins import Origin, OriginPolicy

log = logging.getLogger(__name__)

SERVICE_SCOPE_KEY = "emulator.service"
"""ASGI scope key where the edge leaves the signing service it found (or None)."""

ADMIN_PREFIX = "/_emulator/"


class Route(StrEnum):
    CONTROL = "control"
    RUNTIME = "runtime"
    ADMIN = "admin"
    MOTO = "moto"
    MOTO_API = "moto-api"
    BAD_SIGNATURE = "bad-signature"
    WRONG_SCOPE = "wrong-scope"
    """A SageMaker X-Amz-Target on a request signed for another service."""
    UNKNOWN_TARGET = "unknown-target"
    """An unsigned request with an X-Amz-Target that is not SageMaker's."""
    BAD_ENDPOINT_NAME = "bad-endpoint-name"
    """An invocation path whose endpoint name holds an encoded `/` (`a%2Fb`)."""


def signing_service(authorization: str | None, query_string: str) -> str | None:
    """The service of the SigV4 credential scope, lower-cased, or None for an unsigned request."""
    scope = credential_scope(authorization, query_string)
    return None if scope is None else scope.service


def is_invocation_path(path: str) -> bool:
    parts = path.split("/")
    # "", "endpoints", name, "invocations" (or "invocations-response-stream", "async-invocations")
    return len(parts) == 4 and parts[1] == "endpoints" and bool(parts[2])


MOTO_API_PREFIX = "/moto-api"
MOTO_API_ALLOWED = frozenset({"/moto-api/reset", "/moto-api/data.json"})
"""With --moto-api: what a user of moto's server mode expects. The recorder (writes files into
the working directory), replay (sends requests wherever the Host header says), seeding and the
dashboard stay off."""


def target_service(target: str) -> str:
    """`SageMaker.ListModels` -> `sagemaker`; the prefix, case-folded, of an X-Amz-Target."""
    return target.split(".", 1)[0].lower()


def classify(path: str, headers: dict[str, str], query_string: str = "") -> Route:
    """Where a request goes. `headers` has lower-case names."""
    if path.startswith(ADMIN_PREFIX) or path == ADMIN_PREFIX.rstrip("/"):
        return Route.ADMIN
    if path == MOTO_API_PREFIX or path.startswith(MOTO_API_PREFIX + "/"):
        return Route.MOTO_API
    authorization = headers.get("authorization")
    service = signing_service(authorization, query_string)
    if service is None and authorization and authorization.startswith("AWS4-"):
        # A SigV4 header without a usable credential scope: AWS answers 400, not 500.
        return Route.BAD_SIGNATURE
    target = headers.get("x-amz-target")
    if service == "sagemaker":
        return Route.RUNTIME if is_invocation_path(path) else Route.CONTROL
    if target is not None and target_service(target) == "sagemaker":
        # SageMaker's target signed for another service: the credential names the wrong service.
        return Route.CONTROL if service is None else Route.WRONG_SCOPE
    if service is None:
        # Unsigned requests: ours only when they are unmistakably SageMaker's.
        if is_invocation_path(path):
            return Route.RUNTIME
        if target is not None:
            # S3 never sends X-Amz-Target; without a scope nothing says which service it is for.
            return Route.UNKNOWN_TARGET
    return Route.MOTO


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
        headers = _headers(scope)
        query_string = scope.get("query_string", b"").decode("latin-1")
        path: str = scope["path"]
        route = classify(path, headers, query_string)
        service = signing_service(headers.get("authorization"), query_string)
        scope[SERVICE_SCOPE_KEY] = service
        if route in (Route.CONTROL, Route.MOTO) and _encoded_slash_endpoint(scope, service):
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
            if isinstance(decision, _Answer):
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
                await _error(tracking_send, 400, "IncompleteSignatureException", _NO_SCOPE)
            elif route is Route.WRONG_SCOPE:
                await _error(tracking_send, 403, "InvalidSignatureException", _WRONG_SCOPE)
            elif route is Route.BAD_ENDPOINT_NAME:
                await _invalid_endpoint_name(scope, receive, tracking_send)
            elif route is Route.UNKNOWN_TARGET:
                target = headers.get("x-amz-target", "")
                message = f"Unknown or unsigned X-Amz-Target {target!r}: sign the request."
                await _error(tracking_send, 400, "UnknownOperationException", message)
            else:
                await self.ours(scope, receive, tracking_send)
        except Exception:
            # Last line of defence: the trace goes to the log, the client gets AWS's shape.
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _error(send, 500, "InternalFailure", "An internal error occurred.")

    async def _guard(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        route: Route,
        service: str | None,
    ) -> _Answer | tuple[list[tuple[bytes, bytes]], Receive]:
        """An answer that ends the request, or the CORS headers to add and the body's source."""
        guard = self.guard
        method: str = scope["method"]
        json_shaped = "x-amz-target" in headers or route in (Route.CONTROL, Route.RUNTIME)

        def refuse(status: int, code: str | None, message: str) -> _Answer:
            protocol = "json" if json_shaped else protocol_of(service)
            if code is None:
                code = "AccessDeniedException" if protocol.endswith("json") else "AccessDenied"
            return _Answer(*render(service, status, code, message, json_shaped=json_shaped))

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
                    return _Answer(200, _trusted_preflight(origin_header, headers), b"")
                extra = _trusted_cors(origin_header)
        if guard.verifier is None or (route is Route.ADMIN and scope["path"] == HEALTH_PATH):
            return extra, receive
        body: bytes | None = None
        if guard.verifier.needs_body(_signed_request(scope, None)):
            body = await _read_all(receive)
            if body is None:
                return _Answer(400, [], b"")  # the client went away
        failure = guard.verifier.verify(_signed_request(scope, body), service)
        if failure is not None:
            code, message = sigv4.error_for(
                failure, "json" if json_shaped else protocol_of(service)
            )
            return refuse(403, code, message)
        return extra, (_replay(body, receive) if body is not None else receive)

    def _s3_preflight(self, bucket: str, origin: str, headers: dict[str, str]) -> _Answer:
        requested_method = headers.get("access-control-request-method", "")
        requested = [
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        rules = self.guard.cors.rules(bucket) if self.guard.cors is not None else None
        if not rules:
            return _Answer(*render("s3", 403, "AccessForbidden", s3_cors.NOT_ENABLED))
        rule = self.guard.cors.match(bucket, origin, requested_method, requested)  # type: ignore[union-attr]
        if rule is None:
            return _Answer(*render("s3", 403, "AccessForbidden", s3_cors.NOT_ALLOWED))
        return _Answer(
            200, s3_cors.response_headers(rule, origin, requested_method, requested), b""
        )

    async def _moto_api(
        self, scope: Scope, receive: Receive, send: Send, service: str | None
    ) -> None:
        path: str = scope["path"]
        if not self.guard.moto_api or path not in MOTO_API_ALLOWED:
            # What S3 says about a bucket named "moto-api" that does not exist.
            answer = _Answer(
                *render(service, 404, "NoSuchBucket", "The specified bucket does not exist")
                if protocol_of(service) == "rest-xml"
                else render(service, 404, "UnknownOperationException", f"No operation at {path}.")
            )
            await answer.send(send)
            return
        if path == "/moto-api/reset":
            if scope["method"] != "POST":
                await _error(send, 405, "MethodNotAllowed", "POST /moto-api/reset resets state.")
                return
            if self.guard.reset is None:
                message = "This build cannot reset every store in one step."
                await _error(send, 501, "NotImplemented", message)
                return
            await anyio.to_thread.run_sync(self.guard.reset)
            await _Answer(200, [(b"content-type", b"application/json")], b'{"status": "ok"}').send(
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


@dataclass
class _Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    async def send(self, send: Send) -> None:
        headers = list(self.headers)
        if not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


HEALTH_PATH = ADMIN_PREFIX + "health"
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


def _encoded_slash_endpoint(scope: Scope, service: str | None) -> bool:
    """`/endpoints/a%2Fb/invocations`: an invocation whose endpoint name has a `/` in it."""
    if service not in ("sagemaker", None):
        return False
    raw: bytes = scope.get("raw_path") or b""
    parts = raw.split(b"?", 1)[0].split(b"/")
    return len(parts) == 4 and parts[1] == b"endpoints" and b"%2f" in parts[2].lower()


async def _invalid_endpoint_name(scope: Scope, receive: Receive, send: Send) -> None:
    """The runtime's own ValidationError for the name, worded by the model's constraints."""
    from emulator.api import runtime
    from emulator.aws.errors import ValidationError, ValidationException
    from emulator.aws.specs import SAGEMAKER_RUNTIME
    from emulator.aws.validate import validate_input

    raw: bytes = scope.get("raw_path") or b""
    name = unquote(raw.split(b"?", 1)[0].split(b"/")[2].decode("latin-1"))
    message = f"Value '{name}' at 'endpointName' failed to satisfy constraint."
    try:
        validate_input(runtime.OPERATION, {"EndpointName": name, "Body": b""}, SAGEMAKER_RUNTIME)
    except ValidationException as exc:
        message = exc.message
    await runtime.error_response(ValidationError(message))(scope, receive, send)


def _signed_request(scope: Scope, body: bytes | None) -> sigv4.SignedRequest:
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    return sigv4.SignedRequest(
        method=scope["method"],
        raw_path=raw.split(b"?", 1)[0].decode("latin-1"),
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=[
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope.get("headers", ())
        ],
        body=body,
    )


async def _read_all(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


_NO_SCOPE = (
    "Authorization header requires a 'Credential' parameter of the form "
    "AKID/date/region/service/aws4_request."
)
_WRONG_SCOPE = "Credential should be scoped to correct service: 'sagemaker'."


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
        key = name.decode("latin-1").lower()
        if key in _WANTED and key not in wanted:
            wanted[key] = raw.decode("latin-1")
    return wanted


_WANTED = frozenset(
    {
        "authorization",
        "x-amz-target",
        "host",
        "origin",
        "sec-fetch-site",
        "access-control-request-method",
        "access-control-request-headers",
    }
)
