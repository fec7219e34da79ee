"""What the edge answers itself, and how it reads a request's body before the app does (to
verify its signature) and hands it on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.types import Message, Receive, Scope, Send

from emulator.aws import sigv4


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    async def send(self, send: Send) -> None:
        headers = list(self.headers)
        if not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


async def invalid_endpoint_name(scope: Scope, receive: Receive, send: Send) -> None:
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


def signed_request(scope: Scope, body: bytes | None) -> sigv4.SignedRequest:
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


async def read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


NO_SCOPE = (
    "Authorization header requires a 'Credential' parameter of the form "
    "AKID/date/region/service/aws4_request."
)
WRONG_SCOPE = "Credential should be scoped to correct service: 'sagemaker'."


async def send_error(send: Send, status: int, code: str, message: str) -> None:
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
