"""Batch transform jobs, a job kind: `spec.py` (the request, parsed once), `run.py` (what a run
does), `service.py` (the operations)."""

from emulator.services.transform.run import (
    KIND,
    LOG_GROUP,
    RESTART_REASON,
    SHUTDOWN_REASON,
    STOP_GRACE_SECONDS,
    STORE_KIND,
)
from emulator.services.transform.service import TransformService
from emulator.services.transform.spec import TransformJobSpec, parse

__all__ = [
    "KIND",
    "LOG_GROUP",
    "RESTART_REASON",
    "SHUTDOWN_REASON",
    "STOP_GRACE_SECONDS",
    "STORE_KIND",
    "TransformJobSpec",
    "TransformService",
    "parse",
]
