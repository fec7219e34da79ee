"""k-means building blocks on in-memory arrays: assignment, sums, the streaming update, shrinking."""

from __future__ import annotations

import numpy as np
import pytest

from algorithms.common.failures import ClientError
from algorithms.kmeans.fit import (
    StreamingKMeans,
    assign,
    cluster_sums,
    kmeans_plus_plus,
    random_init,
    shrink,
    weighted_lloyd,
)


def test_assign_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 13)).astype(np.float32)
    c = rng.normal(size=(37, 13)).astype(np.float32)
    labels, dist = assign(x, c)
    brute = ((x[:, None, :].astype(np.float64) - c[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, brute.argmin(axis=1))
    np.testing.assert_allclose(dist, brute.min(axis=1), rtol=1e-4, atol=1e-4)
    assert np.all(dist >= 0)


def test_cluster_sums_match_a_loop() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 4))
    labels = rng.integers(0, 9, size=500)
    labels[labels == 3] = 4  # an empty cluster
    weights = rng.random(500)
    sums, counts = cluster_sums(x, labels, 9, weights)
    for j in range(9):
        mask = labels == j
        np.testing.assert_allclose(sums[j], (x[mask] * weights[mask, None]).sum(axis=0))
        assert counts[j] == pytest.approx(weights[mask].sum())
    assert counts[3] == 0 and not sums[3].any()


def test_streaming_update_is_the_weighted_running_mean() -> None:
    # Two fixed centres; every batch point goes to the nearest, and each centre ends at the mean
    # of all points it absorbed (p = new / (old + new)).
    stream = StreamingKMeans(2, 1, "random", 0, np.random.default_rng(0))
    stream.centres = np.array([[0.0], [10.0]])
    stream.weights = np.zeros(2)
    stream.n_centres = 2
    stream.update(np.array([[1.0], [2.0], [9.0]], dtype=np.float32))
    stream.update(np.array([[3.0], [11.0], [13.0]], dtype=np.float32))
    np.testing.assert_allclose(stream.centres[:, 0], [2.0, 11.0])
    np.testing.assert_allclose(stream.weights, [3.0, 3.0])


def test_half_life_decays_old_weight() -> None:
    stream = StreamingKMeans(1, 1, "random", 2, np.random.default_rng(0))
    stream.centres = np.array([[0.0]])
    stream.weights = np.array([4.0])
    stream.n_centres = 1
    # 2 new points: the old weight 4 halves to 2, so p = 2 / (2 + 2).
    stream.update(np.array([[10.0], [10.0]], dtype=np.float32))
    assert stream.centres[0, 0] == pytest.approx(5.0)
    assert stream.weights[0] == pytest.approx(4.0)


def test_initialise_caps_centres_at_the_first_batch() -> None:
    stream = StreamingKMeans(50, 2, "random", 0, np.random.default_rng(0))
    batch = np.arange(20, dtype=np.float32).reshape(10, 2)
    stream.initialise(batch)
    assert stream.n_centres == 10 and stream.centres.shape == (10, 2)
    # Seeds are distinct rows of the batch.
    assert len({tuple(r) for r in stream.centres}) == 10


@pytest.mark.parametrize("init", [kmeans_plus_plus, random_init])
def test_initialisers_pick_weighted_points(init: object) -> None:
    points = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [5.0, 5.0]])
    weights = np.array([1.0, 1.0, 1.0, 0.0])
    chosen = init(points, weights, 3, np.random.default_rng(3))  # type: ignore[operator]
    assert {tuple(r) for r in chosen} == {(0.0, 0.0), (100.0, 0.0), (0.0, 100.0)}


def test_weighted_lloyd_finds_separated_groups() -> None:
    rng = np.random.default_rng(2)
    truth = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.concatenate([t + rng.normal(scale=0.1, size=(20, 2)) for t in truth])
    weights = rng.random(60) + 0.5
    result = weighted_lloyd(points, weights, 3, "kmeans++", 300, 1e-4, rng)
    found = result.centres[np.argsort(result.centres @ [1.0, 3.0])]
    np.testing.assert_allclose(found, truth[[0, 1, 2]], atol=0.1)
    _, dist = assign(points, result.centres)
    assert result.msd == pytest.approx((dist * weights).sum() / weights.sum(), rel=1e-6)


def test_shrink_keeps_the_best_trial_and_reports_each() -> None:
    rng = np.random.default_rng(4)
    points = rng.normal(size=(200, 3))
    weights = rng.random(200)
    seen: list[float] = []
    best = shrink(points, weights, 5, "random", 300, 1e-4, 6, rng, lambda i, r: seen.append(r.msd))
    assert len(seen) == 6 and best.msd == min(seen)


def test_shrink_needs_k_live_centres() -> None:
    with pytest.raises(ClientError, match="k \\(=3\\)"):
        shrink(
            np.zeros((5, 2)),
            np.array([1.0, 1.0, 0, 0, 0]),
            3,
            "kmeans++",
            10,
            0.0,
            1,
            np.random.default_rng(0),
        )


def test_cluster_sums_few_and_many_clusters() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3000, 6))
    weights = rng.random(3000)
    for k in (5, 300):
        labels = rng.integers(0, k, size=3000)
        sums, counts = cluster_sums(x, labels, k, weights)
        expected = np.zeros((k, 6))
        for j in range(k):
            expected[j] = (x[labels == j] * weights[labels == j, None]).sum(axis=0)
        np.testing.assert_allclose(sums, expected, rtol=1e-9, atol=1e-9)
        assert counts.sum() == pytest.approx(weights.sum())
