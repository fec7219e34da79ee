"""The host-side /opt/ml tree of one container: its paths and its config JSONs.

The layout is the real training container's (docs/sagemaker-facts.md#training-container).

Containers never talk to S3: the control plane builds this tree (config JSONs, staged channels)
before `train` starts and reads the model and failure file back from it afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from algorithms.common.optml import OptMl


class ChannelConfig(Protocol):
    """What inputdataconfig.json says of a channel (a training job spec's channel fits)."""

    @property
    def name(self) -> str: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def input_mode(self) -> str: ...
    @property
    def distribution(self) -> str: ...
    @property
    def record_wrapper(self) -> str: ...
    @property
    def compression(self) -> str: ...


class TrainingConfig(Protocol):
    """What the config files of a training container say (a training job spec fits)."""

    @property
    def hyperparameters(self) -> Mapping[str, str]: ...
    @property
    def channels(self) -> Sequence[ChannelConfig]: ...
    @property
    def layout(self) -> HostLayout: ...


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

    def write_training_config(self, job: TrainingConfig, host: str = "algo-1") -> None:
        """Write hyperparameters.json, inputdataconfig.json and resourceconfig.json (for `host`
        of the job's layout).

        Their shapes: docs/sagemaker-facts.md#training-container.
        """
        _write_json(self.config_dir / "hyperparameters.json", dict(job.hyperparameters))
        _write_json(self.config_dir / "inputdataconfig.json", input_data_config(job.channels))
        _write_json(self.config_dir / "resourceconfig.json", resource_config(job.layout, host))

    def read_failure(self, limit: int = 1024) -> str | None:
        """The first `limit` characters of output/failure (DescribeTrainingJob.FailureReason)."""
        try:
            text = self.failure_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        text = text.strip()
        return text[:limit] if text else None


def input_data_config(channels: Iterable[ChannelConfig]) -> dict[str, Any]:
    """inputdataconfig.json: one key per channel; ContentType only where the request set it."""
    config: dict[str, Any] = {}
    for channel in channels:
        entry: dict[str, Any] = {}
        if channel.content_type is not None:
            entry["ContentType"] = channel.content_type
        entry["TrainingInputMode"] = channel.input_mode
        # Note the key is S3DistributionType here, not S3DataDistributionType.
        entry["S3DistributionType"] = channel.distribution
        entry["RecordWrapperType"] = channel.record_wrapper
        if channel.compression != "None":
            entry["CompressionType"] = channel.compression
        config[channel.name] = entry
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
