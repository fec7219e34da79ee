"""Where a request goes: the edge's classification of a request by its path, its SigV4
credential scope and its X-Amz-Target, before any app sees it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from starlette.types import Scope

from emulator.aws.context import credential_scope

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


HEALTH_PATH = ADMIN_PREFIX + "health"


def encoded_slash_endpoint(scope: Scope, service: str | None) -> bool:
    """`/endpoints/a%2Fb/invocations`: an invocation whose endpoint name has a `/` in it."""
    if service not in ("sagemaker", None):
        return False
    raw: bytes = scope.get("raw_path") or b""
    parts = raw.split(b"?", 1)[0].split(b"/")
    return len(parts) == 4 and parts[1] == b"endpoints" and b"%2f" in parts[2].lower()


def request_headers(scope: Scope) -> dict[str, str]:
    """The headers routing reads, lower-case names, the first of each."""
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
