"""Asynchronous inference: InvokeEndpointAsync queues a request, the endpoint's own containers
process the queue, and the answer lands in S3 (plus an SNS notification when configured).

The real service's behaviour: docs/sagemaker-facts.md#asynchronous-inference. InvokeEndpointAsync
returns at once with the inference id and the S3 locations. Each queued
request is persisted in the record store until it is done, so a request queued or in flight when
the emulator stops is processed once the endpoint serves again after the restart. A scheduler
thread hands requests to the endpoint in arrival order, at most
`ClientConfig.MaxConcurrentInvocationsPerInstance` times the instances in service at a time (the
router sends each to the instance with the fewest outstanding requests);
a request that waited longer than its RequestTTLSeconds expires, and one that the container does
not answer within InvocationTimeoutSeconds fails. Both write the failure output.

Outputs: `<S3OutputPath>[/<S3OutputPathExtension>]/<Filename or InferenceId.out>`, with the
container's Content-Type; failures: `<S3FailurePath or S3OutputPath>[/<extension>]/
<InferenceId>-error.out`, holding the reason as text.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from emulator.aws.arns import ACCOUNT_ID
from emulator.aws.errors import AwsError, ValidationError
from emulator.services.context import ServiceContext
from emulator.services.invocation import InvocationRouter
from emulator.services.ports import Notifier
from emulator.services.staging import StagingError, parse_s3_uri
from emulator.state.records import EndpointStatus, now

log = logging.getLogger(__name__)

KIND = "async-invocation"

DEFAULT_CONCURRENCY = 4
"""MaxConcurrentInvocationsPerInstance when the config names none (AWS picks a value itself)."""
DEFAULT_TTL_SECONDS = 21600
DEFAULT_INVOCATION_TIMEOUT_SECONDS = 900
EXPIRED_REASON = "The request expired: it waited in the queue longer than its RequestTTLSeconds."
_SCHEDULER_TICK_SECONDS = 0.1
_CLOSE_WAIT_SECONDS = 10.0


@dataclass
class AsyncRequest:
    """One queued InvokeEndpointAsync request, as persisted until it is done."""

    key: str
    endpoint_name: str
    inference_id: str
    received_time: datetime
    output_location: str
    failure_location: str
    input_location: str | None = None
    body_b64: str | None = None
    """An inline Body (at most 128,000 bytes), base64."""
    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    invocation_timeout_seconds: int = DEFAULT_INVOCATION_TIMEOUT_SECONDS
    notification: dict[str, Any] = field(default_factory=dict)
    """The endpoint's NotificationConfig when the request came in."""


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    content_type: str
    body: bytes
    reason: str = ""


