"""The records of hosting: models, endpoint configs, endpoints and their deployed variants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emulator.state.describe import describe
from emulator.state.records import EndpointStatus


@dataclass
class ModelRecord:
    name: str
    arn: str
    request: dict[str, Any]
    creation_time: datetime

    def containers(self) -> list[dict[str, Any]]:
        """The model's container definitions (PrimaryContainer, or the Containers list)."""
        if "PrimaryContainer" in self.request:
            return [self.request["PrimaryContainer"]]
        return list(self.request.get("Containers", []))

    def describe(self) -> dict[str, Any]:
        fields = {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.creation_time}
        return describe("DescribeModel", self.request, fields, {"EnableNetworkIsolation": False})

    def summary(self) -> dict[str, Any]:
        return {"ModelName": self.name, "ModelArn": self.arn, "CreationTime": self.creation_time}


@dataclass
class EndpointConfigRecord:
    name: str
    arn: str
    request: dict[str, Any]
    creation_time: datetime

    def variants(self) -> list[dict[str, Any]]:
        return list(self.request["ProductionVariants"])

    def describe(self) -> dict[str, Any]:
        fields = {
            "EndpointConfigName": self.name,
            "EndpointConfigArn": self.arn,
            "ProductionVariants": self.variants(),
            "CreationTime": self.creation_time,
        }
        return describe("DescribeEndpointConfig", self.request, fields)

    def summary(self) -> dict[str, Any]:
        return {
            "EndpointConfigName": self.name,
            "EndpointConfigArn": self.arn,
            "CreationTime": self.creation_time,
        }


@dataclass
class VariantState:
    """One production variant as deployed: what it runs (a snapshot of its model at deploy time,
    so a restart can bring it back even if the model was deleted since) and what DescribeEndpoint
    reports about it."""

    variant_name: str
    model_name: str
    container: dict[str, Any]
    """The model's container definition (Image, ModelDataUrl, Environment...)."""
    weight: float
    instance_count: int
    instance_type: str = ""
    network_isolation: bool = False
    """The model's EnableNetworkIsolation: the serving container gets no outside network."""
    volume_size_in_gb: int | None = None
    """The variant's VolumeSizeInGB: what its model may expand to (None: the default volume)."""
    routing_strategy: str | None = None
    """RoutingConfig.RoutingStrategy as the config gave it (None: the emulator's default)."""

    @property
    def image(self) -> str:
        return str(self.container.get("Image", ""))

    def to_wire(self, at: datetime, current: tuple[int, float] | None = None) -> dict[str, Any]:
        """`current`: the instance count and weight that really serve (default: the desired)."""
        count, weight = current if current is not None else (self.instance_count, self.weight)
        wire: dict[str, Any] = {
            "VariantName": self.variant_name,
            "DeployedImages": [
                {
                    "SpecifiedImage": self.image,
                    "ResolvedImage": self.image,
                    "ResolutionTime": at,
                }
            ],
            "CurrentWeight": weight,
            "DesiredWeight": self.weight,
            "CurrentInstanceCount": count,
            "DesiredInstanceCount": self.instance_count,
        }
        if self.routing_strategy is not None:
            wire["RoutingConfig"] = {"RoutingStrategy": self.routing_strategy}
        return wire


@dataclass
class EndpointRecord:
    name: str
    arn: str
    config_name: str
    creation_time: datetime
    last_modified_time: datetime
    status: EndpointStatus = EndpointStatus.CREATING
    failure_reason: str | None = None
    variants: list[VariantState] = field(default_factory=list)
    pending_config_name: str | None = None
    """The config an UpdateEndpoint is moving to, while Updating."""
    pending_variants: list[VariantState] = field(default_factory=list)
    async_config: dict[str, Any] | None = None
    """The AsyncInferenceConfig of the config it serves: set, it takes asynchronous invocations
    only."""

    def describe(self, current: Mapping[str, tuple[int, float]] | None = None) -> dict[str, Any]:
        """`current`: per variant, the instance count and weight that really serve."""
        wire: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config_name,
            "EndpointStatus": self.status.value,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }
        # Variants are reported once they serve (the real service shows none while Creating).
        if self.variants and self.status in (EndpointStatus.IN_SERVICE, EndpointStatus.UPDATING):
            wire["ProductionVariants"] = [
                v.to_wire(self.last_modified_time, (current or {}).get(v.variant_name))
                for v in self.variants
            ]
        if self.failure_reason is not None:
            wire["FailureReason"] = self.failure_reason
        return wire

    def summary(self) -> dict[str, Any]:
        return {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "EndpointStatus": self.status.value,
        }
