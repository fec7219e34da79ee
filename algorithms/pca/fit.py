"""The PCA math, streaming over mini-batches: memory O(feature_dim²) plus one batch.

Regular mode (DG how-pca-works): accumulate Σxᵢᵀxᵢ and Σxᵢ, form the scatter matrix
Σxᵢᵀxᵢ - (1/n)(Σxᵢ)ᵀ(Σxᵢ) and take its top eigenvectors. Two things make that exact to float64
on float32 input: rows are shifted by the first batch's mean before accumulating (so the
subtraction of the mean term does not cancel catastrophically when the data sits far from the
origin), and the Gram matrix is a float64 GEMM (``a.T @ a``, which numpy runs as SYRK) on chunks
converted into one reused buffer. A float32 GEMM would be twice as fast but loses the smallest
components (relative error ≈ 1e-7·s_max²/s_i²), and the float64 one is already far below the
cost of reading the data.

Randomized mode (DG how-pca-works): each mini-batch X_t is multiplied by a random lxb sign
matrix H_t and summed, B = Σ H_t X_t; centring gives C = B - (1/n) h sᵀ with h = Σ H_t 1. The
top right singular vectors of C span the dominant row space. The real service stops there; we
add one more streaming pass that multiplies the centred scatter matrix by that basis and takes
the Nystrom approximation (see ``SubspaceAccumulator``), so ``s`` are accurate singular values of
the data rather than sketch-scaled ones. Memory is O(l·feature_dim).

Output convention (copied from the real artifact): components in **ascending** order of
singular value; ``s`` are singular values of the centred data matrix (not divided by n).
Sign convention (matched against the real service's published projections of the census
table): each column of ``v`` has the sign that LAPACK's symmetric eigensolver (``numpy.linalg.eigh``)
gives for the float64 centred scatter matrix. Randomized mode takes its signs from ``eigh`` of
its estimate of that matrix (the Nystrom approximation) when ``feature_dim`` is small enough to
hold it (``EIGH_SIGN_MAX_DIM``), which reproduces the regular mode's signs once the estimate is
accurate; above that, from ``eigh`` of the estimate restricted to the sketch's subspace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from algorithms.common.failures import ClientError

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

# Rows per GEMM: big enough for BLAS to run near peak, small enough that the float64 copy of a
# chunk stays in cache-friendly territory and is allocated once (first touch of fresh memory is
# the slow part on this kind of machine, performance.md).
CHUNK_ROWS = 8192
# The randomized mode's sign matrices come from this seed, so training is reproducible.
RANDOM_SEED = 0
# Randomized mode: streaming passes of subspace (power) iteration between the sketch and the
# final Nystrom pass. One is enough for the top components to ~1e-6 when the spectrum has a gap,
# and costs one more read of the data (the sketch alone gives ~1e-2 on weak components).
POWER_ITERATIONS = 1
# Randomized mode: the largest feature_dim for which the d x d Nystrom estimate of the scatter
# matrix is formed to read eigh's signs off it (32 MiB of float64; eigh takes about a second).
EIGH_SIGN_MAX_DIM = 2048


@dataclass(frozen=True)
class PcaModel:
    """The artifact's arrays: ``s`` (k,), ``v`` (d, k), ``mean`` (1, d) or None; float32."""

    s: F32
    v: F32
    mean: F32 | None

    def project(self, x: F32) -> F32:
        """``(x - mean) · v``: one row per record, components in the same ascending order as s."""
        if self.mean is not None:
            x = x - self.mean
        out: F32 = np.asarray(x @ self.v, dtype=np.float32)
        return out


def _chunks(
    batch: npt.NDArray[np.floating], rows: int = CHUNK_ROWS
) -> Iterator[npt.NDArray[np.floating]]:
    for start in range(0, batch.shape[0], rows):
        yield batch[start : start + rows]


class _Buffer:
    """One reused float64 scratch matrix (allocating per batch would re-touch fresh pages)."""

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self._data: F64 = np.empty((0, columns), dtype=np.float64)

    def take(self, rows: int) -> F64:
        if self._data.shape[0] < rows:
            self._data = np.empty((rows, self.columns), dtype=np.float64)
        return self._data[:rows]


def _check_width(batch: npt.NDArray[np.floating], feature_dim: int) -> None:
    if batch.ndim != 2 or batch.shape[1] != feature_dim:
        width = batch.shape[1] if batch.ndim == 2 else batch.shape
        raise ClientError(
            f"The training data has {width} feature(s) per record but feature_dim is {feature_dim}"
        )


def _no_data() -> ClientError:
    return ClientError("No training data was found in the 'train' channel")


def _not_finite() -> ClientError:
    return ClientError("The training data contains NaN or infinite values")


