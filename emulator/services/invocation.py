"""InvokeEndpoint: route a request to an instance of the endpoint and relay its answer.

The hot path of the emulator. It takes no service-wide lock: what an endpoint serves is a
snapshot (emulator.services.live) swapped atomically by hosting, and each container has a pool of
keep-alive HTTP/1.1 connections with TCP_NODELAY (emulator.workloads.container_client).

A request picks a variant by weight (or TargetVariant), then an instance by the variant's routing
strategy. An instance whose container accepts no connection got nothing of the request: it leaves
rotation (the health monitor replaces it) and the request goes to another instance.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from emulator.aws.arns import ACCOUNT_ID
from emulator.aws.errors import ModelError, ServiceUnavailableRuntime, ValidationError
from emulator.services.live import LiveEndpoint, LiveInstance, LiveVariant
from emulator.workloads.container_client import ContainerUnreachable, StreamedAnswer

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
STREAM_PATH = "/invocations-response-stream"
"""Where a container that streams takes InvokeEndpointWithResponseStream's requests."""


@dataclass(frozen=True)
class InvokeResult:
    body: bytes
    content_type: str
    invoked_production_variant: str
    custom_attributes: str | None = None


class StreamFailure(Exception):
    """The stream broke after it started: a ModelStreamError event with `error_code`."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


class ResponseStream:
    """A container's streamed answer being relayed; close() gives its instance back."""

    def __init__(self, answer: StreamedAnswer, instance: LiveInstance, variant: str) -> None:
        self._answer = answer
        self._instance = instance
        self.invoked_production_variant = variant
        self.content_type = answer.headers.get("Content-Type", "application/octet-stream")
        self.custom_attributes = answer.headers.get(CUSTOM_ATTRIBUTES_HEADER)
        self._closed = False

    def chunks(self) -> Iterator[bytes]:
        """The body's parts as the container sends them; raises StreamFailure."""
        try:
            yield from self._answer.chunks()
        except TimeoutError:
            raise StreamFailure(
                "ModelInvocationTimeExceeded",
                "The model failed to finish sending the response within the timeout period.",
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise StreamFailure(
                "StreamBroken",
                f"The connection to the model was closed before the response ended "
                f"({type(exc).__name__}).",
            ) from None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._answer.close()
            self._instance.leave()


def _container_headers(
    content_type: str | None, accept: str | None, custom_attributes: str | None
) -> dict[str, str]:
    # SageMaker passes on only the headers the invocation supports
    # (docs/sagemaker-facts.md#inference-container).
    headers: dict[str, str] = {}
    if content_type:
        headers["Content-Type"] = content_type
    if accept:
        headers["Accept"] = accept
    if custom_attributes:
        headers[CUSTOM_ATTRIBUTES_HEADER] = custom_attributes
    return headers


class InvocationRouter:
    """Endpoint name -> LiveEndpoint, and the InvokeEndpoint call itself."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._live: dict[str, LiveEndpoint] = {}

    def get(self, name: str) -> LiveEndpoint | None:
        return self._live.get(name)

    def items(self) -> list[tuple[str, LiveEndpoint]]:
        return list(self._live.items())

    def swap(self, name: str, endpoint: LiveEndpoint | None) -> LiveEndpoint | None:
        """Atomically replace what an endpoint serves; returns the previous variants."""
        old = self._live.get(name)
        if endpoint is None:
            self._live.pop(name, None)
        else:
            self._live[name] = endpoint
        return old

    def _live_endpoint(
        self,
        endpoint_name: str,
        status_of: Callable[[str], str | None] | None,
        asynchronous: bool,
    ) -> LiveEndpoint:
        endpoint = self._live.get(endpoint_name)
        if endpoint is None:
            state = status_of(endpoint_name) if status_of is not None else None
            if state is None:
                raise ValidationError(
                    f"Endpoint {endpoint_name} of account {ACCOUNT_ID} not found."
                )
            raise ValidationError(
                f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is not in service "
                f"(status: {state})."
            )
        if endpoint.asynchronous and not asynchronous:
            raise ValidationError(
                f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is an asynchronous "
                "inference endpoint: it can only receive asynchronous invocations "
                "(InvokeEndpointAsync)."
            )
        if asynchronous and not endpoint.asynchronous:
            raise ValidationError(
                f"Endpoint {endpoint_name} of account {ACCOUNT_ID} is not an asynchronous "
                "inference endpoint: it has no AsyncInferenceConfig (use InvokeEndpoint)."
            )
        return endpoint

    def _enter(
        self,
        endpoint_name: str,
        target_variant: str | None,
        status_of: Callable[[str], str | None] | None,
        asynchronous: bool,
        tried: list[LiveInstance],
    ) -> tuple[LiveVariant, LiveInstance]:
        """The instance to send to, already counted in. An instance picked just as it leaves
        rotation (an update swapping its variant out, a scale-in) refuses: pick again from what
        the endpoint serves now."""
        while True:
            endpoint = self._live_endpoint(endpoint_name, status_of, asynchronous)
            variant = endpoint.pick(target_variant)
            if variant is None:
                raise ValidationError(
                    f'The target variant "{target_variant}" does not exist on endpoint '
                    f"{endpoint_name}."
                )
            instance = variant.pick(tried)
            if instance is not None and instance.enter():
                return variant, instance
            if self._live.get(endpoint_name) is not endpoint:
                continue  # swapped meanwhile: the new variants take it
            if instance is None:
                raise ServiceUnavailableRuntime(
                    f"No instance of variant {variant.name} of endpoint {endpoint_name} is "
                    "available; retry the request."
                    if not variant.retired
                    else f"Endpoint {endpoint_name} is changing; retry the request."
                )

    def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None,
        target_variant: str | None,
        status_of: Callable[[str], str | None] | None = None,
        timeout: float | None = None,
        asynchronous: bool = False,
    ) -> InvokeResult:
        """Send one request to an instance. `timeout` (seconds) replaces the 60 s answer timeout
        (asynchronous invocations allow up to an hour); `asynchronous` says the request comes
        from the asynchronous queue, which only an asynchronous endpoint takes."""
        headers = _container_headers(content_type, accept, custom_attributes)
        tried: list[LiveInstance] = []
        while True:
            variant, instance = self._enter(
                endpoint_name, target_variant, status_of, asynchronous, tried
            )
            try:
                status, response_headers, data = instance.pool.request(
                    "POST", "/invocations", body, headers, timeout
                )
                break
            except ContainerUnreachable:
                # Nothing was sent: out of rotation (the monitor looks at it), another instance.
                instance.unreachable = True
                tried.append(instance)
            except TimeoutError as exc:
                raise ModelError(
                    f"Your invocation timed out while waiting for a response from container "
                    f"{variant.name}. Review the latency metrics for each container in Amazon "
                    "CloudWatch, resolve the issue, and try again.",
                    408,
                    "",
                    self._log_group_arn(variant.log_group),
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise ServiceUnavailableRuntime(
                    f"The container of variant {variant.name} of endpoint {endpoint_name} is not "
                    f"reachable ({type(exc).__name__})."
                ) from exc
            finally:
                instance.leave()
        if status >= 400:
            raise self._model_error(variant, status, data)
        return InvokeResult(
            body=data,
            content_type=response_headers.get("Content-Type", "application/octet-stream"),
            invoked_production_variant=variant.name,
            custom_attributes=response_headers.get(CUSTOM_ATTRIBUTES_HEADER),
        )

    def open_stream(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None,
        target_variant: str | None,
        status_of: Callable[[str], str | None] | None = None,
    ) -> ResponseStream:
        """InvokeEndpointWithResponseStream: POST to the container's
        /invocations-response-stream and hand back its answer to be read as it comes. Errors
        before the first byte are raised here (as InvokeEndpoint's); the stream's own failures
        come from ResponseStream.chunks() as StreamFailure."""
        headers = _container_headers(content_type, accept, custom_attributes)
        tried: list[LiveInstance] = []
        while True:
            variant, instance = self._enter(endpoint_name, target_variant, status_of, False, tried)
            try:
                answer = instance.pool.stream(STREAM_PATH, body, headers)
                break
            except ContainerUnreachable:
                instance.leave()
                instance.unreachable = True
                tried.append(instance)
            except TimeoutError as exc:
                instance.leave()
                raise ModelError(
                    f"Your invocation timed out while waiting for a response from container "
                    f"{variant.name}.",
                    408,
                    "",
                    self._log_group_arn(variant.log_group),
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                instance.leave()
                raise ServiceUnavailableRuntime(
                    f"The container of variant {variant.name} of endpoint {endpoint_name} is not "
                    f"reachable ({type(exc).__name__})."
                ) from exc
        if answer.status < 400:
            return ResponseStream(answer, instance, variant.name)
        try:
            data = answer.read_all()
        except (OSError, http.client.HTTPException):
            data = b""
        finally:
            answer.close()
            instance.leave()
        if answer.status == 404:
            # The container has no streaming route (the built-in algorithms have none).
            raise ValidationError(
                f"The model container of variant {variant.name} of endpoint {endpoint_name} "
                f"does not support response streaming (it answered 404 to {STREAM_PATH}); "
                "use InvokeEndpoint."
            )
        raise self._model_error(variant, answer.status, data)

    def _model_error(self, variant: LiveVariant, status: int, data: bytes) -> ModelError:
        message = data.decode("utf-8", errors="replace")
        kind = "client" if status < 500 else "server"
        return ModelError(
            f'Received {kind} error ({status}) from primary with message "{message}". '
            f"See https://{self._region}.console.aws.amazon.com/cloudwatch/home?region="
            f"{self._region}#logEventViewer:group={variant.log_group} in account "
            f"{ACCOUNT_ID} for more information.",
            status,
            message,
            self._log_group_arn(variant.log_group),
        )

    def _log_group_arn(self, group: str) -> str:
        return f"arn:aws:logs:{self._region}:{ACCOUNT_ID}:log-group:{group}"

    def close(self) -> list[LiveEndpoint]:
        live = list(self._live.values())
        self._live.clear()
        return live
