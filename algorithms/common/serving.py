"""The inference HTTP server of the built-in images (stdlib only).

Contract (DG your-algorithms-inference-code.md): listen on 8080, or on ``$SAGEMAKER_BIND_TO_PORT``
in inference pipelines; ``GET /ping`` answers 200 with an empty body; ``POST /invocations``
takes the request body with ``Content-Type`` and ``Accept``; ``GET /execution-parameters`` tells
batch transform how to call us. HTTP/1.1 keep-alive and ``TCP_NODELAY`` keep one-record requests
cheap (the platform reuses connections); one thread per connection.

An invocation error (``InvocationError`` with a 4xx status, e.g. a bad payload or an unsupported
type) answers that status with a plain-text message and the server keeps serving; anything else
answers 500 with the exception's message.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from algorithms.common import logs

DEFAULT_PORT = 8080
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
# Where to listen: every interface inside a container; a subprocess runtime may narrow it.
HOST_ENV = "SAGEMAKER_BIND_TO_HOST"
DEFAULT_HOST = "0.0.0.0"
# Batch transform allows payloads up to 100 MB; refuse anything beyond that outright.
MAX_BODY_BYTES = 100 * 1024 * 1024


class InvocationError(Exception):
    """A request the container refuses, with the HTTP status to answer."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


@dataclass(frozen=True)
class Response:
    body: bytes
    content_type: str


Invoker = Callable[[bytes, "str | None", "str | None"], Response]
"""``(body, content_type, accept) -> Response``; raises ``InvocationError``."""


def execution_parameters() -> dict[str, object]:
    """What ``GET /execution-parameters`` answers (the real pca/kmeans answer is unknown)."""
    return {
        "MaxConcurrentTransforms": max(1, os.cpu_count() or 1),
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


def _handler_class(invoke: Invoker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Small responses must not wait for a delayed ACK (Nagle + delayed ACK = 40 ms).
        disable_nagle_algorithm = True

        def version_string(self) -> str:
            return "sagemaker-emulator-algorithm"

        def log_message(self, format: str, *args: object) -> None:
            # The real images do not log per request; keep stdout for the algorithm's lines.
            return

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send_error_text(self, status: int, message: str) -> None:
            self._send(status, message.encode("utf-8"), "text/plain; charset=utf-8")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/ping":
                self._send(200, b"", "text/plain")
            elif path == "/execution-parameters":
                body = json.dumps(execution_parameters()).encode()
                self._send(200, body, "application/json")
            else:
                self._send_error_text(404, f"Not found: {path}")

        def _read_body(self) -> bytes | None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length_header = self.headers.get("Content-Length")
            if length_header is None:
                return b""
            try:
                length = int(length_header)
            except ValueError:
                self._send_error_text(400, f"Invalid Content-Length: {length_header!r}")
                self.close_connection = True
                return None
            if length < 0 or length > MAX_BODY_BYTES:
                self._send_error_text(413, f"Payload of {length} bytes is too large")
                self.close_connection = True
                return None
            return self.rfile.read(length)

        def _read_chunked(self) -> bytes | None:
            parts: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(65537).split(b";", 1)[0].strip()
                try:
                    chunk = int(line, 16)
                except ValueError:
                    self._send_error_text(400, "Malformed chunked request body")
                    self.close_connection = True
                    return None
                if chunk == 0:
                    while self.rfile.readline(65537).strip():
                        pass
                    return b"".join(parts)
                size += chunk
                if size > MAX_BODY_BYTES:
                    self._send_error_text(413, "Payload is too large")
                    self.close_connection = True
                    return None
                parts.append(self.rfile.read(chunk))
                self.rfile.readline(3)

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            body = self._read_body()
            if body is None:
                return
            if path != "/invocations":
                self._send_error_text(404, f"Not found: {path}")
                return
            try:
                response = invoke(
                    body, self.headers.get("Content-Type"), self.headers.get("Accept")
                )
            except InvocationError as exc:
                self._send_error_text(exc.status, exc.message)
                return
            except Exception as exc:
                logs.get_logger().exception("Error while serving an invocation")
                self._send_error_text(500, f"{type(exc).__name__}: {exc}")
                return
            self._send(200, response.body, response.content_type)

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A burst of new connections (batch transform, benchmarks) must not be refused.
    request_queue_size = 128


def make_server(invoke: Invoker, host: str | None = None, port: int | None = None) -> Server:
    """Bind the server (port 0 picks a free one: read ``server.server_address``)."""
    if host is None:
        host = os.environ.get(HOST_ENV) or DEFAULT_HOST
    if port is None:
        port = int(os.environ.get(PORT_ENV) or DEFAULT_PORT)
    server = Server((host, port), _handler_class(invoke))
    server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return server


def serve_forever(invoke: Invoker) -> None:
    server = make_server(invoke)
    host, port = server.server_address[:2]
    logs.get_logger().info(
        f"Serving on {host!s}:{port} (/ping, /invocations, /execution-parameters)"
    )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
