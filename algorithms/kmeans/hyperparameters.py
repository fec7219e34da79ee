"""k-means' hyperparameters: the names, defaults and checks of the real ``kmeans:1`` image.

Defaults are the image's logged ``default-input.json``. Note that ``fit(record_set)`` in the
SDK sends only ``feature_dim``, ``k`` and ``force_dense``, so every default here is live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from algorithms.common.hyperparameters import (
    BOOLEAN,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    TEXT,
    AutoOr,
    Choice,
    JsonList,
    Param,
    Real,
    Schema,
)

# Declared in this order because the real message names them so: "No value(s) were specified
# for 'k', 'feature_dim' which are required hyperparameter(s)".
K = Param("k", POSITIVE_INT, required=True)
FEATURE_DIM = Param("feature_dim", POSITIVE_INT, required=True)
INIT_METHOD = Param("init_method", Choice(("random", "kmeans++")), default="random")
MINI_BATCH_SIZE = Param("mini_batch_size", POSITIVE_INT, default="5000")
EPOCHS = Param("epochs", POSITIVE_INT, default="1")
EXTRA_CENTER_FACTOR = Param("extra_center_factor", AutoOr(POSITIVE_INT), default="auto")
LOCAL_LLOYD_MAX_ITER = Param("local_lloyd_max_iter", POSITIVE_INT, default="300")
LOCAL_LLOYD_TOL = Param("local_lloyd_tol", Real(0.0, 1.0), default="0.0001")
LOCAL_LLOYD_INIT_METHOD = Param(
    "local_lloyd_init_method", Choice(("random", "kmeans++")), default="kmeans++"
)
LOCAL_LLOYD_NUM_TRIALS = Param("local_lloyd_num_trials", AutoOr(POSITIVE_INT), default="auto")
HALF_LIFE_TIME_SIZE = Param("half_life_time_size", NON_NEGATIVE_INT, default="0")
EVAL_METRICS = Param("eval_metrics", JsonList(("msd", "ssd")), default='["msd"]')
FORCE_DENSE = Param("force_dense", BOOLEAN, default="true")
HIDDEN = [
    Param("_disable_wait_to_read", BOOLEAN, default="false"),
    Param("_enable_profiler", BOOLEAN, default="false"),
    Param("_kvstore", TEXT, default="auto"),
    Param("_log_level", TEXT, default="info"),
    Param("_num_gpus", TEXT, default="auto"),
    Param("_num_kv_servers", TEXT, default="1"),
    Param("_num_slices", TEXT, default="1"),
    Param("_tuning_objective_metric", TEXT, default=""),
]

SCHEMA = Schema(
    [
        K,
        FEATURE_DIM,
        INIT_METHOD,
        MINI_BATCH_SIZE,
        EPOCHS,
        EXTRA_CENTER_FACTOR,
        LOCAL_LLOYD_MAX_ITER,
        LOCAL_LLOYD_TOL,
        LOCAL_LLOYD_INIT_METHOD,
        LOCAL_LLOYD_NUM_TRIALS,
        HALF_LIFE_TIME_SIZE,
        EVAL_METRICS,
        FORCE_DENSE,
        *HIDDEN,
    ]
)

# What 'auto' evaluates to. The real log shows extra_center_factor 'auto' -> 10 (k=8) and ten
# local Lloyd attempts (#0..#9); the rule behind it is unpublished, so we use these constants.
AUTO_EXTRA_CENTER_FACTOR = 10
AUTO_LOCAL_LLOYD_NUM_TRIALS = 10


@dataclass(frozen=True)
class KMeansHyperparameters:
    k: int
    feature_dim: int
    init_method: str
    mini_batch_size: int
    epochs: int
    extra_center_factor: int
    extra_center_factor_auto: bool
    local_lloyd_max_iter: int
    local_lloyd_tol: float
    local_lloyd_init_method: str
    local_lloyd_num_trials: int
    local_lloyd_num_trials_auto: bool
    half_life_time_size: int
    eval_metrics: tuple[str, ...]

    @classmethod
    def from_raw(cls, raw: Mapping[str, object]) -> KMeansHyperparameters:
        parsed = SCHEMA.validate(raw)
        factor = parsed[EXTRA_CENTER_FACTOR]
        trials = parsed[LOCAL_LLOYD_NUM_TRIALS]
        return cls(
            k=parsed[K],
            feature_dim=parsed[FEATURE_DIM],
            init_method=parsed[INIT_METHOD],
            mini_batch_size=parsed[MINI_BATCH_SIZE],
            epochs=parsed[EPOCHS],
            extra_center_factor=AUTO_EXTRA_CENTER_FACTOR if factor is None else factor,
            extra_center_factor_auto=factor is None,
            local_lloyd_max_iter=parsed[LOCAL_LLOYD_MAX_ITER],
            local_lloyd_tol=parsed[LOCAL_LLOYD_TOL],
            local_lloyd_init_method=parsed[LOCAL_LLOYD_INIT_METHOD],
            local_lloyd_num_trials=AUTO_LOCAL_LLOYD_NUM_TRIALS if trials is None else trials,
            local_lloyd_num_trials_auto=trials is None,
            half_life_time_size=parsed[HALF_LIFE_TIME_SIZE],
            eval_metrics=parsed[EVAL_METRICS],
        )
