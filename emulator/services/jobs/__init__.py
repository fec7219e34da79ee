"""The job engine: the one lifecycle of every asynchronous SageMaker job (training, transform, and
the kinds built on them). See `engine.py`; `kind.py` declares a kind, `service.py` holds the
operations every kind shares."""

from emulator.services.jobs.engine import Job, JobEngine, JobStopped, Outcome
from emulator.services.jobs.events import JobEvent, JobEvents
from emulator.services.jobs.kind import JobKind, declare
from emulator.services.jobs.service import JobService, Peers

__all__ = [
    "Job",
    "JobEngine",
    "JobEvent",
    "JobEvents",
    "JobKind",
    "JobService",
    "JobStopped",
    "Outcome",
    "Peers",
    "declare",
]
