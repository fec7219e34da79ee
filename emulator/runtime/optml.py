"""The host-side /opt/ml tree of one container: its paths and its config JSONs.

The layout is the real training container's (docs/sagemaker-facts.md#training-container).

Containers never talk to S3: the control plane builds this tree (config JSONs, staged channels)
before `train` starts and reads the model and failure file back from it afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
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

    def write_training_config(self, request: dict[str, Any]) -> None:
        """Write hyperparameters.json, inputdataconfig.json and resourceconfig.json.

        Their shapes: docs/sagemaker-facts.md#training-container.
        """
        # Every hyperparameter value is a string, as the real service writes them.
        hyperparameters = {k: str(v) for k, v in request.get("HyperParameters", {}).items()}
        _write_json(self.config_dir / "hyperparameters.json", hyperparameters)
        _write_json(
            self.config_dir / "inputdataconfig.json",
            input_data_config(request.get("InputDataConfig", []), request),
        )
        _write_json(self.config_dir / "resourceconfig.json", resource_config(request))

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


def resource_config(request: dict[str, Any]) -> dict[str, Any]:
    """resourceconfig.json for the one host the emulator runs (algo-1)."""
    instance_type = request.get("ResourceConfig", {}).get("InstanceType", "local")
    return {
        "current_host": "algo-1",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": instance_type,
                "hosts": ["algo-1"],
            }
        ],
        "network_interface_name": "eth0",
    }


def _write_json(path: Path, value: Any) -> None:
    # Write then rename, so a container never sees half a file.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    os.replace(tmp, path)
