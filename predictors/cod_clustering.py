"""The improved MeanShift of Clustering-On-Difficulty (METHODS.md P3, step 2).

Plain MeanShift assigns every item to some centre, however far; COD wants tight clusters of items
that share a difficulty trajectory and leaves the rest out as outliers. So it repeats: cluster the
unlabelled items, unlabel members farther than R from their centre, dissolve clusters smaller than
``min_cluster_size``, renumber, until no label changes. Whatever stays unlabelled is an outlier.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans, MeanShift, estimate_bandwidth

OUTLIER = -1


@dataclass(frozen=True)
class Clustering:
    """What :func:`cluster_items` found: a label per item (-1 = outlier), R, centres, rounds."""

    labels: np.ndarray
    bandwidth: float
    centres: dict[int, np.ndarray]
    rounds: int


def cod_bandwidth(X: np.ndarray, *, quantile: float = 0.1, random_state: int = 0) -> float:
    """R = min(estimate_bandwidth(X, quantile), max_distance / 10), max_distance = sqrt(dim).

    The second term caps R for features in the unit cube; it also stands in when
    ``estimate_bandwidth`` returns 0 (many identical vectors).
    """
    cap = math.sqrt(X.shape[1]) / 10.0
    if X.shape[0] < 2:
        return cap
    est = float(estimate_bandwidth(X, quantile=quantile, random_state=random_state))
    return min(est, cap) if est > 0 else cap


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Clusters numbered 0..k-1 by decreasing size (ties by first member), outliers stay -1."""
    out = np.full_like(labels, OUTLIER)
    kept = [int(lab) for lab in np.unique(labels) if lab != OUTLIER]
    kept.sort(key=lambda lab: (-(labels == lab).sum(), int(np.argmax(labels == lab))))
    for new, lab in enumerate(kept):
        out[labels == lab] = new
    return out


def _centres(X: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    return {int(k): X[labels == k].mean(axis=0) for k in np.unique(labels) if k != OUTLIER}


def improved_mean_shift(
    X: np.ndarray,
    *,
    bandwidth: float,
    min_cluster_size: int = 10,
    max_iter: int = 50,
    bin_seeding: bool = True,
) -> tuple[np.ndarray, int]:
    """Labels (-1 = outlier) and the number of rounds the relabelling loop took.

    Centres are the means of the current members (recomputed every round), so a cluster that
    loses its far members tightens around the rest. ``bin_seeding`` starts MeanShift from a grid
    of bandwidth-sized bins instead of every item (sklearn's option): same modes, far fewer
    seeds, which matters because every round reruns MeanShift.
    """
    n = X.shape[0]
    labels = np.full(n, OUTLIER, dtype=int)
    for round_ in range(1, max_iter + 1):
        previous = labels.copy()
        free = np.flatnonzero(labels == OUTLIER)
        if free.size:
            with warnings.catch_warnings():  # "binning failed, using data points": that is fine
                warnings.simplefilter("ignore", UserWarning)
                ms = MeanShift(bandwidth=bandwidth, bin_seeding=bin_seeding).fit(X[free])
            start = labels.max() + 1 if (labels != OUTLIER).any() else 0
            labels[free] = ms.labels_ + start
        for k, centre in _centres(X, labels).items():
            members = np.flatnonzero(labels == k)
            far = np.linalg.norm(X[members] - centre, axis=1) > bandwidth
            labels[members[far]] = OUTLIER
        for k in np.unique(labels):
            if k != OUTLIER and (labels == k).sum() < min_cluster_size:
                labels[labels == k] = OUTLIER
        labels = _renumber(labels)
        if np.array_equal(labels, previous):
            return labels, round_
    return labels, max_iter


def kmeans_labels(X: np.ndarray, *, n_clusters: int, random_state: int = 0) -> np.ndarray:
    """Plain KMeans (the paper's ablation): every item in some cluster, no outliers."""
    k = max(1, min(n_clusters, X.shape[0]))
    km = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(X)
    return _renumber(km.labels_.astype(int))


def cluster_items(
    X: np.ndarray,
    *,
    method: str = "meanshift",
    quantile: float = 0.1,
    min_cluster_size: int = 10,
    n_clusters: int | None = None,
    random_state: int = 0,
) -> Clustering:
    """Cluster difficulty vectors; returns labels, bandwidth, centres and loop rounds.

    ``method="kmeans"`` uses ``n_clusters`` (default: as many as the improved MeanShift finds, so
    the ablation isolates the algorithm, not the count).
    """
    R = cod_bandwidth(X, quantile=quantile, random_state=random_state)
    rounds = 0
    if method == "meanshift" or n_clusters is None:
        labels, rounds = improved_mean_shift(X, bandwidth=R, min_cluster_size=min_cluster_size)
    if method == "kmeans":
        k = n_clusters if n_clusters is not None else max(1, int(labels.max()) + 1)
        labels = kmeans_labels(X, n_clusters=k, random_state=random_state)
    elif method != "meanshift":
        raise ValueError(f"clustering={method!r}; allowed: ('meanshift', 'kmeans')")
    return Clustering(labels, R, _centres(X, labels), rounds)
