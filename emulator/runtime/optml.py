"""The host-side /opt/ml tree of one container: its paths and its config JSONs.

The layout is the real training container's (docs/sagemaker-facts.md#training-container).

Containers never talk to S3: the control plane builds this tree (config JSONs, staged channels)
before `train` starts and reads the model and failure file back from it afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algorithms.common.optml import OptMl


class OptMlTree(OptMl):
    """An /opt/ml tree rooted at a host directory: the container's layout (one definition, in
    algorithms.common.optml), plus what the control plane does with it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)

    @property
    def input_data_dir(self) -> Path:
        return self.root / "input" / "data"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir(channel)

    def create(self) -> None:
        """Make the empty tree (a fresh tree for every job or serving container)."""
        if self.root.exists():
            shutil.rmtree(self.root)
        for path in (self.config_dir, self.input_data_dir, self.model_dir, self.output_data_dir):
            path.mkdir(parents=True, exist_ok=True)

    def write_training_config(
        self, request: dict[str, Any], layout: HostLayout | None = None, host: str = "algo-1"
    ) -> None:
        """Write hyperparameters.json, inputdataconfig.json and resourceconfig.json (for `host`
        of the job's `layout`; one host when None).

        Their shapes: docs/sagemaker-facts.md#training-container.
        """
        # Every hyperparameter value is a string, as the real service writes them.
        hyperparameters = {k: str(v) for k, v in request.get("HyperParameters", {}).items()}
        _write_json(self.config_dir / "hyperparameters.json", hyperparameters)
        _write_json(
            self.config_dir / "inputdataconfig.json",
            input_data_config(request.get("InputDataConfig", []), request),
        )
        layout = layout or host_layout(request)
        _write_json(self.config_dir / "resourceconfig.json", resource_config(layout, host))

    def read_failure(self, limit: int = 1024) -> str | None:
        """The first `limit` characters of output/failure (DescribeTrainingJob.FailureReason)."""
        try:
            text = self.failure_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        text = text.strip()
        return text[:limit] if text else None


def input_data_config(channels: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    """inputdataconfig.json: one key per channel; ContentType only where the request set it."""
    default_mode = request.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    config: dict[str, Any] = {}
    for channel in channels:
        entry: dict[str, Any] = {}
        if "ContentType" in channel:
            entry["ContentType"] = channel["ContentType"]
        entry["TrainingInputMode"] = channel.get("InputMode", default_mode)
        s3 = channel["DataSource"].get("S3DataSource", {})
        # Note the key is S3DistributionType here, not S3DataDistributionType.
        entry["S3DistributionType"] = s3.get("S3DataDistributionType", "FullyReplicated")
        entry["RecordWrapperType"] = channel.get("RecordWrapperType", "None")
        if channel.get("CompressionType", "None") != "None":
            entry["CompressionType"] = channel["CompressionType"]
        config[channel["ChannelName"]] = entry
    return config


HOMOGENEOUS_GROUP = "homogeneousCluster"
"""The group name of a job without ResourceConfig.InstanceGroups, as the real service names it."""


@dataclass(frozen=True)
class InstanceGroup:
    name: str
    instance_type: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class HostLayout:
    """A training job's hosts (algo-1..N) and their instance groups."""

    groups: tuple[InstanceGroup, ...]

    @property
    def hosts(self) -> list[str]:
        """All hosts, in order (algo-1, algo-2, ..., algo-10: numeric, not string order)."""
        return sorted(
            (h for g in self.groups for h in g.hosts), key=lambda h: int(h.rsplit("-", 1)[1])
        )

    def group_of(self, host: str) -> InstanceGroup:
        return next(g for g in self.groups if host in g.hosts)


def host_layout(request: dict[str, Any]) -> HostLayout:
    """The hosts of a CreateTrainingJob request: InstanceCount of one type, or the
    InstanceGroups of a heterogeneous cluster (hosts numbered group after group)."""
    resources = request.get("ResourceConfig", {})
    groups = resources.get("InstanceGroups") or [
        {
            "InstanceGroupName": HOMOGENEOUS_GROUP,
            "InstanceType": resources.get("InstanceType", "local"),
            "InstanceCount": resources.get("InstanceCount", 1),
        }
    ]
    made: list[InstanceGroup] = []
    number = 1
    for group in groups:
        count = max(0, int(group.get("InstanceCount", 1)))
        names = tuple(f"algo-{n}" for n in range(number, number + count))
        number += count
        made.append(InstanceGroup(group["InstanceGroupName"], group["InstanceType"], names))
    return HostLayout(tuple(made))


def resource_config(layout: HostLayout, host: str = "algo-1") -> dict[str, Any]:
    """resourceconfig.json of `host`: the shape docs/sagemaker-facts.md#training-container shows
    (top-level hosts sorted; the current host's group and instance type)."""
    group = layout.group_of(host)
    return {
        "current_host": host,
        "current_instance_type": group.instance_type,
        "current_group_name": group.name,
        "hosts": sorted(layout.hosts),
        "instance_groups": [
            {
                "instance_group_name": g.name,
                "instance_type": g.instance_type,
                "hosts": list(g.hosts),
            }
            for g in layout.groups
        ],
        "network_interface_name": "eth0",
    }


def _write_json(path: Path, value: Any) -> None:
    # Write then rename, so a container never sees half a file.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    os.replace(tmp, path)
