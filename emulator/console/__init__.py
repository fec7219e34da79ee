"""The emulator's web console at /_emulator/ui/: lists, details, live logs, metric curves and a
few actions, read through the same validated operations as the API."""

from __future__ import annotations

from fastapi import APIRouter

from emulator.console.api import make_api_router
from emulator.console.context import ConsoleContext
from emulator.console.pages import make_page_router
from emulator.console.sources import ConsoleSources
from emulator.services.dispatch import Dispatcher

PATH = "/_emulator/ui/"


def make_router(dispatcher: Dispatcher, sources: ConsoleSources) -> APIRouter:
    """`dispatcher`: the API's own way in, so the console's actions are calls like any other
    (validated, and kept in the call history)."""
    console = ConsoleContext(dispatcher.regions, sources, dispatcher)
    router = APIRouter(prefix=PATH.rstrip("/"))
    # The JSON endpoints first: /api/... must not be taken for a kind of resource.
    router.include_router(make_api_router(console))
    router.include_router(make_page_router(console))
    return router
