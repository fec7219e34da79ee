"""The job engine: submit a record and what its run does; the engine owns the rest.

Every asynchronous job (training, batch transform, and the kinds built on them) has the same life:
CreateXJob stores a record and returns at once; a worker thread runs it; Stop*Job moves it to
Stopping and signals the run; the run ends Completed, Failed or Stopped; a shutdown stops every
run (a run the user had already stopped still ends Stopped); a job found running when the emulator
starts again was cut short and is Failed (or Stopped, if Stop had been accepted). The engine does
all of that once:

- it holds the records (by name) and the live runs, under one lock, persisted on every change;
- every status change goes through the kind's lifecycle table (`emulator/state/lifecycle.py`),
  checked, stored, then published as a `JobEvent`;
- a `Job` is the run's handle on its own record: no look-ups by name, no wire dicts.

A kind supplies a `JobKind` (its statuses, names and messages) and, per job, a work function
`Job -> Outcome`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from emulator.aws import arns
from emulator.aws.errors import ResourceInUse, ValidationException
from emulator.services.jobs.events import JobEvent, JobEvents
from emulator.services.jobs.kind import JobKind
from emulator.state.records import now
from emulator.state.store import RecordStore

log = logging.getLogger(__name__)

S = TypeVar("S", bound=StrEnum)


class JobRecord(Protocol[S]):
    name: str
    arn: str
    status: S
    failure_reason: str | None
    last_modified_time: datetime


R = TypeVar("R", bound=JobRecord[Any])
T = TypeVar("T")


class JobStopped(Exception):
    """Raised inside a run when its stop was requested (Stop*Job, or the emulator's shutdown)."""


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """How a run ended: its final status, FailureReason, and the kind's own detail."""

    status: S
    reason: str | None = None
    detail: str | None = None
    """Kind-specific (training: "MaxRuntimeExceeded" for a Stopped run the platform stopped)."""


class Job(Generic[R]):
    """A job's run: its record (read and changed only through the engine's lock), its stop flag."""

    def __init__(self, engine: JobEngine[R, Any], record: R) -> None:
        self._engine = engine
        self.record = record
        self.name = record.name
        self.stop_requested = threading.Event()
        self.shutdown = False
        """The stop comes from the emulator shutting down, not from a Stop*Job call."""
        self.thread: threading.Thread | None = None

    def read(self, view: Callable[[R], T]) -> T:
        with self._engine.lock:
            return view(self.record)

    def update(self, change: Callable[[R], None]) -> None:
        """Change the record (not its status: see `set_status`) and store it."""
        with self._engine.lock:
            change(self.record)
            self._engine.persist(self.record)

    def set_status(self, status: Any, change: Callable[[R], None] | None = None) -> None:
        """Move to `status` through the lifecycle (and apply `change` in the same step)."""
        self._engine.move(self.record, status, change)

    def check_stop(self) -> None:
        if self.stop_requested.is_set():
            raise JobStopped()


class JobEngine(Generic[R, S]):
    def __init__(
        self,
        kind: JobKind[S],
        store: RecordStore,
        record_type: type[R],
        events: JobEvents,
        on_end: Callable[[R, Outcome[S], datetime], None],
    ) -> None:
        """`on_end(record, outcome, at)` lets the kind set its own fields (end times, secondary
        status) in the same stored step that ends the job."""
        self.kind = kind
        self.lock = threading.RLock()
        self._store = store
        self._record_type = record_type
        self._events = events
        self._on_end = on_end
        self._records: dict[str, R] = {}
        self._runs: dict[str, Job[R]] = {}
        self._closed = False

    # --- records --------------------------------------------------------------------------------

    def recover(self, interrupted: Callable[[R, Outcome[S], datetime], None]) -> None:
        """Load the stored jobs. One that was running when the emulator stopped is Stopped if
        Stop had been accepted (its container is gone), else Failed with the restart reason;
        `interrupted` sets the kind's own fields for that end."""
        for record in self._store.load_all(self.kind.store_kind, self._record_type):
            if record.status not in self.kind.terminal:
                at = now()
                outcome: Outcome[S] = (
                    Outcome(self.kind.stopped)
                    if record.status == self.kind.stopping
                    else Outcome(self.kind.failed, self.kind.restart_reason)
                )
                record.status = outcome.status
                record.failure_reason = outcome.reason
                record.last_modified_time = at
                interrupted(record, outcome, at)
                self.persist(record)
            self._records[record.name] = record

    def persist(self, record: R) -> None:
        self._store.put(self.kind.store_kind, record.name, record)

    def find(self, name: str) -> R | None:
        with self.lock:
            return self._records.get(name)

    def get(self, name: str) -> R:
        found = self.find(name)
        if found is None:
            raise self.kind.not_found(name)
        return found

    def view(self, name: str, render: Callable[[R], T]) -> T:
        """`render` of the named record, under the lock (Describe)."""
        with self.lock:
            record = self._records.get(name)
            if record is None:
                raise self.kind.not_found(name)
            return render(record)

    def views(self, render: Callable[[R], T]) -> list[T]:
        with self.lock:
            return [render(record) for record in self._records.values()]

    def exists(self, arn: str) -> bool:
        with self.lock:
            return any(record.arn == arn for record in self._records.values())

    def live(self, name: str) -> Job[R] | None:
        with self.lock:
            return self._runs.get(name)

    # --- the life of a job ------------------------------------------------------------------

    def submit(
        self,
        record: R,
        work: Callable[[Job[R]], Outcome[S]],
        before_store: Callable[[], None] | None = None,
    ) -> Job[R]:
        """Store a new job and start its run. `before_store` runs under the lock once the name
        is known to be free (e.g. to set the Create request's tags)."""
        job = Job(self, record)
        with self.lock:
            if arns.name_taken(record.name, self._records):
                raise ResourceInUse(
                    f"{self.kind.noun.capitalize()} names must be unique within an AWS account "
                    f"and region, and a {self.kind.noun} with this name already exists "
                    f"({record.arn})"
                )
            if self._closed:
                raise ValidationException("The emulator is shutting down.")
            if before_store is not None:
                before_store()
            self.persist(record)  # first: a refused write (disk full) keeps nothing
            self._records[record.name] = record
            job.thread = threading.Thread(
                target=self._run,
                args=(job, work),
                name=f"{self.kind.store_kind}-{record.name}",
                daemon=True,
            )
            self._runs[record.name] = job
        job.thread.start()
        self._publish(record)
        return job

    def request_stop(self, name: str, change: Callable[[R], None] | None = None) -> None:
        """Stop*Job: Stopping now (with the kind's `change`), and the run is told."""
        with self.lock:
            record = self.get(name)
            self.move(record, self.kind.stopping, change)
            job = self._runs.get(name)
        if job is not None:
            job.stop_requested.set()

    def move(self, record: R, status: S, change: Callable[[R], None] | None = None) -> None:
        """A status change through the lifecycle table, stored and published."""
        with self.lock:
            self.kind.check(record.status, status)
            changed = record.status != status
            record.status = status
            record.last_modified_time = now()
            if change is not None:
                change(record)
            self.persist(record)
        if changed:
            self._publish(record)

    def _run(self, job: Job[R], work: Callable[[Job[R]], Outcome[S]]) -> None:
        outcome: Outcome[S]
        try:
            outcome = work(job)
        except JobStopped:
            outcome = (
                Outcome(self.kind.failed, self.kind.shutdown_reason)
                if job.shutdown
                else Outcome(self.kind.stopped)
            )
        except Exception as exc:  # A bug must fail the job, never leave it InProgress.
            log.exception("%s %s failed inside the emulator", self.kind.noun, job.name)
            outcome = Outcome(self.kind.failed, f"InternalServerError: {exc}")
        try:
            self.finish(job, outcome)
        finally:
            with self.lock:
                self._runs.pop(job.name, None)

    def finish(self, job: Job[R], outcome: Outcome[S]) -> None:
        """End the job (once): the final status, reason and the kind's fields, in one step."""
        at = now()
        with self.lock:
            record = job.record
            if record.status in self.kind.terminal:
                return
            if record.status == self.kind.stopping and outcome.status == self.kind.completed:
                # Stop won the race against a run that had just finished.
                outcome = Outcome(self.kind.stopped)
            self.kind.check(record.status, outcome.status)
            record.status = outcome.status
            record.failure_reason = None if outcome.reason is None else outcome.reason[:1024]
            record.last_modified_time = at
            self._on_end(record, outcome, at)
            self.persist(record)
        self._publish(record)

    def _publish(self, record: R) -> None:
        self._events.publish(
            JobEvent(
                kind=self.kind.store_kind,
                name=record.name,
                arn=record.arn,
                status=str(record.status),
                terminal=record.status in self.kind.terminal,
            )
        )

    def delete(self, name: str, join_seconds: float = 30.0) -> R:
        """Forget a finished job (Delete*Job): ResourceInUse unless it is terminal. A terminal
        job's run may still be cleaning up; it is waited for, so a new job of the same name never
        shares its run."""
        with self.lock:
            record = self.get(name)
            if record.status not in self.kind.terminal:
                raise ResourceInUse(
                    f"{self.kind.noun.capitalize()} {name} is in status {record.status} and "
                    "cannot be deleted: only jobs that are Completed, Failed or Stopped can be "
                    "deleted."
                )
            job = self._runs.get(name)
        if job is not None and job.thread is not None:
            job.thread.join(timeout=join_seconds)
        with self.lock:
            if self._records.get(name) is not record or name in self._runs:
                raise ResourceInUse(f"{self.kind.noun.capitalize()} {name} is being changed.")
            del self._records[name]
            self._store.delete(self.kind.store_kind, name)
        return record

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, join_seconds: float = 30.0) -> None:
        """Stop every run and wait for them. A job the user had already stopped ends Stopped;
        the others are cut short by the shutdown (Failed, with the shutdown reason)."""
        with self.lock:
            self._closed = True
            jobs = list(self._runs.values())
            for job in jobs:
                job.shutdown = job.record.status != self.kind.stopping
        for job in jobs:
            job.stop_requested.set()
        for job in jobs:
            if job.thread is not None:
                job.thread.join(timeout=join_seconds)

    def runs(self) -> Iterable[Job[R]]:
        with self.lock:
            return list(self._runs.values())
