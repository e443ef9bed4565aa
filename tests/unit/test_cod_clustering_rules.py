"""COD's improved MeanShift loop, bandwidth, renumbering and KMeans ablation, on tiny inputs.

The relabelling loop is checked with a stand-in for sklearn's MeanShift (labels by a fixed
rule), so every round's labels can be worked out by hand; the end-to-end cases use sklearn on
blobs far apart, whose clusters, centres and bandwidth are computed apart (brute-force kNN).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import predictors.cod_clustering as cc
from predictors.cod_clustering import (
    OUTLIER,
    _centres,
    _renumber,
    cluster_items,
    cod_bandwidth,
    improved_mean_shift,
    kmeans_labels,
)


class _SplitAtHalf:
    """Stands in for MeanShift: label 0 left of x = 0.5, label 1 right of it; records calls."""

    calls: list[dict[str, Any]] = []
    other_warning = False  # also warn with a RuntimeWarning

    def __init__(self, *, bandwidth: float, bin_seeding: bool) -> None:
        self.bandwidth, self.bin_seeding = bandwidth, bin_seeding

    def fit(self, X: np.ndarray) -> _SplitAtHalf:
        warnings.warn("binning failed, using data points", UserWarning, stacklevel=1)
        if type(self).other_warning:
            warnings.warn("not a binning warning", RuntimeWarning, stacklevel=1)
        self.labels_ = (X[:, 0] > 0.5).astype(int)
        type(self).calls.append(
            {"X": X.copy(), "bandwidth": self.bandwidth, "bin_seeding": self.bin_seeding}
        )
        return self


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch) -> type[_SplitAtHalf]:
    monkeypatch.setattr(_SplitAtHalf, "calls", [])
    monkeypatch.setattr(cc, "MeanShift", _SplitAtHalf)
    return _SplitAtHalf


def _points(xs: list[float]) -> np.ndarray:
    """Points on the line y = 0 in 2-D (distances are |dx|)."""
    return np.column_stack([xs, np.zeros(len(xs))])


LEFT = [i / 100 for i in range(10)]  # 10 points, 0.00 .. 0.09: mean 0.045
RIGHT = [0.9 + i / 100 for i in range(9)]  # 9 points, 0.90 .. 0.98
STRAY = 0.30  # joins the left group: 0.232 from its mean 0.0682 > R = 0.2


def test_loop_unlabels_far_members_and_dissolves_small_clusters(split: type[_SplitAtHalf]) -> None:
    """Round 1: left (11 with the stray) and right (9). The stray is farther than R from the
    left mean, so it is unlabelled (10 stay: exactly the minimum, kept); the right group has
    9 < 10 members and is dissolved. Round 2 reclusters the 10 free points and changes nothing:
    two rounds."""
    X = _points([*LEFT, STRAY, *RIGHT])
    labels, rounds = improved_mean_shift(X, bandwidth=0.2)
    assert labels.tolist() == [0] * 10 + [OUTLIER] * 10
    assert rounds == 2
    assert [len(c["X"]) for c in split.calls] == [20, 10]
    np.testing.assert_array_equal(split.calls[1]["X"], X[10:])  # only the unlabelled ones
    assert all(c["bandwidth"] == 0.2 and c["bin_seeding"] for c in split.calls)


def test_new_clusters_are_numbered_after_the_existing_ones(split: type[_SplitAtHalf]) -> None:
    """min_cluster_size=1: round 1 keeps left (10) and right (9); round 2 gives the stray a
    label of its own (after 0 and 1, not on top of them) and it stays, alone at its mean;
    round 3 finds nothing to do."""
    X = _points([*LEFT, STRAY, *RIGHT])
    labels, rounds = improved_mean_shift(X, bandwidth=0.2, min_cluster_size=1, bin_seeding=False)
    assert labels.tolist() == [0] * 10 + [2] + [1] * 9
    assert rounds == 3
    assert not split.calls[0]["bin_seeding"]
    assert len(split.calls) == 2  # round 3 has no free point: no MeanShift


def test_a_member_exactly_at_distance_r_stays(split: type[_SplitAtHalf]) -> None:
    """Two points 0.5 apart on each side: each is exactly R = 0.25 from its cluster's mean."""
    X = _points([0.0, 0.5, 0.75, 1.25])
    X[:, 1] = [0.0, 0.0, 3.0, 3.0]  # a second coordinate, constant per cluster
    labels, rounds = improved_mean_shift(X, bandwidth=0.25, min_cluster_size=2)
    assert labels.tolist() == [0, 0, 1, 1] and rounds == 2
    labels, rounds = improved_mean_shift(X, bandwidth=0.2499, min_cluster_size=1)
    # just past R every member is unlabelled: all outliers, as before round 1, so one round
    assert labels.tolist() == [OUTLIER] * 4 and rounds == 1


