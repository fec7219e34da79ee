"""k-means on several hosts: each streams its own share, ``algo-1`` shrinks the union.

1. Every host runs the streaming pass (``fit.StreamingKMeans``) over its share of ``train``.
2. ``algo-1`` gathers every host's weighted centres and runs the local Lloyd's shrinking over
   their union, as one host does over its own centres; the k centres go to every host.
3. The polish (``polish``) runs over every host's sample of its rows and, when a sample is not
   all the rows, over every host's channel again: each Lloyd's step sums the per-centre sums
   and counts and the squared distances over the hosts, so every host takes the same step and
   stops at the same one.
"""

from __future__ import annotations

import logging

import numpy as np

from algorithms.common.collective import Collective
from algorithms.kmeans.fit import F64, LloydResult, StreamingKMeans, shrink
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


def sum_test_totals(total: float, rows: int, comm: Collective) -> tuple[float, int]:
    """The test channel's summed squared distances and row count over the hosts."""
    summed = comm.allreduce_sum(np.array([total, float(rows)]))
    return float(summed[0]), int(summed[1])
