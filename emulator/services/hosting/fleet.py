"""The containers behind endpoints: deploy and switch, scale, and keep every instance alive.

Each production variant runs `instance_count` containers (instances), each with its own /opt/ml
tree holding the model and its own log stream `<variant>/<instance id>`. A deploy starts every
instance of every variant in parallel and swaps the endpoint's live variants in one step once all
passed GET /ping (a failed deploy stops what it started: the old variants serve on). A capacity
change starts the new instances first and puts each into rotation once it passed /ping; removed
instances leave rotation, finish their in-flight requests, then stop. The health monitor takes a
dead (or unreachable) instance out of rotation at once and starts a replacement while the others
serve, as the real service replaces a failed instance.

The fleet knows nothing of endpoint records: it reports the outcome of each change (a ticket)
to a FleetListener, and never calls back into the caller under its own lock.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from emulator.runtime.base import ContainerRuntime
from emulator.services.hosting.instances import InstanceLauncher, endpoint_log_group
from emulator.services.invocation import InvocationRouter
from emulator.services.live import (
    DEFAULT_ROUTING_STRATEGY,
    LiveEndpoint,
    LiveInstance,
    LiveVariant,
    stop_instances,
)
from emulator.services.ports import LogWriter, ObjectStore
from emulator.state.hosting_records import VariantState
from emulator.workloads.container_client import DeployError, ping

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 30.0
"""SIGTERM, then SIGKILL 30 s later (docs/sagemaker-facts.md#inference-container)."""
MONITOR_INTERVAL_SECONDS = 1.0


class FleetListener(Protocol):
    """Who hears how a change (a ticket from `deploy` or `scale`) ended."""

    def deployed(self, name: str, ticket: int) -> None:
        """The change serves now."""

    def failed(self, name: str, ticket: int, reason: str) -> None:
        """The change could not be made; what served before serves on."""


class Fleet:
    def __init__(
        self,
        endpoints_dir: Path,
        runtime: ContainerRuntime,
        s3: ObjectStore,
        logs: LogWriter,
        router: InvocationRouter,
    ) -> None:
        self._launcher = InstanceLauncher(endpoints_dir, runtime, s3, logs)
        self._router = router
        self._listener: FleetListener | None = None
        self._lock = threading.Lock()
        self._tickets: dict[str, int] = {}
        """The change each endpoint is on; a change whose ticket is no longer here is dropped."""
        self._next_ticket = 0
        self._specs: dict[str, dict[str, VariantState]] = {}
        """What each serving variant runs and how many instances it should have."""
        self._starting: dict[LiveVariant, int] = {}
        """Replacement instances being started, per variant."""
        self._background: set[threading.Thread] = set()
        self._deploying: dict[int, threading.Thread] = {}
        self._closed = False
        self._stop_monitor = threading.Event()
        self._monitor: threading.Thread | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def subscribe(self, listener: FleetListener) -> None:
        self._listener = listener

    def start(self) -> None:
        self._monitor = threading.Thread(target=self._watch, name="endpoint-monitor", daemon=True)
        self._monitor.start()

    def close(self) -> None:
        self._stop_monitor.set()
        if self._monitor is not None:
            self._monitor.join(timeout=10)
        with self._lock:
            self._closed = True
            self._tickets.clear()
            live = self._router.close()
            background = list(self._background)
        threads = [
            threading.Thread(target=variant.drain_and_stop, args=(STOP_GRACE_SECONDS, 5.0))
            for endpoint in live
            for variant in endpoint.variants
        ]
        for thread in threads:
            thread.start()
        for thread in threads + background:
            thread.join(timeout=60)

    # --- changes --------------------------------------------------------------------------------

    def deploy(self, name: str, variants: list[VariantState], asynchronous: bool) -> int:
        """Bring up `variants` and switch the endpoint to them; the listener hears the end."""
        ticket = self._take_ticket(name)
        thread = self._spawn(self._deploy_and_switch, name, ticket, variants, asynchronous)
        with self._lock:
            self._deploying[ticket] = thread
        return ticket

    def wait(self, tickets: list[int]) -> None:
        """Block until these deploys have ended (the listener has heard of each)."""
        with self._lock:
            threads = [self._deploying.get(t) for t in tickets]
        for thread in threads:
            if thread is not None:
                thread.join()

    def scale(self, name: str, desired: list[VariantState]) -> int:
        """Move the serving variants to the weights and instance counts of `desired` (same
        variants, same containers) without a failed request."""
        ticket = self._take_ticket(name)
        self._spawn(self._scale, name, ticket, desired)
        return ticket

    def remove(self, name: str) -> None:
        """Stop serving the endpoint (drop any change under way); its containers drain and stop."""
        with self._lock:
            self._tickets.pop(name, None)
            self._specs.pop(name, None)
            old = self._router.swap(name, None)
        if old is not None:
            self._spawn(_stop_variants, list(old.variants))

    def current(self, name: str) -> dict[str, tuple[int, float]]:
        """Per variant, the instances in rotation and the weight, as they serve now."""
        live = self._router.get(name)
        if live is None:
            return {}
        return {v.name: (len(v.serving()), live.weights[v.name]) for v in live.variants}

    def _take_ticket(self, name: str) -> int:
        with self._lock:
            if self._closed:
                raise DeployError("The emulator is shutting down.")
            self._next_ticket += 1
            self._tickets[name] = self._next_ticket
            return self._next_ticket

    def _is_current(self, name: str, ticket: int) -> bool:
        return not self._closed and self._tickets.get(name) == ticket

    def _report(self, name: str, ticket: int, failure: str | None) -> None:
        with self._lock:
            if not self._is_current(name, ticket):
                return
        if self._listener is None:
            return
        if failure is None:
            self._listener.deployed(name, ticket)
        else:
            self._listener.failed(name, ticket, failure)

    def _deploy_and_switch(
        self, name: str, ticket: int, variants: list[VariantState], asynchronous: bool
    ) -> None:
        def abandoned() -> str | None:
            with self._lock:
                current = self._is_current(name, ticket)
            return None if current else "The endpoint was deleted while it was being created."

        try:
            started = self._launcher.start_many(
                name, [(v, v.instance_count) for v in variants], abandoned
            )
        except DeployError as exc:
            self._report(name, ticket, str(exc))
            return
        live = [
            LiveVariant(
                v.variant_name,
                endpoint_log_group(name),
                started[v.variant_name],
                v.weight,
                v.routing_strategy or DEFAULT_ROUTING_STRATEGY,
            )
            for v in variants
        ]
        with self._lock:
            current = self._is_current(name, ticket)
            old = None
            if current:
                old = self._router.swap(name, LiveEndpoint(live, asynchronous))
                self._specs[name] = {v.variant_name: v for v in variants}
        if not current:
            _stop_variants(live)
            return
        self._report(name, ticket, None)
        if old is not None:
            _stop_variants(list(old.variants))

    def _scale(self, name: str, ticket: int, desired: list[VariantState]) -> None:
        live = self._router.get(name)
        if live is None:
            self._report(name, ticket, "The endpoint serves nothing to scale.")
            return

        def abandoned() -> str | None:
            with self._lock:
                current = self._is_current(name, ticket)
            return None if current else "The endpoint was deleted while it was being updated."

        wanted: list[tuple[VariantState, int]] = []
        for state in desired:
            variant = live.variant(state.variant_name)
            have = len(variant.serving()) if variant is not None else 0
            wanted.append((state, max(0, state.instance_count - have)))
        try:
            started = self._launcher.start_many(name, wanted, abandoned)
        except DeployError as exc:
            self._report(name, ticket, str(exc))
            return
        leaving: list[LiveInstance] = []
        with self._lock:
            current = self._is_current(name, ticket) and self._router.get(name) is live
            if current:
                for state in desired:
                    variant = live.variant(state.variant_name)
                    if variant is None:
                        continue
                    for instance in started.pop(state.variant_name, []):
                        if not variant.add(instance):
                            leaving.append(instance)
                    # Scale-in: the least busy instances leave rotation first.
                    extra = len(variant.instances) - state.instance_count
                    for instance in sorted(variant.instances, key=_leave_order)[: max(0, extra)]:
                        if variant.remove(instance):
                            leaving.append(instance)
                weights = {s.variant_name: s.weight for s in desired}
                self._router.swap(name, LiveEndpoint(live.variants, live.asynchronous, weights))
                specs = self._specs.setdefault(name, {})
                specs.update({s.variant_name: s for s in desired})
        leaving.extend(i for instances in started.values() for i in instances)
        # Removed instances finish what they were sent before the change counts as done.
        stop_instances(leaving, STOP_GRACE_SECONDS)
        if current:
            self._report(name, ticket, None)

    # --- health ---------------------------------------------------------------------------------

    def _watch(self) -> None:
        """Take dead instances out of rotation and bring every variant back to its count."""
        while not self._stop_monitor.wait(MONITOR_INTERVAL_SECONDS):
            for name, live in self._router.items():
                for variant in live.variants:
                    self._evict_dead(name, variant)
                    self._reconcile(name, variant)

    def _evict_dead(self, name: str, variant: LiveVariant) -> None:
        for instance in variant.instances:
            if instance.retired or self._healthy(instance) or not variant.remove(instance):
                continue
            log.warning(
                "endpoint %s: instance %s of %s died; replacing it",
                name,
                instance.instance_id,
                variant.name,
            )
            self._spawn(instance.drain_and_stop, STOP_GRACE_SECONDS)

    @staticmethod
    def _healthy(instance: LiveInstance) -> bool:
        if not instance.handle.is_running():
            return False
        if instance.unreachable:
            # A connect to it failed: back into rotation if it answers /ping, else replaced.
            if not ping(instance.handle.url):
                return False
            instance.unreachable = False
        return True

    def _reconcile(self, name: str, variant: LiveVariant) -> None:
        with self._lock:
            spec = self._specs.get(name, {}).get(variant.name)
            if spec is None or self._closed or variant.retired:
                return
            missing = spec.instance_count - len(variant.instances) - self._starting.get(variant, 0)
            if missing <= 0:
                return
            self._starting[variant] = self._starting.get(variant, 0) + missing
        for _ in range(missing):
            self._spawn(self._replace, name, variant, spec)

    def _replace(self, name: str, variant: LiveVariant, spec: VariantState) -> None:
        def abandoned() -> str | None:
            with self._lock:
                gone = self._closed or name not in self._tickets or variant.retired
            return "The endpoint no longer serves this variant." if gone else None

        try:
            instance = self._launcher.start(name, spec, abandoned)
        except Exception as exc:  # the monitor tries again on its next round
            log.warning(
                "endpoint %s: replacing an instance of %s failed: %s", name, variant.name, exc
            )
            instance = None
        with self._lock:
            self._starting[variant] -= 1
            if self._starting[variant] <= 0:
                del self._starting[variant]
            now_spec = self._specs.get(name, {}).get(variant.name)
            # Still wanted: the endpoint serves, and no capacity change filled the place meanwhile.
            wanted = (
                not self._closed
                and name in self._tickets
                and now_spec is not None
                and len(variant.instances) < now_spec.instance_count
            )
            joined = instance is not None and wanted and variant.add(instance)
        if instance is not None and not joined:
            instance.drain_and_stop(STOP_GRACE_SECONDS)

    def _spawn(self, target: Any, *args: Any) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._background.discard(thread)
                    for ticket in [t for t, th in self._deploying.items() if th is thread]:
                        del self._deploying[ticket]

        thread = threading.Thread(target=run, daemon=True)
        with self._lock:
            self._background.add(thread)
        thread.start()
        return thread


def _leave_order(instance: LiveInstance) -> tuple[bool, int]:
    return (not instance.unreachable, instance.in_flight)


def _stop_variants(variants: list[LiveVariant]) -> None:
    threads = [
        threading.Thread(target=v.drain_and_stop, args=(STOP_GRACE_SECONDS,), daemon=True)
        for v in variants
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
