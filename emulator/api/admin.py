"""The emulator's own endpoints under /_emulator/ (not part of any AWS API)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from emulator import __version__


def make_router(runtime_name: str, data_dir: Path) -> APIRouter:
    router = APIRouter(prefix="/_emulator")

    async def health() -> dict[str, str]:
        """What the launcher waits for; `runtime` says which ContainerRuntime runs the work."""
        return {
            "status": "ok",
            "version": __version__,
            "runtime": runtime_name,
            "data_dir": str(data_dir),
        }

    router.add_api_route("/health", health, methods=["GET"])
    return router
