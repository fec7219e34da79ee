"""``train`` for PCA: read the config and the ``train`` channel, fit, write ``model_algo-1``.

On several hosts each reads its own share of ``train`` and ``algo-1`` writes the model of the
union (``distributed``); the others write none."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from algorithms.common import collective, logs, ndarray_file
from algorithms.common.cluster import Cluster
from algorithms.common.failures import ClientError
from algorithms.common.optml import OptMl
from algorithms.common.trainjob import Batch, Tally, TrainingJob
from algorithms.pca import distributed
from algorithms.pca.fit import (
    CHUNK_ROWS,
    POWER_ITERATIONS,
    PcaModel,
    fit_randomized,
    fit_regular,
)
from algorithms.pca.hyperparameters import SCHEMA, PcaHyperparameters

MODEL_FILE = "model_algo-1"
ALGORITHM = "PCA"


def save_model(model: PcaModel, path: Path) -> None:
    """The real artifact: a named NDArray list ``s``, ``v``, ``mean`` (mean only if centred)."""
    arrays = {"s": model.s, "v": model.v}
    if model.mean is not None:
        arrays["mean"] = model.mean
    ndarray_file.save(path, arrays)


def train(optml: OptMl) -> None:
    started = time.time()
    log = logs.get_logger()
    job = TrainingJob(optml)
    job.log_configuration(SCHEMA.defaults)
    hp = PcaHyperparameters.from_raw(job.hyperparameters)
    metrics = logs.MetricsLog(ALGORITHM, host=job.host)
    if not job.has_channel("train"):
        raise ClientError("The 'train' channel is required but was not provided")
    log.info("The default executor is <PCAExecutor on cpu(0)>.")
    log.info(f"{hp.feature_dim} feature(s) found in 'data'.")
    # The result does not depend on how rows are grouped, so read in GEMM-sized batches.
    read_rows = max(hp.mini_batch_size, CHUNK_ROWS)
    tally = Tally()

    def source() -> Iterator[Batch]:
        return tally.count(job.batches("train", read_rows, hp.feature_dim))

    with metrics.timed("initialize.time"):
        setup_done = time.time()
    cluster = Cluster.from_config(job.resourceconfig)
    comm = collective.connect(cluster)
    update_start = time.time()
    model: PcaModel | None
    if hp.randomized:
        if cluster.size == 1:
            model = fit_randomized(
                source, hp.feature_dim, hp.num_components, hp.subtract_mean, hp.sketch_size
            )
        else:
            model = distributed.fit_randomized(
                source, hp.feature_dim, hp.num_components, hp.subtract_mean, hp.sketch_size, comm
            )
        passes = 2 + POWER_ITERATIONS  # the sketch, power iterations, the Nystrom pass
    else:
        if cluster.size == 1:
            model = fit_regular(source(), hp.feature_dim, hp.num_components, hp.subtract_mean)
        else:
            model = distributed.fit_regular(
                source, hp.feature_dim, hp.num_components, hp.subtract_mean, comm
            )
        passes = 1
    comm.close()
    update_end = time.time()
    rows, batches = tally.rows // passes, tally.batches // passes

    metrics.iterator_stats("init_train_data_iter", rows, batches, update_start)
    logs.progress_metric(100.0, host=job.host)
    metrics.line(
        {"epochs": 1, "update.time": (update_end - update_start) * 1000.0}, update_start, update_end
    )
    metrics.iterator_stats("training_data_iter", rows, batches, update_start)
    logs.throughput_metric(rows / max(update_end - update_start, 1e-9), host=job.host)

    with metrics.timed("finalize.time"):
        optml.model_dir.mkdir(parents=True, exist_ok=True)
        # Only algo-1 holds the model of several hosts; the others leave model/ empty.
        if model is not None:
            save_model(model, optml.model_dir / MODEL_FILE)
    if not job.has_channel("test"):
        log.info("Test data is not provided.")
    end = time.time()
    metrics.line(
        {"setuptime": (setup_done - started) * 1000.0, "totaltime": (end - started) * 1000.0},
        started,
        end,
    )
