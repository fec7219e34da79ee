"""PCA's hyperparameters: the names, defaults and checks of the real ``pca:1`` image.

Defaults are the image's logged ``default-conf.json``: ``algorithm_mode='regular'``,
``subtract_mean='true'``, ``extra_components='-1'``, and the hidden ``force_dense``, ``epochs``,
``_log_level``, ``_kvstore``, ``_num_kv_servers``, ``_num_gpus`` (accepted, no effect here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from algorithms.common.failures import ClientError
from algorithms.common.hyperparameters import (
    BOOLEAN,
    POSITIVE_INT,
    TEXT,
    Choice,
    Integer,
    Param,
    Schema,
)

FEATURE_DIM = Param("feature_dim", POSITIVE_INT, required=True)
MINI_BATCH_SIZE = Param("mini_batch_size", POSITIVE_INT, required=True)
NUM_COMPONENTS = Param("num_components", POSITIVE_INT, required=True)
# ``stable`` is what the Spark SDK (and one example notebook) sends; it means regular here.
ALGORITHM_MODE = Param(
    "algorithm_mode", Choice(("regular", "randomized", "stable")), default="regular"
)
SUBTRACT_MEAN = Param("subtract_mean", BOOLEAN, default="true")
EXTRA_COMPONENTS = Param("extra_components", Integer(minimum=-1), default="-1")
FORCE_DENSE = Param("force_dense", BOOLEAN, default="true")
EPOCHS = Param("epochs", POSITIVE_INT, default=1)
LOG_LEVEL = Param("_log_level", TEXT, default="info")
KVSTORE = Param("_kvstore", TEXT, default="dist_sync")
NUM_KV_SERVERS = Param("_num_kv_servers", TEXT, default="auto")
NUM_GPUS = Param("_num_gpus", TEXT, default="auto")

SCHEMA = Schema(
    [
        FEATURE_DIM,
        MINI_BATCH_SIZE,
        NUM_COMPONENTS,
        ALGORITHM_MODE,
        SUBTRACT_MEAN,
        EXTRA_COMPONENTS,
        FORCE_DENSE,
        EPOCHS,
        LOG_LEVEL,
        KVSTORE,
        NUM_KV_SERVERS,
        NUM_GPUS,
    ]
)


@dataclass(frozen=True)
class PcaHyperparameters:
    feature_dim: int
    mini_batch_size: int
    num_components: int
    randomized: bool
    subtract_mean: bool
    extra_components: int

    @property
    def sketch_size(self) -> int:
        """l of the randomized mode: ``num_components + extra_components``, where the default
        ``-1`` means ``max(10, num_components)`` (DG PCA-reference); at most ``feature_dim``."""
        extra = self.extra_components
        if extra < 0:
            extra = max(10, self.num_components)
        return min(self.feature_dim, self.num_components + extra)

    @classmethod
    def from_raw(cls, raw: Mapping[str, object]) -> PcaHyperparameters:
        parsed = SCHEMA.validate(raw)
        feature_dim = parsed[FEATURE_DIM]
        num_components = parsed[NUM_COMPONENTS]
        if num_components > feature_dim:
            raise ClientError(
                f"num_components (={num_components}) must be less than or equal to "
                f"feature_dim (={feature_dim}): PCA cannot find more components than the "
                "data has dimensions (caused by ValidationError)"
            )
        return cls(
            feature_dim=feature_dim,
            mini_batch_size=parsed[MINI_BATCH_SIZE],
            num_components=num_components,
            randomized=parsed[ALGORITHM_MODE] == "randomized",
            subtract_mean=parsed[SUBTRACT_MEAN],
            extra_components=parsed[EXTRA_COMPONENTS],
        )
