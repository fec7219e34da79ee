"""PCA math on in-memory arrays, against a float64 SVD."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from algorithms.common.failures import ClientError
from algorithms.pca.fit import fit_randomized, fit_regular
from tests.census_data import census_matrix
from tests.census_published import published_census_projections


def _batches(x: npt.NDArray[np.float32], size: int) -> list[npt.NDArray[np.float32]]:
    return [x[i : i + size] for i in range(0, x.shape[0], size)]


def _reference(x: npt.NDArray[np.float32], centre: bool) -> tuple[np.ndarray, np.ndarray]:
    x64 = x.astype(np.float64)
    if centre:
        x64 = x64 - x64.mean(axis=0)
    _, s, vt = np.linalg.svd(x64, full_matrices=False)
    return s, vt


def test_regular_matches_float64_svd_on_census() -> None:
    x = census_matrix()
    model = fit_regular(_batches(x, 500), 34, 33, subtract_mean=True)
    s, vt = _reference(x, centre=True)
    # Ascending, as the real artifact stores them; singular values of the centred matrix.
    expected = s[:33][::-1]
    assert np.all(np.diff(model.s) >= 0)
    np.testing.assert_allclose(model.s, expected, rtol=1e-5)
    # The real notebook's s_max for this table: 1.9592180e+01.
    assert model.s[-1] == pytest.approx(19.59218, rel=1e-6)
    # Same components up to sign.
    v_ref = vt[:33][::-1].T
    dots = np.abs(np.sum(model.v.astype(np.float64) * v_ref, axis=0))
    np.testing.assert_allclose(dots, 1.0, atol=1e-5)
    assert model.mean is not None and model.mean.shape == (1, 34)
    np.testing.assert_allclose(model.mean[0], x.astype(np.float64).mean(axis=0), rtol=1e-6)


def test_result_does_not_depend_on_batching() -> None:
    x = census_matrix()
    one = fit_regular([x], 34, 10, True)
    many = fit_regular(_batches(x, 7), 34, 10, True)
    np.testing.assert_allclose(one.s, many.s, rtol=1e-6)
    np.testing.assert_allclose(one.v, many.v, atol=1e-6)


def test_signs_are_eighs_of_the_centred_scatter_matrix() -> None:
    x = census_matrix()
    model = fit_regular(_batches(x, 500), 34, 33, True)
    centred = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    dots = np.sum(model.v.astype(np.float64) * vectors[:, -33:], axis=0)
    np.testing.assert_allclose(dots, 1.0, atol=1e-5)  # same vectors, same signs


def test_census_projections_equal_the_real_services_published_ones() -> None:
    published = published_census_projections()
    x = census_matrix()
    model = fit_regular(_batches(x, 500), 34, 33, True)
    projections = model.project(x[:5]).astype(np.float64)
    # The endpoint answers ascending; the published table is most significant first.
    top = projections[:, ::-1][:, : published.table.shape[1]]
    np.testing.assert_allclose(top, published.table, atol=5e-6, rtol=0)
    # All 33 values of the first county, signs included; the real service's four smallest
    # components carry its own float32 rounding (errors up to 3e-4), so they are left out.
    np.testing.assert_allclose(projections[0, 4:], published.first_row[4:], atol=5e-6, rtol=0)


def test_randomized_signs_follow_the_regular_mode_when_the_sketch_is_accurate() -> None:
    x = census_matrix()
    regular = fit_regular([x], 34, 10, True)
    randomized = fit_randomized(lambda: iter(_batches(x, 500)), 34, 10, True, sketch_size=20)
    dots = np.sum(regular.v.astype(np.float64) * randomized.v.astype(np.float64), axis=0)
    np.testing.assert_allclose(dots, 1.0, atol=1e-3)  # same signs; weak components to ~2e-4


def test_far_from_origin_stays_exact() -> None:
    # A large common offset would wreck sum(x^T x) - n mu mu^T without the shift by the first batch's mean.
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(20_000, 8)) * [1, 2, 3, 4, 5, 6, 7, 8] + 1000.0).astype(np.float32)
    model = fit_regular(_batches(x, 1000), 8, 8, True)
    s, _ = _reference(x, centre=True)
    np.testing.assert_allclose(model.s, s[::-1], rtol=1e-6)


def test_without_subtract_mean() -> None:
    x = census_matrix()
    model = fit_regular(_batches(x, 1000), 34, 5, subtract_mean=False)
    s, _ = _reference(x, centre=False)
    assert model.mean is None
    np.testing.assert_allclose(model.s, s[:5][::-1], rtol=1e-5)


def test_projection_is_centred_times_v() -> None:
    x = census_matrix()
    model = fit_regular([x], 34, 5, True)
    assert model.mean is not None
    expected = (x.astype(np.float64) - model.mean.astype(np.float64)) @ model.v.astype(np.float64)
    np.testing.assert_allclose(model.project(x), expected, atol=1e-5)


def test_randomized_on_low_rank_data_is_accurate() -> None:
    rng = np.random.default_rng(7)
    scales = np.array([50, 40, 30, 20, 10], dtype=np.float64)
    signal = (rng.normal(size=(30_000, 5)) * scales) @ np.linalg.qr(rng.normal(size=(60, 5)))[0].T
    x = (signal + rng.normal(scale=0.1, size=(30_000, 60)) + 3.0).astype(np.float32)
    model = fit_randomized(lambda: iter(_batches(x, 4096)), 60, 5, True, sketch_size=15)
    s, vt = _reference(x, centre=True)
    np.testing.assert_allclose(model.s, s[:5][::-1], rtol=1e-6)
    dots = np.abs(np.sum(model.v.astype(np.float64) * vt[:5][::-1].T, axis=0))
    np.testing.assert_allclose(dots, 1.0, atol=1e-6)
    again = fit_randomized(lambda: iter(_batches(x, 4096)), 60, 5, True, sketch_size=15)
    np.testing.assert_array_equal(model.v, again.v)  # seeded: reproducible


def test_randomized_with_full_sketch_is_exact() -> None:
    x = census_matrix()
    model = fit_randomized(lambda: iter(_batches(x, 500)), 34, 10, True, sketch_size=34)
    s, _ = _reference(x, centre=True)
    np.testing.assert_allclose(model.s, s[:10][::-1], rtol=1e-5)


def test_wrong_width_and_empty_input_are_client_errors() -> None:
    x = census_matrix()
    with pytest.raises(ClientError, match="33 feature"):
        fit_regular([x[:, :33]], 34, 5, True)
    with pytest.raises(ClientError, match="No training data"):
        fit_regular([], 34, 5, True)
    bad = x.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ClientError, match="NaN"):
        fit_regular([bad], 34, 5, True)
