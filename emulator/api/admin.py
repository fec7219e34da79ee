"""The emulator's own endpoints under /_emulator/ (not part of any AWS API)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def make_reset(
    service: Any, s3: Any, logs: Any, reset_backends: Callable[[], None]
) -> Callable[[], None] | None:
    """`POST /moto-api/reset` (with --moto-api): forget everything the emulator holds, in one
    step under S3's lock (`service` and `logs` take their own, in every region): SageMaker's
    records (every region) with their running containers, moto's backends (S3, Logs, IAM, STS),
    and the copies of S3 and Logs on disk."""

    if not all(callable(getattr(part, "reset", None)) for part in (service, logs)):
        return None  # a partial reset would leave records pointing at nothing: refuse instead

    def reset() -> None:
        with s3.lock:
            # SageMaker first: its running jobs write to S3 and Logs until they are stopped.
            service.reset()
            logs.reset()
            reset_backends()
            s3.sync_buckets()  # buckets moto no longer has leave the disk too

    return reset
