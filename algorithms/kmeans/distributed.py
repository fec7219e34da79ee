"""k-means on several hosts: each streams its own share, ``algo-1`` shrinks the union.

1. Every host runs the streaming pass (``fit.StreamingKMeans``) over its share of ``train``.
2. ``algo-1`` gathers every host's weighted centres and runs the local Lloyd's shrinking over
   their union, as one host does over its own centres; the k centres go to every host.
3. The polish (``train.refine``) runs on the rows every host cached: each Lloyd's iteration
   sums the per-centre sums and counts and the squared distances over the hosts, so every host
   takes the same step and stops at the same one.
"""

from __future__ import annotations

import logging

import numpy as np

from algorithms.common.collective import Collective
from algorithms.common.trainjob import Batch
from algorithms.kmeans.fit import F64, LloydResult, StreamingKMeans, assign, cluster_sums, shrink
from algorithms.kmeans.hyperparameters import KMeansHyperparameters


def shrink_union(
    stream: StreamingKMeans,
    hp: KMeansHyperparameters,
    rng: np.random.Generator,
    comm: Collective,
    log: logging.Logger,
) -> tuple[F64, float]:
    """The k centres and the winning trial's weighted MSD, on every host."""
    parts = comm.gather((stream.centres, stream.weights))

    def on_leader() -> tuple[F64, float] | None:
        if parts is None:
            return None
        centres = np.concatenate([c for c, _ in parts])
        weights = np.concatenate([w for _, w in parts])
        log.info(f"shrinking {centres.shape[0]} centers from {comm.size} hosts into {hp.k}")

        def report(trial: int, result: LloydResult) -> None:
            log.info(f"local kmeans attempt #{trial}. Current mean square distance {result.msd:f}")

        best = shrink(
            centres,
            weights,
            hp.k,
            hp.local_lloyd_init_method,
            hp.local_lloyd_max_iter,
            hp.local_lloyd_tol,
            hp.local_lloyd_num_trials,
            rng,
            report,
        )
        log.info(f"finished shrinking process. Mean Square Distance = {best.msd:g}")
        return best.centres, best.msd

    result: tuple[F64, float] = comm.broadcast(comm.run_local(on_leader))
    return result


def all_cached(cache: list[Batch] | None, comm: Collective) -> bool:
    """Whether every host kept its rows (the polish needs all of them)."""
    missing = comm.allreduce_sum(np.array([0.0 if cache is not None else 1.0]))
    return bool(missing[0] == 0.0)


def _pass(centres: F64, batches: list[Batch], comm: Collective) -> tuple[float, F64, F64]:
    """One pass over every host's rows: the MSD and the per-cluster sums and counts."""
    k, dim = centres.shape
    sums = np.zeros_like(centres)
    counts = np.zeros(k, dtype=np.float64)
    total = 0.0
    rows = 0
    for batch in batches:
        labels, dist = assign(batch, centres)
        batch_sums, batch_counts = cluster_sums(batch, labels, k)
        sums += batch_sums
        counts += batch_counts
        total += float(dist.sum())
        rows += batch.shape[0]
    summed = comm.allreduce_sum(np.concatenate([[total, float(rows)], counts, sums.ravel()]))
    return (
        float(summed[0] / max(summed[1], 1.0)),
        summed[2 + k :].reshape(k, dim),
        summed[2 : 2 + k],
    )


def refine(
    centres: F64, batches: list[Batch], max_iter: int, tol: float, comm: Collective
) -> tuple[F64, float]:
    """``train.refine`` over the union of the hosts' cached rows."""
    previous = np.inf
    for _ in range(max_iter):
        msd, sums, counts = _pass(centres, batches, comm)
        if np.isfinite(previous) and previous - msd <= tol * previous:
            return centres, msd
        previous = msd
        filled = counts > 0
        centres = centres.copy()
        centres[filled] = sums[filled] / counts[filled][:, None]
    return centres, _pass(centres, batches, comm)[0]


def sum_test_totals(total: float, rows: int, comm: Collective) -> tuple[float, int]:
    """The test channel's summed squared distances and row count over the hosts."""
    summed = comm.allreduce_sum(np.array([total, float(rows)]))
    return float(summed[0]), int(summed[1])
