"""ASGI -> WSGI bridge to moto's server app, with write-through persistence of S3.

moto's server is a WSGI (Flask) app. This bridge reads the request body into a spooled temporary
file (large S3 uploads go to disk, not into one bytes object), builds the environ the way
werkzeug's own server does (moto reads RAW_URI and keeps underscores of x-amz-meta-* names), runs
moto in a worker thread under the lock of the service's store, and persists S3, Logs and
CloudWatch metrics before the response is sent, so an acknowledged write survives `kill -9`.
Before a CloudWatch request, the endpoint metrics counted so far are published, so a read sees
them without waiting for the minute's flush. A write the disk refuses is
undone in moto by the store and answered with the protocol's own retryable error (S3: an XML
`ServiceUnavailable`; Logs: a JSON `ServiceUnavailableException`), never a half-stored state.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import tempfile
import urllib.parse
from collections.abc import Callable
from typing import IO, Any
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

import anyio.to_thread
from starlette.types import Receive, Scope, Send

from emulator.aws import call_events
from emulator.aws.protocol_errors import internal_failure, not_implemented, request_protocol
from emulator.routing import SERVICE_SCOPE_KEY
from emulator.storage import iam_simulation, moto_internals
from emulator.storage.call_history import CallHistory
from emulator.storage.logs import LogStore
from emulator.storage.metrics import MetricStore
from emulator.storage.s3 import S3Store
from emulator.storage.space import DiskFull, is_disk_full

log = logging.getLogger(__name__)

WsgiApp = moto_internals.WsgiApp
_SPOOL_BYTES = 16 * 1024 * 1024
_MUTATING = frozenset({"PUT", "POST", "DELETE", "PATCH"})
_Response = tuple[int, list[tuple[bytes, bytes]], list[bytes]]
_SCOPE_REGION = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")
# Logs operations that change nothing (the others are followed by a sync of their group).
_LOGS_READ_PREFIXES = ("Describe", "Get", "List", "Filter", "Test", "Start", "Stop")
_FORM = "application/x-www-form-urlencoded"
_ACTION_SCAN_BYTES = 64 * 1024


def moto_app() -> WsgiApp:
    """moto's server app: one Flask app per service, chosen by the request (as `moto_server`)."""
    return moto_internals.server_app()