def _finish(eigenvalues: F64, eigenvectors: F64, k: int, mean: F64 | None) -> PcaModel:
    """Top-k of an ascending ``eigh`` result → the artifact's ascending float32 arrays.

    The columns keep the signs they come with: ``eigh``'s, which are the real service's.
    """
    values = eigenvalues[-k:]
    vectors = eigenvectors[:, -k:]
    s = np.sqrt(np.clip(values, 0.0, None))
    return PcaModel(
        s=s.astype(np.float32),
        v=vectors.astype(np.float32),
        mean=None if mean is None else mean.reshape(1, -1).astype(np.float32),
    )


class GramAccumulator:
    """Regular mode: shifted Σxᵀx and Σx in float64, one chunk at a time."""

    def __init__(self, feature_dim: int, subtract_mean: bool) -> None:
        self.feature_dim = feature_dim
        self.subtract_mean = subtract_mean
        self.gram: F64 = np.zeros((feature_dim, feature_dim), dtype=np.float64)
        self.total: F64 = np.zeros(feature_dim, dtype=np.float64)
        self.count = 0
        self.shift: F64 | None = None
        self._buffer = _Buffer(feature_dim)

    def add(self, batch: npt.NDArray[np.floating]) -> None:
        _check_width(batch, self.feature_dim)
        if batch.shape[0] == 0:
            return
        if self.shift is None:
            self.shift = (
                batch.mean(axis=0, dtype=np.float64)
                if self.subtract_mean
                else np.zeros(self.feature_dim, dtype=np.float64)
            )
        for chunk in _chunks(batch):
            work = self._buffer.take(chunk.shape[0])
            np.subtract(chunk, self.shift, out=work)
            self.gram += work.T @ work
            self.total += work.sum(axis=0)
            self.count += chunk.shape[0]

    def model(self, num_components: int) -> PcaModel:
        if self.count == 0 or self.shift is None:
            raise _no_data()
        if not (np.isfinite(self.gram).all() and np.isfinite(self.total).all()):
            raise _not_finite()
        scatter, mean = self.scatter()
        return scatter_model(scatter, mean, num_components)

    def scatter(self) -> tuple[F64, F64 | None]:
        """The (centred, when subtract_mean) scatter matrix and the mean (None if not centred)."""
        scatter = self.gram
        mean: F64 | None = None
        if self.subtract_mean and self.shift is not None and self.count:
            shifted_mean = self.total / self.count
            scatter = scatter - self.count * np.outer(shifted_mean, shifted_mean)
            mean = self.shift + shifted_mean
        return scatter, mean


def scatter_model(scatter: F64, mean: F64 | None, num_components: int) -> PcaModel:
    """The top components of a scatter matrix: ``eigh``'s vectors, with ``eigh``'s signs."""
    # Symmetrise: the two triangles of a SYRK result can differ in the last bit.
    scatter = (scatter + scatter.T) * 0.5
    eigenvalues, eigenvectors = np.linalg.eigh(scatter)
    return _finish(eigenvalues, eigenvectors, num_components, mean)


class SignSketch:
    """Randomized mode, pass 1: B = Σ H_t X_t with random ±1 matrices H_t (l x b), h = Σ H_t 1."""

    def __init__(self, feature_dim: int, sketch_size: int, seed: int = RANDOM_SEED) -> None:
        self.feature_dim = feature_dim
        self.sketch_size = sketch_size
        self.sketch: F64 = np.zeros((sketch_size, feature_dim), dtype=np.float64)
        self.sign_sums: F64 = np.zeros(sketch_size, dtype=np.float64)
        self.total: F64 = np.zeros(feature_dim, dtype=np.float64)
        self.count = 0
        self._rng = np.random.default_rng(seed)

    def add(self, batch: npt.NDArray[np.floating]) -> None:
        _check_width(batch, self.feature_dim)
        for chunk in _chunks(batch):
            rows = chunk.shape[0]
            signs = self._rng.integers(0, 2, size=(self.sketch_size, rows), dtype=np.int8)
            h = signs.astype(np.float32)
            h *= 2.0
            h -= 1.0
            self.sketch += h @ chunk.astype(np.float32, copy=False)
            self.sign_sums += h.sum(axis=1, dtype=np.float64)
            self.total += chunk.sum(axis=0, dtype=np.float64)
            self.count += rows

    def basis(self, subtract_mean: bool) -> F64:
        """An orthonormal basis (d x l) of the row space of the (centred) sketch C."""
        if self.count == 0:
            raise _no_data()
        if not (np.isfinite(self.sketch).all() and np.isfinite(self.total).all()):
            raise _not_finite()
        centred = self.sketch
        if subtract_mean:
            centred = centred - np.outer(self.sign_sums, self.total / self.count)
        q, _ = np.linalg.qr(centred.T)
        basis: F64 = q
        return basis

    @property
    def mean(self) -> F64:
        return self.total / max(self.count, 1)


