"""The job engine: the one lifecycle of every asynchronous SageMaker job (training, transform, and
the kinds built on them). See `engine.py`."""

from emulator.services.jobs.engine import (
    Job,
    JobEngine,
    JobKind,
    JobStopped,
    Outcome,
)
from emulator.services.jobs.events import JobEvent, JobEvents

__all__ = ["Job", "JobEngine", "JobEvent", "JobEvents", "JobKind", "JobStopped", "Outcome"]