class MotoBridge:
    def __init__(
        self,
        app: WsgiApp,
        s3: S3Store,
        logs: LogStore,
        metrics: MetricStore | None = None,
        before_metrics_request: Callable[[], None] | None = None,
        calls: CallHistory | None = None,
    ) -> None:
        self.app = app
        self.calls = calls
        """Where each successful S3 or Logs change is kept (the console's call history)."""
        self.s3 = s3
        self.logs = logs
        self.metrics = metrics
        self.before_metrics_request = before_metrics_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as body:
            length = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                if chunk:
                    body.write(chunk)
                    length += len(chunk)
                more = message.get("more_body", False)
            body.seek(0)
            environ = _environ(scope, body, length)
            service = scope.get(SERVICE_SCOPE_KEY)
            status, headers, chunks = await anyio.to_thread.run_sync(self._run, environ, service)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        # Chunk by chunk: a large S3 GET is not copied into one more bytes object.
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
        if not chunks:
            await send({"type": "http.response.body", "body": b""})

    def _run(self, environ: dict[str, Any], service: str | None) -> _Response:
        is_s3 = service in ("s3", None)  # moto treats unsigned requests as S3 too
        lock: contextlib.AbstractContextManager[Any]
        if is_s3:
            lock = self.s3.lock
        elif service == "logs":
            lock = self.logs.lock
        elif service == "monitoring" and self.metrics is not None:
            lock = self.metrics.lock
            if self.before_metrics_request is not None:
                # Outside the store's lock: the flush takes it itself, after its own.
                self.before_metrics_request()
        else:
            lock = contextlib.nullcontext()
        started: list[Any] = []
        logs_request: tuple[str, dict[str, Any], str] | None = None

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            started[:] = [status, headers]

        if service == "iam":
            params = _form_params(environ)
            action = params.get("Action", [""])[0]
            if action in iam_simulation.OPERATIONS:
                status, headers, body = iam_simulation.simulate(action, params)
                return status, headers, [body]
        if is_s3 and _has_nul_key(environ):
            return _s3_error(
                400,
                "InvalidArgument",
                "Object key names may not contain the NUL character (U+0000).",
            )
        try:
            with lock:
                logs_request = self._logs_request(environ) if service == "logs" else None
                if logs_request is not None:
                    self.logs.load_for_request(*logs_request)
                if service == "monitoring" and self.metrics is not None:
                    self.metrics.load_region(self._signed_region(environ, self.metrics.region))
                result = self.app(environ, start_response)
                try:
                    chunks = [bytes(chunk) for chunk in result]
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
                if is_s3 and environ["REQUEST_METHOD"] in _MUTATING:
                    self._persist_s3(environ)
                if logs_request is not None:
                    self._persist_logs(*logs_request)
                if service == "monitoring" and self.metrics is not None:
                    self.metrics.sync(self._signed_region(environ, self.metrics.region))
        except ExpatError:
            # A request document that is not XML 1.0 (a raw NUL in a DeleteObjects key, say).
            return _s3_error(
                400,
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our "
                "published schema",
            )
        except Exception as exc:
            if is_disk_full(exc):
                log.error(
                    "refused %s %s: the disk is full", environ["REQUEST_METHOD"], path_of(environ)
                )
                return _disk_full_response(is_s3)
            return _moto_failure(environ, service, exc)
        status_line, header_list = started
        headers = [
            (name.lower().encode("latin-1"), str(value).encode("latin-1"))
            for name, value in header_list
        ]
        status = int(status_line.split(" ", 1)[0])
        if self.calls is not None and status < 300:
            self._record(environ, is_s3, logs_request, dict(headers))
        return status, headers, chunks

    def _record(
        self,
        environ: dict[str, Any],
        is_s3: bool,
        logs_request: tuple[str, dict[str, Any], str] | None,
        headers: dict[bytes, bytes],
    ) -> None:
        """A successful change in the call history (never fails the call it records)."""
        assert self.calls is not None
        event: call_events.CallEvent | None = None
        # The id the client reads (botocore: S3's x-amz-request-id, else x-amzn-RequestId).
        found = headers.get(b"x-amz-request-id") or headers.get(b"x-amzn-requestid")
        request_id = found.decode("latin-1") if found else None
        try:
            if logs_request is not None:
                event = call_events.logs_event(*logs_request, request_id)
            elif is_s3 and environ["REQUEST_METHOD"] in _MUTATING:
                path = path_of(environ)
                bucket, _, key = path.lstrip("/").partition("/")
                # Path-style only: a virtual-hosted request's path names no bucket (its first
                # segment is no bucket we know; a deleted bucket is known no more).
                deleted_bucket = environ["REQUEST_METHOD"] == "DELETE" and not key
                if not (self.s3.known_bucket(bucket) or deleted_bucket):
                    return
                event = call_events.s3_event(
                    environ["REQUEST_METHOD"],
                    path,
                    str(environ.get("QUERY_STRING", "")),
                    _request_headers(environ),
                    lambda: _body_start(environ),
                    self._signed_region(environ, self.s3.region),
                    request_id,
                )
        except Exception:
            log.exception("call not recorded: %s %s", environ["REQUEST_METHOD"], path_of(environ))
            return
        self.calls.record(event)

    def _logs_request(self, environ: dict[str, Any]) -> tuple[str, dict[str, Any], str] | None:
        """(operation target, JSON body, region) of a Logs request; the body is read and rewound."""
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        stream: IO[bytes] = environ["wsgi.input"]
        try:
            body = json.loads(stream.read() or b"{}")
        except ValueError:
            body = {}
        finally:
            stream.seek(0)
        region = self._signed_region(environ, self.logs.region)
        return target, body if isinstance(body, dict) else {}, region

    @staticmethod
    def _signed_region(environ: dict[str, Any], default: str) -> str:
        """The region of the request's SigV4 scope (where moto puts its state), else `default`."""
        found = _SCOPE_REGION.search(str(environ.get("HTTP_AUTHORIZATION", "")))
        return found.group(1) if found else default

    def _persist_logs(self, target: str, body: dict[str, Any], region: str) -> None:
        if target.rsplit(".", 1)[-1].startswith(_LOGS_READ_PREFIXES):
            return
        group = body.get("logGroupName") or body.get("logGroupIdentifier")
        if isinstance(group, str) and ":log-group:" not in group:
            self.logs.sync_group(group, region)
        else:
            self.logs.sync_region(region)

    def _persist_s3(self, environ: dict[str, Any]) -> None:
        path: str = environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace")
        bucket = path.lstrip("/").split("/", 1)[0]
        if bucket and self.s3.known_bucket(bucket):
            self.s3.sync_bucket(bucket)
        else:
            # Virtual-host style or an unexpected path: sync everything (rare, and still correct).
            self.s3.sync_buckets()


