"""What every built-in training run shares: the config files, the channels, the data errors.

``TrainingJob`` reads ``input/config/{hyperparameters,inputdataconfig,resourceconfig}.json``,
logs them the way the real images do, and streams a channel's mini-batches through
``algorithms.common.channels`` with any error the readers raise (bad RecordIO, a CSV row of the
wrong width, ...) turned into a ``ClientError``: bad data is the customer's to fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from algorithms.common import channels, logs
from algorithms.common.failures import ClientError
from algorithms.common.hyperparameters import load_json_object
from algorithms.common.optml import OptMl

Batch = npt.NDArray[np.float32]


def _read_object(path: Path, what: str, required: bool) -> dict[str, object]:
    if not path.exists():
        if required:
            raise ClientError(f"{what} was not found at {path}")
        return {}
    return load_json_object(path.read_text(encoding="utf-8"), what)


class TrainingJob:
    """The container's view of one training run."""

    def __init__(self, optml: OptMl) -> None:
        self.optml = optml
        self.hyperparameters = _read_object(
            optml.hyperparameters_path, "hyperparameters.json", required=False
        )
        self.inputdataconfig = _read_object(
            optml.inputdataconfig_path, "inputdataconfig.json", required=False
        )
        self.resourceconfig = _read_object(
            optml.resourceconfig_path, "resourceconfig.json", required=False
        )
        self._passes: dict[str, int] = {}

    @property
    def host(self) -> str:
        host = self.resourceconfig.get("current_host", "algo-1")
        return host if isinstance(host, str) else "algo-1"

    def log_configuration(self, defaults: Mapping[str, object]) -> None:
        """The real images' opening lines: defaults, what was given, the merged result."""
        log = logs.get_logger()
        log.info(f"Reading default configuration from the algorithm: {dict(defaults)!r}")
        log.info(
            f"Merging with provided configuration from {self.optml.hyperparameters_path}: "
            f"{self.hyperparameters!r}"
        )
        merged = {**defaults, **self.hyperparameters}
        log.info(f"Final configuration: {merged!r}")

    def has_channel(self, channel: str) -> bool:
        if channel in self.inputdataconfig:
            return True
        return self.optml.data_dir(channel).is_dir()

    def content_type(self, channel: str) -> str | None:
        config = self.inputdataconfig.get(channel)
        if isinstance(config, dict):
            value = config.get("ContentType")
            if isinstance(value, str) and value:
                return value
        return None

    def passes_opened(self, channel: str) -> int:
        """How many passes over `channel` were opened so far (the next one's index)."""
        return self._passes.get(channel, 0)

    def batches(
        self, channel: str, batch_size: int, feature_dim: int, pass_index: int | None = None
    ) -> Iterator[Batch]:
        """Stream pass `pass_index` of a channel (None: the pass after the last one opened, so
        each call reads the data once more: in Pipe mode the next epoch's FIFO,
        `<channel>_<pass>`); data errors become ``ClientError`` naming the channel."""
        if pass_index is None:
            pass_index = self.passes_opened(channel)
        self._passes[channel] = max(self.passes_opened(channel), pass_index + 1)
        content_type = self.content_type(channel)
        try:
            iterator = iter(
                channels.iter_channel_batches(
                    self.optml, channel, content_type, batch_size, feature_dim, pass_index
                )
            )
        except ValueError as exc:
            raise ClientError(f"Unable to read the '{channel}' channel: {exc}") from None
        folder = self.optml.data_dir(channel)
        if not folder.is_dir():
            logs.get_logger().info(
                f"Pass {pass_index} over the '{channel}' channel reads the pipe "
                f"{folder.parent / f'{channel}_{pass_index}'}"
            )
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except ValueError as exc:
                # The readers' errors (RecordIOError, CSV errors, unsupported content type)
                # are ValueErrors by contract: all of them are about the input data.
                raise ClientError(f"Unable to read the '{channel}' channel: {exc}") from None
            if batch.ndim != 2 or batch.shape[1] != feature_dim:
                width = batch.shape[1] if batch.ndim == 2 else batch.shape
                raise ClientError(
                    f"The '{channel}' channel has {width} feature(s) per record but "
                    f"feature_dim is {feature_dim}"
                )
            yield batch


class Tally:
    """Counts the rows and batches that pass through it (for the iterator and throughput lines)."""

    def __init__(self) -> None:
        self.rows = 0
        self.batches = 0

    def count(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        for batch in batches:
            self.rows += batch.shape[0]
            self.batches += 1
            yield batch
