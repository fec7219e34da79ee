"""Completion and status events of jobs, for the services that follow other jobs (a tuning job
watches its children; a console shows progress)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobEvent:
    kind: str
    """The job kind's store name: `training-job`, `transform-job`..."""
    name: str
    arn: str
    status: str
    """The status the job moved to (the model's enum value)."""
    terminal: bool


Subscriber = Callable[[JobEvent], None]


class JobEvents:
    """Publish/subscribe, synchronous: a subscriber runs on the thread that changed the job, after
    the change is stored, outside the engine's lock; it must be quick and must not raise (what it
    raises is logged, never passed to the job)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns the function that removes it."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: JobEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("a subscriber to %s events failed on %s", event.kind, event.name)
