"""The k-means math of the real ``kmeans:1`` image (DG k-means.md, algo-kmeans-tech-notes.md).

1. Streaming pass: K = k * extra_center_factor centres, initialised from the first mini-batch
   (``random``: K distinct rows; ``kmeans++``: k-means++ seeding over that batch). Each
   mini-batch is assigned to its nearest centres and every centre moves to
   ``(1 - p) * centre + p * mean(new points)`` with ``p = new / (old + new)`` (Sculley's web-scale
   update, done per batch); ``half_life_time_size`` decays the old weights so that a point's
   weight halves after that many further points.
2. Shrinking: weighted Lloyd's over the K centres (weights = points absorbed), seeded by
   ``local_lloyd_init_method``, ``local_lloyd_num_trials`` times; the trial with the lowest
   weighted mean squared distance wins (the real log reports that MSD as ``train msd``).

Assignment is one float32 GEMM per chunk (``-2 x C^T + |c|^2``, argmin); sums per centre are a
one-hot GEMM (few centres) or one ``np.bincount`` over (centre, column) cells (never
``np.add.at``, ~20x slower). Randomness comes from
``RANDOM_SEED`` so runs are reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from algorithms.common.failures import ClientError

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

RANDOM_SEED = 0
# Cap on the (rows x centres) distance block, so memory stays bounded for large K.
BLOCK_ENTRIES = 1 << 22
# Up to this many clusters per-cluster sums are a one-hot GEMM; beyond, a bincount.
ONE_HOT_MAX_CLUSTERS = 128


def _row_blocks(rows: int, centres: int) -> Iterator[slice]:
    step = max(1, BLOCK_ENTRIES // max(centres, 1))
    for start in range(0, rows, step):
        yield slice(start, min(rows, start + step))


def assign(x: npt.NDArray[np.floating], centres: npt.NDArray[np.floating]) -> tuple[I64, F64]:
    """Nearest centre of every row and the squared Euclidean distance to it (float64, >= 0)."""
    c32 = np.ascontiguousarray(centres, dtype=np.float32)
    x32 = np.asarray(x, dtype=np.float32)
    half_norms = 0.5 * np.einsum("ij,ij->i", c32, c32)
    labels = np.empty(x32.shape[0], dtype=np.int64)
    dist = np.empty(x32.shape[0], dtype=np.float64)
    for block in _row_blocks(x32.shape[0], c32.shape[0]):
        xb = x32[block]
        # argmin |x-c|^2 = argmin (|c|^2/2 - x.c); one GEMM, no (b, K, d) temporaries.
        scores = xb @ c32.T
        np.subtract(half_norms, scores, out=scores)
        best = scores.argmin(axis=1)
        labels[block] = best
        best_scores = scores[np.arange(best.shape[0]), best].astype(np.float64)
        x_norms = np.einsum("ij,ij->i", xb, xb, dtype=np.float64)
        dist[block] = np.maximum(x_norms + 2.0 * best_scores, 0.0)
    return labels, dist


def cluster_sums(
    x: npt.NDArray[np.floating], labels: I64, n_clusters: int, weights: F64 | None = None
) -> tuple[F64, F64]:
    """Per-cluster (weighted) row sums (n_clusters, d) and (weighted) counts (n_clusters,).

    Few clusters: a one-hot (K x b) matrix times the rows, one small GEMM (cost K*b*d). Many:
    one ``np.bincount`` over (cluster, column) cells (cost b*d, float64 accumulation). Both
    beat sort + reduceat; neither is ``np.add.at``.
    """
    rows, dim = x.shape
    counts = np.bincount(labels, weights=weights, minlength=n_clusters).astype(np.float64)
    if rows == 0:
        return np.zeros((n_clusters, dim), dtype=np.float64), counts
    if n_clusters <= ONE_HOT_MAX_CLUSTERS:
        dtype = np.float64 if x.dtype == np.float64 else np.float32
        one_hot = (labels[None, :] == np.arange(n_clusters)[:, None]).astype(dtype)
        if weights is not None:
            one_hot *= weights.astype(dtype)[None, :]
        dense: F64 = (one_hot @ np.asarray(x, dtype=dtype)).astype(np.float64, copy=False)
        return dense, counts
    cells = labels[:, None] * dim + np.arange(dim)
    values = x if weights is None else x * weights[:, None]
    flat = np.bincount(cells.ravel(), weights=values.ravel(), minlength=n_clusters * dim)
    sums: F64 = flat.astype(np.float64, copy=False).reshape(n_clusters, dim)
    return sums, counts


def kmeans_plus_plus(
    points: npt.NDArray[np.floating], weights: F64, k: int, rng: np.random.Generator
) -> F64:
    """Greedy k-means++ seeding over weighted points (Arthur & Vassilvitskii; the greedy variant
    scikit-learn uses): each step draws ``2 + log k`` candidates by D^2 * weight and keeps the
    one that lowers the weighted potential most. Distances come from one GEMM per step."""
    # float32 throughout: seeding only needs the order of distances, and the points matrix is
    # read once per step, so halving its size halves the cost.
    pts = np.ascontiguousarray(points, dtype=np.float32)
    n = pts.shape[0]
    norms = np.einsum("ij,ij->i", pts, pts)
    mass_weights = weights.astype(np.float32)
    candidates_per_step = 2 + int(np.log(k))
    picked = np.empty(k, dtype=np.int64)
    picked[0] = int(rng.choice(n, p=weights / weights.sum()))
    closest = np.maximum(norms - 2.0 * (pts @ pts[picked[0]]) + norms[picked[0]], 0.0)
    for i in range(1, k):
        cumulative = np.cumsum(closest * mass_weights, dtype=np.float64)
        if cumulative[-1] <= 0.0:
            # Every point coincides with a chosen centre: any live point will do.
            picks = rng.choice(n, size=1, p=weights / weights.sum())
        else:
            draws = rng.random(candidates_per_step) * cumulative[-1]
            picks = np.minimum(np.searchsorted(cumulative, draws, side="right"), n - 1)
        dist = pts @ pts[picks].T
        dist *= -2.0
        dist += norms[:, None]
        dist += norms[picks][None, :]
        np.maximum(dist, 0.0, out=dist)
        np.minimum(dist, closest[:, None], out=dist)
        best = int(np.argmin(mass_weights @ dist))
        picked[i] = picks[best]
        closest = np.ascontiguousarray(dist[:, best])
    chosen: F64 = np.asarray(points, dtype=np.float64)[picked]
    return chosen


def random_init(
    points: npt.NDArray[np.floating], weights: F64, k: int, rng: np.random.Generator
) -> F64:
    """k distinct points drawn with probability proportional to weight."""
    idx = rng.choice(points.shape[0], size=k, replace=False, p=weights / weights.sum())
    return np.asarray(points, dtype=np.float64)[idx]


INITIALISERS: dict[
    str, Callable[[npt.NDArray[np.floating], F64, int, np.random.Generator], F64]
] = {
    "kmeans++": kmeans_plus_plus,
    "random": random_init,
}


class StreamingKMeans:
    """Pass 1: K centres updated mini-batch by mini-batch (Sculley), with per-centre weights."""

    def __init__(
        self,
        n_centres: int,
        feature_dim: int,
        init_method: str,
        half_life_time_size: int,
        rng: np.random.Generator,
    ) -> None:
        self.n_centres = n_centres
        self.feature_dim = feature_dim
        self.init_method = init_method
        self.half_life_time_size = half_life_time_size
        self.rng = rng
        self.centres: F64 = np.zeros((0, feature_dim), dtype=np.float64)
        self.weights: F64 = np.zeros(0, dtype=np.float64)
        self.records = 0

    @property
    def initialised(self) -> bool:
        return bool(self.centres.shape[0] > 0)

    def initialise(self, first_batch: npt.NDArray[np.floating]) -> None:
        """Seed from the first mini-batch; K shrinks to its row count if the batch is smaller."""
        rows = first_batch.shape[0]
        self.n_centres = min(self.n_centres, rows)
        uniform = np.ones(rows, dtype=np.float64)
        self.centres = INITIALISERS[self.init_method](
            first_batch, uniform, self.n_centres, self.rng
        )
        # Seeds carry no weight: the first batch itself is then streamed through ``update``,
        # as the real image reads the data once to initialise and once to train.
        self.weights = np.zeros(self.n_centres, dtype=np.float64)

    def update(self, batch: npt.NDArray[np.floating]) -> None:
        rows = batch.shape[0]
        if rows == 0:
            return
        if self.half_life_time_size > 0:
            self.weights *= 0.5 ** (rows / self.half_life_time_size)
        labels, _ = assign(batch, self.centres)
        sums, counts = cluster_sums(batch, labels, self.n_centres)
        hit = counts > 0
        share = counts[hit] / (self.weights[hit] + counts[hit])
        means = sums[hit] / counts[hit][:, None]
        self.centres[hit] += share[:, None] * (means - self.centres[hit])
        self.weights += counts
        self.records += rows


@dataclass(frozen=True)
class LloydResult:
    centres: F64
    msd: float
    iterations: int


def weighted_lloyd(
    points: F64,
    weights: F64,
    k: int,
    init_method: str,
    max_iter: int,
    tol: float,
    rng: np.random.Generator,
) -> LloydResult:
    """One local Lloyd's trial over weighted points; MSD = sum(w * d^2) / sum(w)."""
    centres = INITIALISERS[init_method](points, weights, k, rng)
    total_weight = weights.sum()
    previous = np.inf
    msd = np.inf
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - reported after the loop
        labels, dist = assign(points, centres)
        msd = float((dist * weights).sum() / total_weight)
        sums, counts = cluster_sums(points, labels, k, weights)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled][:, None]
        if np.isfinite(previous) and previous - msd <= tol * previous:
            break
        previous = msd
    labels, dist = assign(points, centres)
    msd = float((dist * weights).sum() / total_weight)
    return LloydResult(centres=centres, msd=msd, iterations=iteration)


