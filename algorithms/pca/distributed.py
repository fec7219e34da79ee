"""PCA on several hosts: each host accumulates its own rows, the hosts sum in float64.

Regular mode: every host forms its centred scatter matrix S_h about its own mean m_h (count
n_h); with the global mean m = Σ n_h m_h / n, the scatter of the union is
Σ S_h + Σ n_h (m_h - m)(m_h - m)ᵀ (Chan, Golub & LeVeque's pairwise update), which keeps the
float64 accuracy of the single-host accumulation whatever the data's offset. ``algo-1`` takes
the eigendecomposition of the sum, as one host would of its own.

Randomized mode: the sketch B = Σ H_t X_t, h = Σ H_t 1, Σx and n are sums over rows, so the
hosts' sketches add up (each host draws its own sign matrices: rank r seeds with seed + r);
so do the subspace passes' A Q and residuals. ``algo-1`` derives each next basis and sends it
to all hosts, so every host multiplies by the very same matrix.

Returns the model on ``algo-1`` and None elsewhere. A host whose channel is empty contributes
zeros (it still takes part in every sum).
"""

from __future__ import annotations

import numpy as np

from algorithms.common.collective import Collective
from algorithms.common.failures import ClientError
from algorithms.pca.fit import (
    F64,
    POWER_ITERATIONS,
    RANDOM_SEED,
    BatchSource,
    GramAccumulator,
    PcaModel,
    SignSketch,
    SubspaceAccumulator,
    scatter_model,
)


def _no_data() -> ClientError:
    return ClientError("No training data was found in the 'train' channel of any host")


def _not_finite() -> ClientError:
    return ClientError("The training data contains NaN or infinite values")


def fit_regular(
    source: BatchSource,
    feature_dim: int,
    num_components: int,
    subtract_mean: bool,
    comm: Collective,
) -> PcaModel | None:
    acc = GramAccumulator(feature_dim, subtract_mean)

    def accumulate() -> None:
        for batch in source():
            acc.add(batch)

    comm.run_local(accumulate)
    scatter, local_mean = acc.scatter()
    count = float(acc.count)
    mean: F64 | None = None
    if subtract_mean:
        mine = np.zeros(feature_dim) if local_mean is None else local_mean
        totals = comm.allreduce_sum(np.concatenate([[count], count * mine]))
        total_count = totals[0]
        if total_count > 0:
            mean = totals[1:] / total_count
            offset = mine - mean
            scatter = scatter + count * np.outer(offset, offset)
    summed = comm.reduce_sum(np.concatenate([[count], scatter.ravel()]))

    def finish() -> PcaModel | None:
        if summed is None:
            return None
        if summed[0] == 0:
            raise _no_data()
        if not (np.isfinite(summed).all() and (mean is None or np.isfinite(mean).all())):
            raise _not_finite()
        return scatter_model(summed[1:].reshape(feature_dim, feature_dim), mean, num_components)

    return comm.run_local(finish)


def _sum_into(comm: Collective, arrays: list[F64], count: int, everywhere: bool) -> list[F64]:
    """Sum a list of arrays and a count over the hosts in one message: the count comes last."""
    flat = np.concatenate([a.ravel() for a in arrays] + [np.array([float(count)])])
    summed = comm.allreduce_sum(flat) if everywhere else comm.reduce_sum(flat)
    if summed is None:
        return []
    out: list[F64] = []
    start = 0
    for a in arrays:
        out.append(summed[start : start + a.size].reshape(a.shape))
        start += a.size
    out.append(summed[start:])
    return out


def _combine_subspace(comm: Collective, acc: SubspaceAccumulator) -> bool:
    """Sum the hosts' A Q parts into ``acc`` on the leader; True there."""
    parts = _sum_into(comm, [acc.image, acc.residual], acc.count, everywhere=False)
    if not parts:
        return False
    acc.image, acc.residual, count = parts
    acc.count = int(count[0])
    return True


def fit_randomized(
    source: BatchSource,
    feature_dim: int,
    num_components: int,
    subtract_mean: bool,
    sketch_size: int,
    comm: Collective,
    seed: int = RANDOM_SEED,
    power_iterations: int = POWER_ITERATIONS,
) -> PcaModel | None:
    sketch = SignSketch(feature_dim, max(sketch_size, num_components), seed + comm.rank)

    def sketch_pass() -> None:
        for batch in source():
            sketch.add(batch)

    comm.run_local(sketch_pass)
    parts = _sum_into(
        comm, [sketch.sketch, sketch.sign_sums, sketch.total], sketch.count, everywhere=False
    )

    def first_basis() -> tuple[F64, F64 | None] | None:
        if not parts:
            return None
        sketch.sketch, sketch.sign_sums, sketch.total, count = parts
        sketch.count = int(count[0])
        if sketch.count == 0:
            raise _no_data()
        return sketch.basis(subtract_mean), sketch.mean if subtract_mean else None

    basis, mean = comm.broadcast(comm.run_local(first_basis))
    for _ in range(power_iterations):
        power = SubspaceAccumulator(basis, mean)

        def power_pass(acc: SubspaceAccumulator = power) -> None:
            for batch in source():
                acc.add(batch)

        comm.run_local(power_pass)
        leader = _combine_subspace(comm, power)

        def next_basis(acc: SubspaceAccumulator = power, mine: bool = leader) -> F64 | None:
            return acc.next_basis() if mine else None

        basis = comm.broadcast(comm.run_local(next_basis))
    refine = SubspaceAccumulator(basis, mean)

    def refine_pass() -> None:
        for batch in source():
            refine.add(batch)

    comm.run_local(refine_pass)
    leader = _combine_subspace(comm, refine)

    def finish() -> PcaModel | None:
        return refine.model(num_components) if leader else None

    return comm.run_local(finish)
