"""``train`` for k-means: stream the ``train`` channel, shrink, write ``model_algo-1``.

After the real algorithm (see ``fit``) this emulator adds one step the real image does not
document: Lloyd's iterations over the rows themselves polish the k centres (``polish``: over a
bounded sample of the rows kept during the streaming pass, the whole data when it fits, then,
when it did not fit, one more read of the channel). The weighted shrinking works on the K
streaming cells, which cannot be split, so it stops a few percent short of what k-means on the
rows reaches (census k=7: 1-4% worse than scikit-learn before the polish, <1% after). ``train
msd`` stays the best shrinking trial's MSD, the number the real image reports.

Memory does not grow with the data: one mini-batch at a time, the K streaming centres, and the
sample (at most ``polish.sample_bytes()``). The channel is read ``epochs`` times for the
streaming pass (later epochs from the sample when it holds every row) plus ``polish.passes``
times when the sample does not: each read is a new pass from the start (in Pipe mode, the next
epoch's FIFO).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from algorithms.common import collective, logs, ndarray_file
from algorithms.common.cluster import Cluster
from algorithms.common.collective import Collective
from algorithms.common.failures import ClientError
from algorithms.common.optml import OptMl
from algorithms.common.trainjob import Batch, TrainingJob
from algorithms.kmeans import distributed, polish
from algorithms.kmeans.fit import (
    F64,
    RANDOM_SEED,
    LloydResult,
    StreamingKMeans,
    assign,
    shrink,
)
from algorithms.kmeans.hyperparameters import SCHEMA, KMeansHyperparameters

MODEL_FILE = "model_algo-1"
ALGORITHM = "AWS/KMeansWebscale"
# The polish sample's random numbers: apart from the algorithm's, so that keeping a sample never
# changes the streaming pass or the shrinking trials.
SAMPLE_SEED = RANDOM_SEED + 7919


def save_model(centres: F64, path: Path) -> None:
    """The real artifact: an unnamed NDArray list holding one float32 (k, feature_dim) array."""
    ndarray_file.save(path, [np.ascontiguousarray(centres, dtype=np.float32)])


def train(optml: OptMl) -> None:
    started = time.time()
    log = logs.get_logger()
    job = TrainingJob(optml)
    job.log_configuration(SCHEMA.defaults)
    hp = KMeansHyperparameters.from_raw(job.hyperparameters)
    metrics = logs.MetricsLog(ALGORITHM, host=job.host)
    if not job.has_channel("train"):
        raise ClientError("The 'train' channel is required but was not provided")
    if hp.extra_center_factor_auto:
        log.info(f"'extra_center_factor' was set to 'auto', evaluated to {hp.extra_center_factor}.")
    if hp.local_lloyd_num_trials_auto:
        log.info(
            f"'local_lloyd_num_trials' was set to 'auto', evaluated to {hp.local_lloyd_num_trials}."
        )
    log.info(f"{hp.feature_dim} feature(s) found in 'data'.")
    cluster = Cluster.from_config(job.resourceconfig)
    comm = collective.connect(cluster)
    several = comm.size > 1
    # Each host its own stream of random numbers; algo-1's is the single host's.
    rng = np.random.default_rng(RANDOM_SEED + comm.rank)
    stream = StreamingKMeans(
        hp.k * hp.extra_center_factor,
        hp.feature_dim,
        hp.init_method,
        hp.half_life_time_size,
        rng,
    )
    setup_done = time.time()

    sample = polish.RowSample(
        polish.sample_bytes(), hp.feature_dim, np.random.default_rng(SAMPLE_SEED + comm.rank)
    )
    update_start = time.time()
    records = 0
    batches_seen = 0
    reads = 0

    def read_channel() -> Iterator[Batch]:
        """The ``train`` channel from its start: one more pass over the data."""
        nonlocal reads
        reads += 1
        return job.batches("train", hp.mini_batch_size, hp.feature_dim)

    def stream_pass() -> None:
        nonlocal records, batches_seen
        for epoch in range(hp.epochs):
            source = (
                _rebatched(sample.rows, hp.mini_batch_size)
                if epoch > 0 and sample.complete
                else read_channel()
            )
            for batch in source:
                if not np.isfinite(batch).all():
                    raise ClientError("The 'train' channel contains NaN or infinite values")
                if not stream.initialised:
                    init_start = time.time()
                    if batch.shape[0] < hp.mini_batch_size:
                        log.warning(
                            f"Batch size {hp.mini_batch_size} is bigger than the first batch data. "
                            f"Effective batch size used to initialize is {batch.shape[0]}"
                        )
                    stream.initialise(batch)
                    metrics.line(
                        {"initialize.time": (time.time() - init_start) * 1000.0}, init_start
                    )
                stream.update(batch)
                if epoch == 0:
                    records += batch.shape[0]
                    batches_seen += 1
                    sample.add(batch)
            if epoch == 0 and records == 0 and not several:
                raise ClientError("No training data was found in the 'train' channel")
            metrics.iterator_stats("training_data_iter", records, batches_seen, update_start)
            logs.progress_metric(100.0 * (epoch + 1) / hp.epochs, host=job.host)

    comm.run_local(stream_pass)
    all_records = records
    if several:
        all_records = int(comm.allreduce_sum(np.array([float(records)]))[0])
        if all_records == 0:
            raise ClientError("No training data was found in the 'train' channel of any host")
    if all_records < hp.k:
        raise ClientError(
            f"k (={hp.k}) must not be larger than the number of training records ({all_records})"
        )
    if stream.n_centres < hp.k and not several:
        raise ClientError(
            f"k (={hp.k}) must not be larger than the first mini-batch ({stream.n_centres} "
            "records), from which the centres are initialised"
        )
    update_end = time.time()
    metrics.line(
        {"epochs": hp.epochs, "update.time": (update_end - update_start) * 1000.0},
        update_start,
        update_end,
    )
    logs.throughput_metric(records * hp.epochs / max(update_end - update_start, 1e-9), job.host)

    shrink_start = time.time()
    train_msd: float | None
    if several:
        # The hosts' centres together are always more than k: shrink their union.
        centres, train_msd = distributed.shrink_union(stream, hp, rng, comm, log)
    elif hp.extra_center_factor == 1:
        log.info("No shrinking is required as extra_center_factor is 1.")
        centres = stream.centres
        train_msd = None
    else:
        log.info(f"shrinking {stream.n_centres} centers into {hp.k}")

        def report(trial: int, result: LloydResult) -> None:
            log.info(f"local kmeans attempt #{trial}. Current mean square distance {result.msd:f}")

        best = shrink(
            stream.centres,
            stream.weights,
            hp.k,
            hp.local_lloyd_init_method,
            hp.local_lloyd_max_iter,
            hp.local_lloyd_tol,
            hp.local_lloyd_num_trials,
            rng,
            report,
        )
        log.info(f"finished shrinking process. Mean Square Distance = {best.msd:g}")
        centres = best.centres
        train_msd = best.msd
    metrics.line({"_shrink.time": (time.time() - shrink_start) * 1000.0}, shrink_start)
    if train_msd is not None:
        logs.quality_metric("train", "msd", train_msd, host=job.host)

    finalize_start = time.time()
    polished = polish.polish(
        centres,
        sample,
        hp.local_lloyd_max_iter,
        hp.local_lloyd_tol,
        polish.streamed_passes(),
        lambda _number: read_channel(),
        comm,
    )
    sample.release()
    centres = polished.centres
    if train_msd is None:
        # Nothing was shrunk, so there is no trial MSD: report the rows' own.
        logs.quality_metric("train", "msd", polished.msd, host=job.host)
    log.info(
        f"Polished the centres over {sample.kept} of {sample.seen} rows and "
        f"{polished.passes} further pass(es) over the data; the 'train' channel was read "
        f"{reads} time(s)."
    )
    metrics.line({"finalize.time": (time.time() - finalize_start) * 1000.0}, finalize_start)

    if job.has_channel("test"):
        evaluate_test(job, hp, centres, comm)
    else:
        log.info("Test data is not provided.")
    comm.close()

    with metrics.timed("model.serialize.time"):
        optml.model_dir.mkdir(parents=True, exist_ok=True)
        # Only algo-1 holds the model of several hosts; the others leave model/ empty.
        if comm.is_leader:
            save_model(centres, optml.model_dir / MODEL_FILE)
    end = time.time()
    metrics.line(
        {"setuptime": (setup_done - started) * 1000.0, "totaltime": (end - started) * 1000.0},
        started,
        end,
    )


def _rebatched(rows: Batch, size: int) -> Iterator[Batch]:
    for start in range(0, rows.shape[0], size):
        yield rows[start : start + size]


def evaluate_test(
    job: TrainingJob, hp: KMeansHyperparameters, centres: F64, comm: Collective
) -> None:
    """``test msd`` / ``test ssd`` of the final centres, per ``eval_metrics`` (over the test
    rows of every host)."""
    total = 0.0
    rows = 0

    def local() -> None:
        nonlocal total, rows
        for batch in job.batches("test", hp.mini_batch_size, hp.feature_dim):
            _, dist = assign(batch, centres)
            total += float(dist.sum())
            rows += batch.shape[0]

    comm.run_local(local)
    if comm.size > 1:
        total, rows = distributed.sum_test_totals(total, rows, comm)
    if rows == 0:
        raise ClientError("The 'test' channel holds no records")
    for metric in hp.eval_metrics:
        value = total / rows if metric == "msd" else total
        logs.quality_metric("test", metric, value, host=job.host)