class AsyncInferenceService:
    def __init__(
        self,
        context: ServiceContext,
        router: InvocationRouter,
        endpoint_status: Callable[[str], str | None],
        async_config: Callable[[str], dict[str, Any] | None],
        notifier: Notifier,
    ) -> None:
        """`endpoint_status` and `async_config` read an endpoint (hosting's); `notifier` publishes
        the endpoint's SNS notifications."""
        self._region = context.region
        self._s3 = context.s3
        self._store = context.store
        self._router = router
        self._endpoint_status = endpoint_status
        self._async_config = async_config
        self._notifier = notifier
        self._cond = threading.Condition()
        self._queues: dict[str, deque[AsyncRequest]] = {}
        self._active: dict[str, int] = {}
        self._workers: set[threading.Thread] = set()
        self._closing = False
        self._scheduler: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Queue again the requests stored before a restart, then start the scheduler."""
        pending = sorted(self._store.load_all(KIND, AsyncRequest), key=lambda r: r.received_time)
        with self._cond:
            for request in pending:
                self._queues.setdefault(request.endpoint_name, deque()).append(request)
        if pending:
            log.info("async inference: %d request(s) queued again after a restart", len(pending))
        self._scheduler = threading.Thread(
            target=self._schedule, name="async-inference", daemon=True
        )
        self._scheduler.start()

    def close(self) -> None:
        """Stop dispatching; requests not done stay stored and run after the next start.

        Requests in flight end when hosting stops the containers: call `join_workers` then,
        before the record store closes.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._scheduler is not None:
            self._scheduler.join(timeout=5)

    def join_workers(self) -> None:
        with self._cond:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout=_CLOSE_WAIT_SECONDS)

    # --- InvokeEndpointAsync --------------------------------------------------------------------

    def invoke(self, endpoint_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Queue one request (validated against the model); returns InferenceId and the output
        and failure locations."""
        status = self._endpoint_status(endpoint_name)
        if status is None:
            raise ValidationError(f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found.")
        config = self._async_config(endpoint_name)
        if config is None:
            raise ValidationError(
                f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is not an asynchronous "
                "inference endpoint: it has no AsyncInferenceConfig (use InvokeEndpoint)."
            )
        if status not in (EndpointStatus.IN_SERVICE.value, EndpointStatus.UPDATING.value):
            raise ValidationError(
                f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is not in service "
                f"(status: {status})."
            )
        body: bytes = params.get("Body") or b""
        input_location = params.get("InputLocation")
        if bool(body) == bool(input_location):
            raise ValidationError(
                "Body and InputLocation are mutually exclusive: provide exactly one of them."
            )
        if input_location and not str(input_location).startswith("s3://"):
            raise ValidationError(
                f'InputLocation "{input_location}" is not an S3 URI (s3://bucket/key).'
            )
        inference_id = params.get("InferenceId") or str(uuid.uuid4())
        output_config = config.get("OutputConfig", {})
        extension = params.get("S3OutputPathExtension")
        output_dir = _join(output_config.get("S3OutputPath", ""), extension)
        failure_dir = _join(
            output_config.get("S3FailurePath") or output_config.get("S3OutputPath", ""),
            extension,
        )
        request = AsyncRequest(
            key=f"{endpoint_name}/{uuid.uuid4().hex}",
            endpoint_name=endpoint_name,
            inference_id=inference_id,
            received_time=now(),
            output_location=f"{output_dir}/{params.get('Filename') or inference_id + '.out'}",
            failure_location=f"{failure_dir}/{inference_id}-error.out",
            input_location=input_location,
            body_b64=base64.b64encode(body).decode() if body else None,
            content_type=params.get("ContentType"),
            accept=params.get("Accept"),
            custom_attributes=params.get("CustomAttributes"),
            ttl_seconds=int(params.get("RequestTTLSeconds", DEFAULT_TTL_SECONDS)),
            invocation_timeout_seconds=int(
                params.get("InvocationTimeoutSeconds", DEFAULT_INVOCATION_TIMEOUT_SECONDS)
            ),
            notification=dict(output_config.get("NotificationConfig", {})),
        )
        with self._cond:
            if self._closing:
                raise ValidationError("The emulator is shutting down.")
            self._store.put(KIND, request.key, request)
            self._queues.setdefault(endpoint_name, deque()).append(request)
            self._cond.notify_all()
        return {
            "InferenceId": inference_id,
            "OutputLocation": request.output_location,
            "FailureLocation": request.failure_location,
        }

    # --- the queue ------------------------------------------------------------------------------

    def _schedule(self) -> None:
        while True:
            with self._cond:
                if self._closing:
                    return
                started = self._dispatch()
                if not started:
                    self._cond.wait(_SCHEDULER_TICK_SECONDS)

    def _dispatch(self) -> bool:
        """Hand queued requests to their endpoints (called with the condition held); True if
        something was handed out."""
        started = False
        for name in list(self._queues):
            queue = self._queues[name]
            if not queue:
                del self._queues[name]
                continue
            status = self._endpoint_status(name)
            if status is None or status == EndpointStatus.FAILED.value:
                # The endpoint is gone or failed: nothing will ever process these requests.
                reason = (
                    f"The endpoint {name} was deleted before the request was processed."
                    if status is None
                    else f"The endpoint {name} failed before the request was processed."
                )
                while queue:
                    self._start(queue.popleft(), reason)
                started = True
                continue
            live = self._router.get(name)
            config = self._async_config(name) or {}
            per_instance = int(
                config.get("ClientConfig", {}).get(
                    "MaxConcurrentInvocationsPerInstance", DEFAULT_CONCURRENCY
                )
            )
            limit = per_instance * max(1, live.instance_count() if live is not None else 1)
            while queue and _expired(queue[0]):
                self._start(queue.popleft(), EXPIRED_REASON)
                started = True
            if live is None:
                continue  # Creating again after a restart: the queue waits for it
            while queue and self._active.get(name, 0) < limit:
                self._start(queue.popleft(), None)
                started = True
        return started

    def _start(self, request: AsyncRequest, failure: str | None) -> None:
        """Run one request in a worker thread (called with the condition held); `failure` set:
        write that failure instead of invoking."""
        if failure is None:
            self._active[request.endpoint_name] = self._active.get(request.endpoint_name, 0) + 1

        def run() -> None:
            try:
                self._process(request, failure)
            except Exception:  # a bug must not kill the worker silently
                log.exception("async inference %s failed in the emulator", request.inference_id)
            finally:
                with self._cond:
                    if failure is None:
                        self._active[request.endpoint_name] -= 1
                    self._workers.discard(worker)
                    self._cond.notify_all()

        worker = threading.Thread(target=run, name=f"async-{request.inference_id}", daemon=True)
        self._workers.add(worker)
        worker.start()

    def _process(self, request: AsyncRequest, failure: str | None) -> None:
        outcome = _failed(failure) if failure is not None else self._invoke(request)
        if outcome is None:
            return  # stopped by a shutdown: stays stored, runs after the restart
        self._finish(request, outcome)

    def _invoke(self, request: AsyncRequest) -> _Outcome | None:
        try:
            body, content_type = self._read_input(request)
        except StagingError as exc:
            return _failed(str(exc))
        try:
            result = self._router.invoke(
                request.endpoint_name,
                body,
                content_type,
                request.accept,
                request.custom_attributes,
                None,
                self._endpoint_status,
                timeout=float(request.invocation_timeout_seconds),
                asynchronous=True,
            )
        except AwsError as exc:
            with self._cond:
                if self._closing:
                    return None
            return _failed(exc.message)
        return _Outcome(True, result.content_type, result.body)

    def _read_input(self, request: AsyncRequest) -> tuple[bytes, str | None]:
        if request.body_b64 is not None:
            return base64.b64decode(request.body_b64), request.content_type
        location = str(request.input_location)
        try:
            bucket, key = parse_s3_uri(location)
            body = self._s3.get_object(bucket, key)
            stored_type = self._s3.content_type(bucket, key)
        except Exception as exc:  # NoSuchKey / NoSuchBucket from the S3 store
            raise StagingError(
                f'Failed to download the request input from "{location}" ({type(exc).__name__}).'
            ) from exc
        # Without a ContentType in the request, the container gets the input object's own.
        return body, request.content_type or stored_type

    def _finish(self, request: AsyncRequest, outcome: _Outcome) -> None:
        """Write the output or the failure, notify, and forget the request."""
        location = request.output_location if outcome.ok else request.failure_location
        written = self._write(location, outcome.body, outcome.content_type)
        if outcome.ok and written is not None:
            # The answer could not be stored: that is a failure too.
            outcome = _failed(f"Failed to upload the response to {location}: {written}")
            location = request.failure_location
            written = self._write(location, outcome.body, outcome.content_type)
        if written is not None:
            log.warning("async inference %s: %s", request.inference_id, written)
        self._notify(request, outcome, location)
        self._store.delete(KIND, request.key)

    def _write(self, location: str, body: bytes, content_type: str) -> str | None:
        try:
            bucket, key = parse_s3_uri(location)
            self._s3.put_object(bucket, key, body, content_type=content_type)
        except Exception as exc:  # NoSuchBucket from the S3 store, a bad location
            return f"{type(exc).__name__}: {exc}"
        return None

    def _notify(self, request: AsyncRequest, outcome: _Outcome, location: str) -> None:
        config = request.notification
        topic = config.get("SuccessTopic") if outcome.ok else config.get("ErrorTopic")
        if not topic:
            return
        request_parameters: dict[str, Any] = {"endpointName": request.endpoint_name}
        if request.content_type:
            request_parameters["contentType"] = request.content_type
        if request.input_location:
            request_parameters["inputLocation"] = request.input_location
        response_parameters: dict[str, Any] = {"contentType": outcome.content_type}
        payload: dict[str, Any] = {
            "awsRegion": self._region,
            "eventTime": _iso(now()),
            "receivedTime": _iso(request.received_time),
            "invocationStatus": "Completed" if outcome.ok else "Failed",
            "requestParameters": request_parameters,
            "responseParameters": response_parameters,
            "inferenceId": request.inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
        if outcome.ok:
            response_parameters["outputLocation"] = location
        else:
            response_parameters["failureLocation"] = location
            payload["failureReason"] = outcome.reason
        problem = self._notifier.publish(self._region, str(topic), json.dumps(payload))
        if problem is not None:
            # A NotificationFailure on AWS: the inference itself still counts as done.
            log.warning(
                "async inference %s: notification failed: %s", request.inference_id, problem
            )


def _failed(reason: str) -> _Outcome:
    return _Outcome(False, "text/plain", reason.encode(), reason)


def _expired(request: AsyncRequest) -> bool:
    return now() > request.received_time + timedelta(seconds=request.ttl_seconds)


def _join(base: str, extension: str | None) -> str:
    base = base.rstrip("/")
    return f"{base}/{extension.strip('/')}" if extension else base


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
