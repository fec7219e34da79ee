"""The one way into the control plane: a request's context picks its region's service."""

from __future__ import annotations

from typing import Any

from emulator.aws.context import RequestContext
from emulator.services.operations import invoke
from emulator.services.regions import RegionalServices


class Dispatcher:
    """Validated calls into the control plane of the request's region."""

    def __init__(self, regions: RegionalServices) -> None:
        self.regions = regions

    def call(
        self, context: RequestContext, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Run `operation` with wire-form `params`; the wire-form response."""
        return invoke(self.regions.get(context.region), operation, params)
