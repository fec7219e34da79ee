"""What training and transform jobs share: the job records, their live runs, and shutdown.

A job is a stored record plus, while it runs, a worker thread with a stop flag. Both services
keep the same bookkeeping and end it the same way: a shutdown stops every run, and a run the
user had already stopped (its record in Stopping) still ends Stopped, not Failed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


@dataclass
class JobRun:
    """The live, in-memory part of a running job."""

    stop_requested: threading.Event = field(default_factory=threading.Event)
    shutdown: bool = False
    """The stop comes from the emulator shutting down, not from a Stop*Job call."""
    thread: threading.Thread | None = None


class JobRecord(Protocol):
    @property
    def arn(self) -> str: ...

    @property
    def status(self) -> str: ...


R = TypeVar("R", bound=JobRecord)


class JobTable(Generic[R]):
    """Records by name and runs by name, under one lock."""

    stopping_status: str
    """The record status that means "Stop*Job was accepted" (Stopping in both enums)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._jobs: dict[str, R] = {}
        self._runs: dict[str, JobRun] = {}
        self._closed = False

    def exists(self, arn: str) -> bool:
        with self._lock:
            return any(job.arn == arn for job in self._jobs.values())

    def close(self) -> None:
        """Stop every running job and wait for the workers."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
            # A job the user already stopped ends Stopped; only the others are cut short by us.
            for name, run in self._runs.items():
                run.shutdown = self._jobs[name].status != self.stopping_status
        for run in runs:
            run.stop_requested.set()
        for run in runs:
            if run.thread is not None:
                run.thread.join(timeout=30)
