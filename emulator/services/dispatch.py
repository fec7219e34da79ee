"""The one way into the control plane: a request's context picks its region's service."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from emulator.aws.context import RequestContext
from emulator.services.operations import invoke
from emulator.services.regions import RegionalServices

log = logging.getLogger(__name__)

CallRecorder = Callable[[RequestContext, str, dict[str, Any]], None]
"""Told of each successful call (its context, operation and validated request): the call
history the console shows."""


class Dispatcher:
    """Validated calls into the control plane of the request's region."""

    def __init__(self, regions: RegionalServices, on_success: CallRecorder | None = None) -> None:
        self.regions = regions
        self._on_success = on_success

    def call(
        self, context: RequestContext, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Run `operation` with wire-form `params`; the wire-form response."""
        result = invoke(self.regions.get(context.region), operation, params)
        if self._on_success is not None:
            try:
                self._on_success(context, operation, params)
            except Exception:  # the call succeeded: its record must not turn it into a failure
                log.exception("call not recorded: %s", operation)
        return result
