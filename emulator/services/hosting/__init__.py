"""Hosting: models and endpoint configs (resources), endpoints (their lifecycle) and the fleet
of containers behind them (deploy, scale, health).

`HostingService` is the one face the control plane sees; each part has its own lock, and the
fleet reports to the endpoints through the FleetListener interface, never up through a lock.
"""

from __future__ import annotations

from pathlib import Path

from emulator.runtime.base import ContainerRuntime
from emulator.services.hosting.endpoints import EndpointService
from emulator.services.hosting.fleet import Fleet
from emulator.services.hosting.resources import HostingResources
from emulator.services.invocation import InvocationRouter
from emulator.services.ports import LogWriter, ObjectStore
from emulator.services.tags import TagService
from emulator.state.store import RecordStore


class HostingService:
    def __init__(
        self,
        region: str,
        data_dir: Path,
        runtime: ContainerRuntime,
        s3: ObjectStore,
        logs: LogWriter,
        store: RecordStore,
        tags: TagService,
        router: InvocationRouter,
    ) -> None:
        self._resources = HostingResources(region, runtime, s3, store, tags)
        self._fleet = Fleet(data_dir / "endpoints", runtime, s3, logs, router)
        self._endpoints = EndpointService(region, store, tags, self._resources, self._fleet)
        resources, endpoints = self._resources, self._endpoints
        self.create_model = resources.create_model
        self.describe_model = resources.describe_model
        self.list_models = resources.list_models
        self.delete_model = resources.delete_model
        self.model = resources.model
        self.create_endpoint_config = resources.create_endpoint_config
        self.describe_endpoint_config = resources.describe_endpoint_config
        self.list_endpoint_configs = resources.list_endpoint_configs
        self.delete_endpoint_config = resources.delete_endpoint_config
        self.create_endpoint = endpoints.create_endpoint
        self.describe_endpoint = endpoints.describe_endpoint
        self.list_endpoints = endpoints.list_endpoints
        self.update_endpoint = endpoints.update_endpoint
        self.update_endpoint_weights_and_capacities = (
            endpoints.update_endpoint_weights_and_capacities
        )
        self.delete_endpoint = endpoints.delete_endpoint
        self.endpoint_status = endpoints.endpoint_status
        self.async_config = endpoints.async_config

    def start(self) -> None:
        """Load the stored records and bring back every endpoint that was serving."""
        self._resources.start()
        self._endpoints.start()
        self._fleet.start()

    def close(self) -> None:
        self._fleet.close()

    def exists(self, arn: str) -> bool:
        return self._resources.exists(arn) or self._endpoints.exists(arn)
