"""Paths of the ``/opt/ml`` tree a SageMaker container sees.

The root is ``$SAGEMAKER_BASE_DIR`` when set (as in the SageMaker training toolkit), so the
same entrypoints run as plain subprocesses on a staged tree outside a container.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ROOT = Path("/opt/ml")
ROOT_ENV = "SAGEMAKER_BASE_DIR"


class OptMl:
    """The container's view of ``/opt/ml``: config, input channels, model and output."""

    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            env = os.environ.get(ROOT_ENV)
            root = Path(env) if env else DEFAULT_ROOT
        self.root = Path(root)

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def hyperparameters_path(self) -> Path:
        return self.config_dir / "hyperparameters.json"

    @property
    def inputdataconfig_path(self) -> Path:
        return self.config_dir / "inputdataconfig.json"

    @property
    def resourceconfig_path(self) -> Path:
        return self.config_dir / "resourceconfig.json"

    def data_dir(self, channel: str) -> Path:
        return self.root / "input" / "data" / channel

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def failure_path(self) -> Path:
        return self.output_dir / "failure"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    def __repr__(self) -> str:
        return f"OptMl({str(self.root)!r})"


def model_file(model_dir: Path, preferred: str = "model_algo-1") -> Path:
    """The model a built-in serves: `model_algo-1`, else the first `model_algo-N` by host number
    (an artifact of several hosts holds what each host wrote; docs/several-instances.md). The
    preferred path when there is none, so the caller's "not found" names it."""
    path = model_dir / preferred
    if path.is_file():
        return path
    found = sorted(
        (p for p in model_dir.glob("model_algo-*") if p.is_file()),
        key=lambda p: (not p.name.rsplit("-", 1)[1].isdigit(), p.name.rsplit("-", 1)[1].zfill(9)),
    )
    return found[0] if found else path
