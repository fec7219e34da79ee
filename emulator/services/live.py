"""What an endpoint serves right now: its variants and, in each, the instances in rotation.

The invocation hot path reads these without any service-wide lock: an endpoint's variants are an
immutable snapshot swapped atomically (UpdateEndpoint, a weight change), and a variant's instances
are an immutable tuple replaced under the variant's own small lock when an instance joins (after
it passed /ping) or leaves rotation (scale-in, a dead container).
"""

from __future__ import annotations

import bisect
import itertools
import random
import shutil
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from emulator.runtime.base import ServingHandle
from emulator.workloads.container_client import ConnectionPool

LEAST_OUTSTANDING_REQUESTS = "LEAST_OUTSTANDING_REQUESTS"
RANDOM = "RANDOM"
DEFAULT_ROUTING_STRATEGY = LEAST_OUTSTANDING_REQUESTS
"""A variant without RoutingConfig routes to its least busy instance (AWS leaves the default
undocumented; README, Known differences)."""


@dataclass(eq=False)
class LiveInstance:
    """One running container of a variant (one ML instance on AWS)."""

    instance_id: str
    handle: ServingHandle
    pool: ConnectionPool
    log_stream: str
    root: Path | None = None
    """The instance's host /opt/ml tree, removed once the container has stopped."""
    in_flight: int = 0
    retired: bool = False
    """Set when the instance starts draining: it takes no new request from then on."""
    unreachable: bool = False
    """A connect to it failed: out of rotation until the health monitor has looked at it."""
    _counter_lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> bool:
        """Count a request in; False once the instance drains (the caller picks again)."""
        with self._counter_lock:
            if self.retired:
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self._counter_lock:
            self.in_flight -= 1

    def drain_and_stop(self, grace_seconds: float, drain_seconds: float = 60.0) -> None:
        """Wait for requests already sent to this container, then stop it."""
        with self._counter_lock:
            self.retired = True
        deadline = time.monotonic() + drain_seconds
        while self.in_flight > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.pool.close()
        self.handle.stop(grace_seconds)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


class LiveVariant:
    """One production variant: its instances in rotation and how requests pick among them."""

    def __init__(
        self,
        name: str,
        log_group: str,
        instances: Collection[LiveInstance],
        weight: float = 1.0,
        routing_strategy: str = DEFAULT_ROUTING_STRATEGY,
    ) -> None:
        self.name = name
        self.log_group = log_group
        self.weight = weight
        self.routing_strategy = routing_strategy
        self.instances: tuple[LiveInstance, ...] = tuple(instances)
        self.retired = False
        """Set when the whole variant drains (swapped out or deleted): no instance joins it."""
        self._lock = threading.Lock()
        self._rng = random.Random()

    def serving(self) -> list[LiveInstance]:
        """The instances that take requests now."""
        return [i for i in self.instances if not i.retired and not i.unreachable]

    def pick(self, exclude: Collection[LiveInstance] = ()) -> LiveInstance | None:
        candidates = [i for i in self.serving() if i not in exclude]
        if not candidates:
            return None
        if self.routing_strategy == RANDOM:
            return self._rng.choice(candidates)
        # Least outstanding requests; ties go to a random one so idle instances share the load.
        least = min(i.in_flight for i in candidates)
        return self._rng.choice([i for i in candidates if i.in_flight == least])

    def add(self, instance: LiveInstance) -> bool:
        """Put an instance (past its /ping) into rotation; False if the variant drains already."""
        with self._lock:
            if self.retired:
                return False
            self.instances = (*self.instances, instance)
            return True

    def remove(self, instance: LiveInstance) -> bool:
        """Take an instance out of rotation (the caller drains and stops it); False if it was not
        in it."""
        with self._lock:
            if instance not in self.instances:
                return False
            self.instances = tuple(i for i in self.instances if i is not instance)
            return True

    def retire(self) -> list[LiveInstance]:
        with self._lock:
            self.retired = True
            return list(self.instances)

    def drain_and_stop(self, grace_seconds: float, drain_seconds: float = 60.0) -> None:
        """Every instance finishes its requests, then stops (in parallel)."""
        stop_instances(self.retire(), grace_seconds, drain_seconds)


def stop_instances(
    instances: Collection[LiveInstance], grace_seconds: float, drain_seconds: float = 60.0
) -> None:
    threads = [
        threading.Thread(target=i.drain_and_stop, args=(grace_seconds, drain_seconds), daemon=True)
        for i in instances
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class LiveEndpoint:
    """The variants an endpoint serves right now, and their weights; immutable once built."""

    def __init__(
        self,
        variants: Collection[LiveVariant],
        asynchronous: bool = False,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        self.variants = tuple(variants)
        self.asynchronous = asynchronous
        """An endpoint with an AsyncInferenceConfig: it takes asynchronous invocations only."""
        self.weights = {
            v.name: (weights[v.name] if weights and v.name in weights else v.weight)
            for v in self.variants
        }
        self._by_name = {v.name: v for v in self.variants}
        spread = [max(self.weights[v.name], 0.0) for v in self.variants]
        if sum(spread) <= 0:
            spread = [1.0] * len(self.variants)
        self._cumulative = list(itertools.accumulate(spread))
        self._rng = random.Random()

    def variant(self, name: str) -> LiveVariant | None:
        return self._by_name.get(name)

    def pick(self, target_variant: str | None) -> LiveVariant | None:
        if target_variant:
            return self._by_name.get(target_variant)
        if len(self.variants) == 1:
            return self.variants[0]
        # Traffic split by variant weight, as the real service routes.
        point = self._rng.random() * self._cumulative[-1]
        return self.variants[bisect.bisect_right(self._cumulative, point)]

    def instance_count(self) -> int:
        return sum(len(v.serving()) for v in self.variants)
