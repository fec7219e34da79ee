"""Endpoints: Create/Describe/List/Update/Delete and UpdateEndpointWeightsAndCapacities.

CreateEndpoint, UpdateEndpoint and UpdateEndpointWeightsAndCapacities return at once; the fleet
makes the change in the background and reports how it ended (FleetListener), and the endpoint's
status moves through the lifecycle table: Creating or Updating, then InService (or Failed; a
failed update rolls back, InService with a FailureReason). DescribeEndpoint reports the instance
counts and weights that really serve (Current*) next to the asked ones (Desired*).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

from emulator.aws import arns
from emulator.aws.errors import ValidationException
from emulator.services.hosting.fleet import Fleet
from emulator.services.hosting.resources import Deployment, HostingResources
from emulator.services.listing import list_response
from emulator.services.tags import TagService
from emulator.state import lifecycle
from emulator.state.hosting_records import EndpointRecord, VariantState
from emulator.state.records import EndpointStatus, now
from emulator.state.store import RecordStore

ENDPOINT_KIND = "endpoint"


@dataclass(frozen=True)
class _Change:
    """A change the fleet is making to an endpoint (its ticket), and what it leads to."""

    ticket: int
    update: bool
    """An update: if it fails, what served before serves on (InService with a FailureReason)."""
    config_name: str
    variants: list[VariantState]
    async_config: dict[str, Any] | None
    previous: list[VariantState] | None = None
    """A capacity change: the variants to report again if it fails."""


class EndpointService:
    def __init__(
        self,
        region: str,
        store: RecordStore,
        tags: TagService,
        resources: HostingResources,
        fleet: Fleet,
    ) -> None:
        self._region = region
        self._store = store
        self._tags = tags
        self._resources = resources
        self._fleet = fleet
        self._lock = threading.RLock()
        self._endpoints: dict[str, EndpointRecord] = {}
        self._changes: dict[str, _Change] = {}
        fleet.subscribe(self)

    def start(self) -> None:
        """Load the stored endpoints and bring back every one that was serving."""
        self._endpoints = {e.name: e for e in self._store.load_all(ENDPOINT_KIND, EndpointRecord)}
        serving = (EndpointStatus.IN_SERVICE, EndpointStatus.CREATING, EndpointStatus.UPDATING)
        with self._lock:
            for endpoint in self._endpoints.values():
                if endpoint.status not in serving:
                    continue
                # An update cut short by the restart is abandoned: the old config serves again.
                endpoint.pending_config_name = None
                endpoint.pending_variants = []
                self._deploy(
                    endpoint.name,
                    Deployment(
                        endpoint.config_name, list(endpoint.variants), endpoint.async_config
                    ),
                    update=False,
                )
            tickets = [change.ticket for change in self._changes.values()]
        # An endpoint that was serving serves again once the emulator has started (waited
        # outside the lock: the fleet reports each one here).
        self._fleet.wait(tickets)

    def exists(self, arn: str) -> bool:
        with self._lock:
            return any(e.arn == arn for e in self._endpoints.values())

    def endpoint_status(self, name: str) -> str | None:
        endpoint = self._endpoints.get(name)
        return None if endpoint is None else endpoint.status.value

    def async_config(self, name: str) -> dict[str, Any] | None:
        """The AsyncInferenceConfig the endpoint serves with (None: a real-time endpoint)."""
        endpoint = self._endpoints.get(name)
        return None if endpoint is None else endpoint.async_config

    def _arn(self, name: str) -> str:
        return arns.arn(self._region, "endpoint", name)

    def _endpoint(self, name: str) -> EndpointRecord:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise ValidationException(f'Could not find endpoint "{self._arn(name)}".')
        return endpoint

    def _deploy(self, name: str, deployment: Deployment, update: bool) -> None:
        """Hand a deployment to the fleet (called with the lock held, so the fleet's report
        cannot overtake the ticket)."""
        ticket = self._fleet.deploy(name, deployment.variants, deployment.async_config is not None)
        self._changes[name] = _Change(
            ticket, update, deployment.config_name, deployment.variants, deployment.async_config
        )

    # --- operations -----------------------------------------------------------------------------

    def create_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        arn = self._arn(name)
        with self._lock:
            if arns.name_taken(name, self._endpoints):
                raise ValidationException(f'Cannot create already existing endpoint "{arn}".')
            if self._fleet.closed:
                raise ValidationException("The emulator is shutting down.")
            deployment = self._resources.deployment(request["EndpointConfigName"])
            self._tags.set_initial(arn, request.get("Tags", []))
            at = now()
            record = EndpointRecord(
                name=name,
                arn=arn,
                config_name=deployment.config_name,
                creation_time=at,
                last_modified_time=at,
                status=EndpointStatus.CREATING,
                variants=deployment.variants,
                async_config=deployment.async_config,
            )
            self._store.put(ENDPOINT_KIND, name, record)  # first: a refused write keeps nothing
            self._endpoints[name] = record
            self._deploy(name, deployment, update=False)
        return {"EndpointArn": arn}

    def describe_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        with self._lock:
            return self._endpoint(name).describe(self._fleet.current(name))

    def list_endpoints(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            summaries = [e.summary() for e in self._endpoints.values()]
        return list_response(
            summaries, request, name_key="EndpointName", status_key="EndpointStatus"
        )

    def _check_updatable(self, endpoint: EndpointRecord) -> None:
        if endpoint.status in (EndpointStatus.CREATING, EndpointStatus.UPDATING):
            raise ValidationException(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        if endpoint.status != EndpointStatus.IN_SERVICE:
            raise ValidationException(
                f'Cannot update endpoint "{endpoint.arn}" in status {endpoint.status}: '
                "delete it and create it again."
            )

    def _start_updating(self, endpoint: EndpointRecord) -> None:
        lifecycle.check_endpoint(endpoint.status, EndpointStatus.UPDATING)
        endpoint.status = EndpointStatus.UPDATING
        endpoint.failure_reason = None
        endpoint.last_modified_time = now()

    def update_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        with self._lock:
            endpoint = self._endpoint(name)
            self._check_updatable(endpoint)
            deployment = self._resources.deployment(request["EndpointConfigName"])
            self._start_updating(endpoint)
            endpoint.pending_config_name = deployment.config_name
            endpoint.pending_variants = deployment.variants
            self._store.put(ENDPOINT_KIND, name, endpoint)
            self._deploy(name, deployment, update=True)
        return {"EndpointArn": endpoint.arn}

    def update_endpoint_weights_and_capacities(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        with self._lock:
            endpoint = self._endpoint(name)
            self._check_updatable(endpoint)
            desired = _desired_variants(endpoint, request["DesiredWeightsAndCapacities"])
            previous = list(endpoint.variants)
            self._start_updating(endpoint)
            # Desired* report the new values at once; Current* follow what really serves.
            endpoint.variants = desired
            self._store.put(ENDPOINT_KIND, name, endpoint)
            ticket = self._fleet.scale(name, desired)
            self._changes[name] = _Change(
                ticket, True, endpoint.config_name, desired, endpoint.async_config, previous
            )
        return {"EndpointArn": endpoint.arn}

    def delete_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        with self._lock:
            endpoint = self._endpoint(name)
            del self._endpoints[name]
            self._changes.pop(name, None)
            self._store.delete(ENDPOINT_KIND, name)
            self._tags.forget(endpoint.arn)
            self._fleet.remove(name)
        return {}

    # --- what the fleet reports (FleetListener) -------------------------------------------------

    def _change(self, name: str, ticket: int) -> tuple[EndpointRecord, _Change] | None:
        change = self._changes.get(name)
        endpoint = self._endpoints.get(name)
        if change is None or change.ticket != ticket or endpoint is None:
            return None
        del self._changes[name]
        return endpoint, change

    def deployed(self, name: str, ticket: int) -> None:
        with self._lock:
            found = self._change(name, ticket)
            if found is None:
                return
            endpoint, change = found
            lifecycle.check_endpoint(endpoint.status, EndpointStatus.IN_SERVICE)
            endpoint.status = EndpointStatus.IN_SERVICE
            endpoint.async_config = change.async_config
            endpoint.config_name = change.config_name
            endpoint.variants = change.variants
            endpoint.pending_config_name = None
            endpoint.pending_variants = []
            endpoint.failure_reason = None
            endpoint.last_modified_time = now()
            self._store.put(ENDPOINT_KIND, name, endpoint)

    def failed(self, name: str, ticket: int, reason: str) -> None:
        with self._lock:
            found = self._change(name, ticket)
            if found is None:
                return
            endpoint, change = found
            if change.update:
                # The real service rolls a failed update back: the old variants keep serving.
                lifecycle.check_endpoint(endpoint.status, EndpointStatus.IN_SERVICE)
                endpoint.status = EndpointStatus.IN_SERVICE
                endpoint.failure_reason = f"Update failed: {reason}"[:1024]
                endpoint.pending_config_name = None
                endpoint.pending_variants = []
                if change.previous is not None:
                    endpoint.variants = change.previous
            else:
                lifecycle.check_endpoint(endpoint.status, EndpointStatus.FAILED)
                endpoint.status = EndpointStatus.FAILED
                endpoint.failure_reason = reason[:1024]
            endpoint.last_modified_time = now()
            self._store.put(ENDPOINT_KIND, name, endpoint)


def _desired_variants(
    endpoint: EndpointRecord, desired: list[dict[str, Any]]
) -> list[VariantState]:
    """The endpoint's variants with the weights and instance counts asked for."""
    by_name = {v.variant_name: v for v in endpoint.variants}
    missing = [d["VariantName"] for d in desired if d["VariantName"] not in by_name]
    if missing:
        raise ValidationException(
            f'The variant(s) "[{", ".join(missing)}]" is/are not present in the endpoint '
            f'"{endpoint.arn}".'
        )
    names = [d["VariantName"] for d in desired]
    if len(set(names)) != len(names):
        raise ValidationException("DesiredWeightsAndCapacities names a variant more than once.")
    changed = dict(by_name)
    for item in desired:
        state = by_name[item["VariantName"]]
        if "ServerlessUpdateConfig" in item:
            raise ValidationException(
                "ServerlessUpdateConfig is not supported by this emulator (it runs instances)."
            )
        if "DesiredWeight" not in item and "DesiredInstanceCount" not in item:
            raise ValidationException(
                f"Variant {state.variant_name}: give DesiredWeight, DesiredInstanceCount or both."
            )
        count = int(item.get("DesiredInstanceCount", state.instance_count))
        if count < 1:
            raise ValidationException(
                f"Variant {state.variant_name}: this emulator keeps at least one instance per "
                "variant (DesiredInstanceCount 0 is not supported)."
            )
        changed[state.variant_name] = dataclasses.replace(
            state, weight=float(item.get("DesiredWeight", state.weight)), instance_count=count
        )
    return [changed[v.variant_name] for v in endpoint.variants]