def path_of(environ: dict[str, Any]) -> str:
    path: str = environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace")
    return path


def _body_start(environ: dict[str, Any]) -> bytes:
    stream: IO[bytes] = environ["wsgi.input"]
    stream.seek(0)
    return stream.read(call_events.MAX_PAYLOAD_CHARS)


def _has_nul_key(environ: dict[str, Any]) -> bool:
    """A NUL in the object key (path) or copy source: XML 1.0 cannot carry it in a listing."""
    source = str(environ.get("HTTP_X_AMZ_COPY_SOURCE", ""))
    return "\x00" in path_of(environ) or "%00" in source or "\x00" in source


def _moto_failure(environ: dict[str, Any], service: str | None, exc: Exception) -> _Response:
    """moto raised: an error in the protocol the client spoke, never a body it cannot parse.

    moto raises NotImplementedError for an operation (or a feature of one) it lacks; anything
    else is a fault of the emulator, logged with its trace."""
    protocol = request_protocol(service, _request_headers(environ))
    if isinstance(exc, NotImplementedError):
        operation = _operation(environ)
        log.warning("not implemented: %s (%s)", operation, exc)
        status, headers, body = not_implemented(service, protocol, operation)
    else:
        log.exception("moto failed on %s %s", environ["REQUEST_METHOD"], path_of(environ))
        status, headers, body = internal_failure(service, protocol)
    return status, headers, [body]


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers by lower-case name (those request_protocol looks at)."""
    headers = {
        key[5:].lower().replace("_", "-"): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _operation(environ: dict[str, Any]) -> str:
    """The operation a request asks for, as the client named it, for the error message."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return target.rsplit(".", 1)[-1]
    action = _query_action(str(environ.get("QUERY_STRING", "")))
    if action is None and str(environ.get("CONTENT_TYPE", "")).startswith(_FORM):
        stream: IO[bytes] = environ["wsgi.input"]
        stream.seek(0)
        action = _query_action(stream.read(_ACTION_SCAN_BYTES).decode("latin-1"))
    return action or f"{environ['REQUEST_METHOD']} {path_of(environ)}"


def _form_params(environ: dict[str, Any]) -> dict[str, list[str]]:
    """A query-protocol request's parameters (query string and form body); the body is rewound."""
    params = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")))
    if str(environ.get("CONTENT_TYPE", "")).startswith(_FORM):
        stream: IO[bytes] = environ["wsgi.input"]
        try:
            form = urllib.parse.parse_qs(stream.read().decode("utf-8", "replace"))
        finally:
            stream.seek(0)
        for name, values in form.items():
            params.setdefault(name, []).extend(values)
    return params


def _query_action(form: str) -> str | None:
    actions = urllib.parse.parse_qs(form).get("Action")
    return actions[0] if actions else None


def _s3_error(status: int, code: str, message: str) -> _Response:
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
    )
    return status, [(b"content-type", b"application/xml")], [xml.encode()]


def _disk_full_response(is_s3: bool) -> _Response:
    message = DiskFull().message
    if is_s3:
        return _s3_error(503, "ServiceUnavailable", message)
    # CloudWatch Logs' own code for this (a 500 in its API reference).
    code = "ServiceUnavailableException"
    payload = json.dumps({"__type": code, "message": message}).encode()
    return (
        500,
        [(b"content-type", b"application/x-amz-json-1.1"), (b"x-amzn-errortype", code.encode())],
        [payload],
    )


def _environ(scope: Scope, body: IO[bytes], length: int) -> dict[str, Any]:
    path = scope["path"].encode("utf-8").decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    raw_uri = raw_path.decode("latin-1") + (f"?{query}" if query else "")
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client") or ("127.0.0.1", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_URI": raw_uri,
        "RAW_URI": raw_uri,
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": client[1],
        "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    preserved: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        lower = name.lower()
        if lower == "content-length" or lower == "transfer-encoding":
            continue  # the body has been read whole: CONTENT_LENGTH is its real length
        if lower == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
            if moto_internals.preserves_header_name(name):
                preserved[key] = name
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ[moto_internals.PRESERVED_HEADER_NAMES_KEY] = preserved
    return environ
