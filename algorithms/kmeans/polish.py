"""The polish after shrinking: Lloyd's iterations over the training rows, in bounded memory.

The real ``kmeans:1`` image stops after shrinking; this emulator polishes the k centres with
Lloyd's iterations over the rows themselves (see ``train``), without ever holding more than
``sample_bytes`` of rows, whatever the channel's size:

1. During the streaming pass every host keeps a uniform random sample of its rows (a reservoir,
   Vitter's algorithm R), at most ``sample_bytes`` of float32. Data that fits is kept whole.
2. Lloyd's iterations over the samples until the mean squared distance improves by less than
   ``local_lloyd_tol`` (at most ``local_lloyd_max_iter``). Each host's rows weigh
   ``rows seen / rows kept``, so hosts with more data count for more.
3. When some host could not keep all its rows, ``passes`` Lloyd steps over the whole channel,
   read again from the start (a Pipe channel's next epoch): the sample's centres are means of a
   sample; one step over every row moves them to the means of the data.

Every sum goes through the collective (``Solo`` on one host hands it back), so one host and
several take the same steps. ``benchmarks/kmeans_scale_bench.py`` measured the sample size and
the number of passes (benchmarks/RESULTS.md, "k-means at scale").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from algorithms.common.collective import Collective
from algorithms.kmeans.fit import F64, assign, cluster_sums

F32 = npt.NDArray[np.float32]

SAMPLE_BYTES_ENV = "SAGEMAKER_EMULATOR_KMEANS_SAMPLE_BYTES"
SAMPLE_BYTES = 256 << 20
"""Rows kept for the polish, per host: with the rest of the algorithm (a few mini-batches, the
K streaming centres, BLAS buffers) the process stays well under 1 GiB."""
PASSES_ENV = "SAGEMAKER_EMULATOR_KMEANS_POLISH_PASSES"
PASSES = 1
"""Lloyd steps over the whole channel after the sample's, when the sample is not all the rows."""
# Rows per Lloyd chunk over the sample (views, no copies).
_CHUNK_ROWS = 8192


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        return default
    return max(value, 0)


def sample_bytes() -> int:
    """The per-host sample budget (``SAGEMAKER_EMULATOR_KMEANS_SAMPLE_BYTES`` overrides)."""
    return _env_int(SAMPLE_BYTES_ENV, SAMPLE_BYTES)


def streamed_passes() -> int:
    """Passes over the channel after the sample's Lloyd (``..._POLISH_PASSES`` overrides)."""
    return _env_int(PASSES_ENV, PASSES)


class RowSample:
    """A uniform random sample of at most ``capacity`` rows of a stream (algorithm R).

    The buffer is reserved up front but only the rows written occupy memory, so small data costs
    what it holds."""

    def __init__(self, capacity_bytes: int, feature_dim: int, rng: np.random.Generator) -> None:
        self.capacity = max(capacity_bytes // (4 * max(feature_dim, 1)), 0)
        self.rng = rng
        self._rows: F32 = np.empty((self.capacity, feature_dim), dtype=np.float32)
        self.seen = 0

    @property
    def kept(self) -> int:
        return min(self.seen, self.capacity)

    @property
    def complete(self) -> bool:
        """Whether every row seen is in the sample."""
        return self.seen <= self.capacity

    @property
    def rows(self) -> F32:
        return self._rows[: self.kept]

    def add(self, batch: npt.NDArray[np.floating]) -> None:
        n = batch.shape[0]
        fill = min(max(self.capacity - self.seen, 0), n)
        if fill:
            self._rows[self.seen : self.seen + fill] = batch[:fill]
        if fill < n and self.capacity:
            # Row number i (0-based) replaces a random slot with probability capacity / (i + 1).
            numbers = np.arange(self.seen + fill, self.seen + n, dtype=np.int64)
            slots = self.rng.integers(0, numbers + 1)
            taken = np.flatnonzero(slots < self.capacity)
            slots = slots[taken]
            # Two rows of one batch drawing the same slot: the later one wins, as one at a time.
            _, last_first = np.unique(slots[::-1], return_index=True)
            last = slots.shape[0] - 1 - last_first
            self._rows[slots[last]] = batch[fill + taken[last]]
        self.seen += n

    def chunks(self) -> Iterator[F32]:
        rows = self.rows
        for start in range(0, rows.shape[0], _CHUNK_ROWS):
            yield rows[start : start + _CHUNK_ROWS]

    def release(self) -> None:
        self._rows = np.empty((0, self._rows.shape[1]), dtype=np.float32)


@dataclass(frozen=True)
class Step:
    """One Lloyd's pass: the MSD of ``centres`` over the rows and the next centres."""

    msd: float
    following: F64


def lloyd_step(
    centres: F64, chunks: Iterable[npt.NDArray[np.floating]], weight: float, comm: Collective
) -> Step:
    """Assign every row (of every host) to ``centres``; move each centre to its rows' mean.

    ``weight`` is how many rows each of this host's rows stands for. Empty clusters keep their
    centre."""
    k, dim = centres.shape

    def local() -> F64:
        sums = np.zeros_like(centres)
        counts = np.zeros(k, dtype=np.float64)
        total = 0.0
        rows = 0
        for chunk in chunks:
            labels, dist = assign(chunk, centres)
            chunk_sums, chunk_counts = cluster_sums(chunk, labels, k)
            sums += chunk_sums
            counts += chunk_counts
            total += float(dist.sum())
            rows += chunk.shape[0]
        part: F64 = np.concatenate([[total, float(rows)], counts, sums.ravel()]) * weight
        return part

    # A read error on one host is raised on every host, so none waits in the sum.
    summed = comm.allreduce_sum(comm.run_local(local))
    counts = summed[2 : 2 + k]
    sums = summed[2 + k :].reshape(k, dim)
    following = centres.copy()
    filled = counts > 0
    following[filled] = sums[filled] / counts[filled][:, None]
    return Step(msd=float(summed[0] / max(summed[1], 1e-300)), following=following)


@dataclass(frozen=True)
class Polished:
    centres: F64
    msd: float
    """Over the sample when it held every row; else over the channel, of the centres the last
    pass started from (Lloyd's steps never raise it, so it bounds the final MSD from above)."""
    passes: int
    """How many times the channel was read again."""


def polish(
    centres: F64,
    sample: RowSample,
    max_iter: int,
    tol: float,
    passes: int,
    read_channel: Callable[[int], Iterator[npt.NDArray[np.floating]]],
    comm: Collective,
) -> Polished:
    """Lloyd's over the samples of every host, then ``passes`` steps over every row when a
    sample is not the whole data. ``read_channel(n)`` streams the channel for its ``n``-th
    further pass (1-based)."""
    weight = sample.seen / sample.kept if sample.kept else 0.0
    complete = bool(comm.allreduce_sum(np.array([0.0 if sample.complete else 1.0]))[0] == 0.0)
    previous = np.inf
    msd = np.inf
    for _ in range(max_iter):
        step = lloyd_step(centres, sample.chunks(), weight, comm)
        msd = step.msd
        if np.isfinite(previous) and previous - msd <= tol * previous:
            break
        previous = msd
        centres = step.following
    if complete:
        return Polished(centres=centres, msd=msd, passes=0)
    sample.release()
    done = 0
    for number in range(1, passes + 1):
        step = lloyd_step(centres, read_channel(number), 1.0, comm)
        msd, centres = step.msd, step.following
        done = number
    return Polished(centres=centres, msd=msd, passes=done)
