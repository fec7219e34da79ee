"""What every console route needs: the regions' control planes, the stores' read side, the region
a request names (the server's own by default)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from emulator.aws.context import RequestContext, is_region_name
from emulator.aws.errors import ValidationError, ValidationException
from emulator.aws.specs import SAGEMAKER_RUNTIME
from emulator.aws.validate import validate_input
from emulator.console.resources import KINDS, Kind, Resources
from emulator.console.sources import ConsoleSources
from emulator.services.dispatch import Dispatcher
from emulator.services.regions import RegionalServices

T = TypeVar("T")


class NotFound(Exception):
    """A console path that names nothing (an unknown kind of resource): 404."""


@dataclass(frozen=True)
class ConsoleContext:
    regions: RegionalServices
    sources: ConsoleSources
    dispatcher: Dispatcher

    def act(self, region: str | None, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """An action (stop, delete) as an API call of the region: validated and recorded."""
        return self.dispatcher.call(RequestContext(region=self.region(region)), operation, params)

    @property
    def default_region(self) -> str:
        return self.regions.default_region

    def region(self, asked: str | None) -> str:
        if not asked:
            return self.regions.default_region
        if not is_region_name(asked):
            raise ValidationException(f"{asked[:64]!r} is not a region name.")
        return asked

    def kind(self, slug: str) -> Kind:
        found = KINDS.get(slug)
        if found is None:
            raise NotFound(f"The console lists no {slug[:64]!r}.")
        return found

    def object_size(self, bucket: str, key: str) -> int | None:
        """The object's size; None when there is no such object."""
        if not key or bucket not in self.sources.bucket_names():
            return None
        found = [size for name, size in self.sources.list_objects(bucket, key) if name == key]
        return found[0] if found else None

    def resources(self, region: str | None) -> Resources:
        return Resources(self.regions, self.region(region))

    async def in_thread(self, call: Callable[[], T]) -> T:
        return await run_in_threadpool(call)

    def invoke(
        self, region: str | None, endpoint: str, body: bytes, content_type: str, accept: Any
    ) -> dict[str, Any]:
        """InvokeEndpoint, validated by the runtime model as the HTTP route validates it."""
        params: dict[str, Any] = {"EndpointName": endpoint, "Body": body}
        params["ContentType"] = content_type
        if isinstance(accept, str) and accept:
            params["Accept"] = accept
        try:
            validate_input("InvokeEndpoint", params, SAGEMAKER_RUNTIME)
        except ValidationException as exc:
            raise ValidationError(exc.message) from None
        service = self.regions.get(self.region(region))
        result = service.invoke_endpoint(
            endpoint, body, content_type, params.get("Accept"), None, None
        )
        return {
            "ContentType": result.content_type,
            "InvokedProductionVariant": result.invoked_production_variant,
            "Body": result.body.decode("utf-8", errors="replace"),
        }