class SubspaceAccumulator:
    """Randomized mode, pass 2: Y = A Q for the centred scatter matrix A = Xc^T Xc.

    With Q the sketch's basis, the Nystrom approximation A ~ Y (Q^T Y)^+ Y^T (Tropp et al. 2017,
    "Fixed-rank approximation of a positive-semidefinite matrix from streaming data") is as
    accurate as one more power iteration, so one pass gives the top components to ~1e-6
    instead of the ~1e-4 that projecting onto Q alone (Rayleigh-Ritz) gives.
    """

    def __init__(self, basis: F64, mean: F64 | None) -> None:
        self.basis = basis
        self.basis32: F32 = basis.astype(np.float32)
        self.mean32: F32 | None = None if mean is None else mean.astype(np.float32)
        self.mean = mean
        d, width = basis.shape
        self.image: F64 = np.zeros((d, width), dtype=np.float64)
        self.residual: F64 = np.zeros(d, dtype=np.float64)
        self.count = 0

    def add(self, batch: npt.NDArray[np.floating]) -> None:
        _check_width(batch, self.basis.shape[0])
        for chunk in _chunks(batch):
            x = chunk.astype(np.float32, copy=False)
            if self.mean32 is not None:
                x = x - self.mean32
                self.residual += x.sum(axis=0, dtype=np.float64)
            z = x @ self.basis32
            self.image += x.T @ z
            self.count += chunk.shape[0]

    def _image(self) -> F64:
        """A Q, with the float32 rounding of the subtracted mean removed exactly."""
        if self.count == 0:
            raise _no_data()
        if not np.isfinite(self.image).all():
            raise _not_finite()
        image = self.image
        if self.mean is not None:
            rest = self.residual / self.count
            image = image - self.count * np.outer(rest, rest @ self.basis)
        return image

    def next_basis(self) -> F64:
        """One step of subspace iteration: an orthonormal basis of A Q."""
        q, _ = np.linalg.qr(self._image())
        basis: F64 = q
        return basis

    def model(self, num_components: int) -> PcaModel:
        image = self._image()
        core = self.basis.T @ image
        core = (core + core.T) * 0.5
        values, vectors = np.linalg.eigh(core)
        keep = values > values.max(initial=0.0) * 1e-12
        inv_sqrt = (vectors[:, keep] / np.sqrt(values[keep])) @ vectors[:, keep].T
        factor = image @ inv_sqrt
        left, sing, _ = np.linalg.svd(factor, full_matrices=False)
        order = np.argsort(sing)
        eigenvalues = sing[order] ** 2
        vectors = left[:, order]
        vectors *= _eigh_signs(factor, vectors, self.basis, core)
        return _finish(eigenvalues, vectors, num_components, self.mean)


def _eigh_signs(factor: F64, vectors: F64, basis: F64, core: F64) -> F64:
    """±1 per column of ``vectors`` (ascending, orthonormal) so that each column has the sign
    ``eigh`` gives it: ``eigh`` of the Nystrom estimate ``factor factorᵀ`` of the scatter matrix
    when that d x d matrix is affordable, else ``eigh`` of the sketch-space matrix ``core``
    lifted by ``basis``. The regular mode's columns are ``eigh``'s own, so both modes follow
    one rule."""
    d, width = vectors.shape
    if d <= EIGH_SIGN_MAX_DIM:
        estimate = factor @ factor.T
        _, reference = np.linalg.eigh((estimate + estimate.T) * 0.5)
        reference = reference[:, -width:]
    else:
        _, small = np.linalg.eigh(core)
        reference = basis @ small[:, -width:]
    dots = np.sum(vectors * reference, axis=0)
    signs: F64 = np.where(dots < 0, -1.0, 1.0)
    return signs


BatchSource = Callable[[], Iterable[npt.NDArray[np.floating]]]


def fit_regular(
    batches: Iterable[npt.NDArray[np.floating]],
    feature_dim: int,
    num_components: int,
    subtract_mean: bool,
) -> PcaModel:
    acc = GramAccumulator(feature_dim, subtract_mean)
    for batch in batches:
        acc.add(batch)
    return acc.model(num_components)


def fit_randomized(
    source: BatchSource,
    feature_dim: int,
    num_components: int,
    subtract_mean: bool,
    sketch_size: int,
    seed: int = RANDOM_SEED,
    power_iterations: int = POWER_ITERATIONS,
) -> PcaModel:
    """Streaming passes over ``source()``: the sign sketch, ``power_iterations`` passes of
    subspace iteration, then the Nystrom pass."""
    sketch = SignSketch(feature_dim, max(sketch_size, num_components), seed)
    for batch in source():
        sketch.add(batch)
    basis = sketch.basis(subtract_mean)
    mean = sketch.mean if subtract_mean else None
    for _ in range(power_iterations):
        power = SubspaceAccumulator(basis, mean)
        for batch in source():
            power.add(batch)
        basis = power.next_basis()
    refine = SubspaceAccumulator(basis, mean)
    for batch in source():
        refine.add(batch)
    return refine.model(num_components)
