"""Training jobs, a job kind: `spec.py` (the request, parsed once), `run.py` (what a run does),
`service.py` (the operations)."""

from emulator.services.training.run import (
    KIND,
    LOG_GROUP,
    MAX_RUNTIME,
    RESTART_REASON,
    SHUTDOWN_REASON,
    STOP_GRACE_SECONDS,
    STORE_KIND,
)
from emulator.services.training.service import TrainingService
from emulator.services.training.spec import ChannelSpec, TrainingJobSpec, parse

__all__ = [
    "KIND",
    "LOG_GROUP",
    "MAX_RUNTIME",
    "RESTART_REASON",
    "SHUTDOWN_REASON",
    "STOP_GRACE_SECONDS",
    "STORE_KIND",
    "ChannelSpec",
    "TrainingJobSpec",
    "TrainingService",
    "parse",
]