def squared_distances_to(x: npt.NDArray[np.floating], centres: npt.NDArray[np.floating]) -> F64:
    """Squared distance of every row to its closest centre (test msd / ssd)."""
    return assign(x, centres)[1]


def check_batch(batch: npt.NDArray[np.floating], feature_dim: int) -> None:
    if batch.ndim != 2 or batch.shape[1] != feature_dim:
        width = batch.shape[1] if batch.ndim == 2 else batch.shape
        raise ClientError(
            f"The training data has {width} feature(s) per record but feature_dim is {feature_dim}"
        )
    if not np.isfinite(batch).all():
        raise ClientError("The training data contains NaN or infinite values")


def shrink(
    centres: F64,
    weights: F64,
    k: int,
    init_method: str,
    max_iter: int,
    tol: float,
    trials: int,
    rng: np.random.Generator,
    on_trial: Callable[[int, LloydResult], None] | None = None,
) -> LloydResult:
    """Reduce the weighted streaming centres to k by the best of ``trials`` Lloyd's runs."""
    live = weights > 0
    points, mass = centres[live], weights[live]
    if points.shape[0] < k:
        raise ClientError(
            f"k (={k}) is larger than the number of distinct groups of records the data "
            f"supports ({points.shape[0]}): provide more records or a smaller k"
        )
    best: LloydResult | None = None
    for trial in range(trials):
        result = weighted_lloyd(points, mass, k, init_method, max_iter, tol, rng)
        if on_trial is not None:
            on_trial(trial, result)
        if best is None or result.msd < best.msd:
            best = result
    assert best is not None
    return best