def test_the_loop_stops_after_max_iter_rounds(split: type[_SplitAtHalf]) -> None:
    X = _points([*LEFT, STRAY, *RIGHT])
    labels, rounds = improved_mean_shift(X, bandwidth=0.2, max_iter=1)
    assert rounds == 1 and labels.tolist() == [0] * 10 + [OUTLIER] * 10
    assert len(split.calls) == 1


def test_only_binning_warnings_are_silenced(
    split: type[_SplitAtHalf], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MeanShift's UserWarning is silenced; a warning of another kind still reaches the caller."""
    monkeypatch.setattr(split, "other_warning", True)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        improved_mean_shift(_points(LEFT), bandwidth=0.2)
    assert [(w.category, str(w.message)) for w in seen] == [
        (RuntimeWarning, "not a binning warning")
    ] * len(split.calls)
    assert len(split.calls) == 1  # one round: 10 points, one cluster kept, then no free point


def test_renumber_by_size_then_first_member() -> None:
    """Sizes 3 (label 2), 2 (label 5, first at 0), 2 (label 7, first at 5): 0, 1, 2."""
    labels = np.array([5, 5, 2, 2, 2, 7, OUTLIER, 7])
    assert _renumber(labels).tolist() == [1, 1, 0, 0, 0, 2, OUTLIER, 2]
    assert _renumber(np.array([OUTLIER, OUTLIER])).tolist() == [OUTLIER, OUTLIER]


def test_centres_are_member_means_without_outliers() -> None:
    X = np.array([[0.0, 1.0], [1.0, 3.0], [5.0, 5.0], [9.0, 9.0]])
    got = _centres(X, np.array([0, 0, OUTLIER, 1]))
    assert sorted(got) == [0, 1]
    np.testing.assert_array_equal(got[0], [0.5, 2.0])
    np.testing.assert_array_equal(got[1], [9.0, 9.0])


def test_bandwidth_of_two_items_is_their_distance_with_quantile_one() -> None:
    """k = int(2 * 1.0) = 2: the distance to the nearest other point, 0.1 < cap 0.2."""
    X = np.array([[0.5, 0.5, 0.5, 0.5], [0.6, 0.5, 0.5, 0.5]])
    assert cod_bandwidth(X, quantile=1.0) == pytest.approx(0.1, rel=1e-12)
    assert cod_bandwidth(X[:1], quantile=1.0) == pytest.approx(0.2, rel=1e-12)  # one: the cap


def test_bandwidth_rule_defaults_and_degenerate_cases() -> None:
    """Default quantile 0.1 (k = 2 of 20 points); identical items (estimate 0) fall back to the
    cap; one feature is enough for the estimate."""
    line = np.arange(20, dtype=float)[:, None] / 100  # 0.00 .. 0.19 on one axis, cap 0.1
    assert cod_bandwidth(line) == pytest.approx(_knn_bandwidth(line, 0.1), rel=1e-9)
    assert _knn_bandwidth(line, 0.1) == pytest.approx(0.01, rel=1e-9)  # nearest other point
    assert cod_bandwidth(np.full((5, 4), 0.3)) == pytest.approx(0.2, rel=1e-12)


def _blobs() -> np.ndarray:
    """Two blobs of 12 in 3-D, spread 0.01 around (0.2, 0.2, 0.2) and (0.8, 0.8, 0.8), and one
    item on its own at (0.5, 0.1, 0.9)."""
    offsets = np.array([[i % 3, (i // 3) % 2, i % 2] for i in range(12)], dtype=float) * 0.01
    return np.vstack([0.2 + offsets, 0.8 + offsets, [[0.5, 0.1, 0.9]]])


def _knn_bandwidth(X: np.ndarray, quantile: float) -> float:
    k = max(1, int(len(X) * quantile))
    d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1))
    return float(np.sort(d, axis=1)[:, k - 1].mean())


def test_cluster_items_meanshift_end_to_end() -> None:
    X = _blobs()
    got = cluster_items(X, quantile=0.3, min_cluster_size=5)
    assert got.bandwidth == pytest.approx(_knn_bandwidth(X, 0.3), rel=1e-9)
    assert got.labels.tolist() == [0] * 12 + [1] * 12 + [OUTLIER]
    np.testing.assert_allclose(got.centres[0], X[:12].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(got.centres[1], X[12:24].mean(axis=0), rtol=1e-12)
    assert sorted(got.centres) == [0, 1] and got.rounds == 2
    # n_clusters is ignored by MeanShift
    same = cluster_items(X, quantile=0.3, min_cluster_size=5, n_clusters=7)
    assert same.labels.tolist() == got.labels.tolist()
    # blobs of 12 below a minimum of 13: everything is an outlier
    none = cluster_items(X, quantile=0.3, min_cluster_size=13)
    assert none.labels.tolist() == [OUTLIER] * 25 and none.centres == {}


def test_default_minimum_cluster_size_is_ten() -> None:
    """Blobs of 10 and 12 items: with the default minimum (10) both are clusters."""
    X = _blobs()[2:24]
    got = cluster_items(X, quantile=0.3)
    assert got.labels.tolist() == [1] * 10 + [0] * 12


def test_kmeans_ablation_counts_clusters_from_meanshift() -> None:
    """No n_clusters: as many as MeanShift finds (2), every item in one, no outliers."""
    X = _blobs()
    got = cluster_items(X, method="kmeans", quantile=0.3, min_cluster_size=5)
    assert set(got.labels.tolist()) == {0, 1} and got.rounds == 2
    assert got.labels[:12].tolist() == [got.labels[0]] * 12
    assert got.labels[12:24].tolist() == [got.labels[12]] * 12 and got.labels[0] != got.labels[12]
    # with the stray point in the larger cluster (13 members), that cluster is 0
    assert (got.labels == 0).sum() == 13
    # MeanShift finding nothing still leaves one KMeans cluster
    one = cluster_items(X, method="kmeans", quantile=0.3, min_cluster_size=13)
    assert one.labels.tolist() == [0] * 25 and one.rounds == 1  # nothing kept: unchanged
    np.testing.assert_allclose(one.centres[0], X.mean(axis=0), rtol=1e-12)
    # an explicit count skips MeanShift (no rounds)
    three = cluster_items(X, method="kmeans", n_clusters=3)
    assert three.rounds == 0 and sorted(np.bincount(three.labels).tolist()) == [1, 12, 12]


def test_kmeans_labels_clamp_the_count_to_the_items() -> None:
    X = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    assert kmeans_labels(X, n_clusters=5).tolist() == [0, 1, 2]  # 3 items: 3 clusters
    assert kmeans_labels(X, n_clusters=0).tolist() == [0, 0, 0]  # at least one
    assert kmeans_labels(X, n_clusters=2).tolist() == [0, 0, 1]  # (0, 0) and (1, 1) together


def test_unknown_clustering_method_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^clustering='dbscan'; allowed: \('meanshift', 'kmeans'\)$"
    ):
        cluster_items(_blobs(), method="dbscan")
