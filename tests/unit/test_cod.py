"""COD on synthetic per-item ladders whose clusters, laws, outliers and zero items are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from predictors.base import FitError
from predictors.cod import CODForecaster
from predictors.cod_clustering import OUTLIER, cod_bandwidth, improved_mean_shift
from predictors.cod_law import cod_curve, filter_reasons, fit_cod_law, fit_mapping
from predictors.item_data import item_matrix, item_results_to_observations
from predictors.synthetic_items import ClusterSpec, synthetic_cod_ladder

LADDER = list(np.geomspace(1e19, 3e21, 8))
TARGET_FLOPS = 3e22
SPECS = [
    ClusterSpec(80, 5.0, 0.5, 0.0),
    ClusterSpec(80, 30.0, 0.5, 0.0),
    ClusterSpec(60, 20.0, 0.3, 0.2),
    ClusterSpec(60, 2.0, 0.8, 0.1),
    ClusterSpec(50, 0.5, 0.05, 1.5),  # flat, never solvable: not extrapolable
]
NON_SCALABLE = 4


@pytest.fixture(scope="module")
def ladder() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_cod_ladder([*LADDER, TARGET_FLOPS], SPECS, n_outliers=20, n_zero=20, seed=1)


@pytest.fixture(scope="module")
def fitted(ladder) -> CODForecaster:
    obs, _ = ladder
    return CODForecaster(benchmark="synthetic", n_bootstrap=100).fit(obs[obs["model"] != "m8"])


def _target(obs: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    rows = obs[obs["model"] == "m8"]
    final = rows[rows["checkpoint_step"] == rows["checkpoint_step"].max()]
    return final.drop_duplicates("model"), float(final["value"].mean())


def test_clustering_recovers_known_clusters(ladder, fitted):
    _, truth = ladder
    labels = fitted.labels_.reindex(truth["item"]).fillna(-2).to_numpy()
    in_cluster = (truth["cluster"] >= 0).to_numpy()
    assert adjusted_rand_score(truth["cluster"][in_cluster], labels[in_cluster]) >= 0.9
    assert len(fitted.clusters_) == len(SPECS)


def test_zero_items_set_aside_and_outliers_left_out(ladder, fitted):
    _, truth = ladder
    assert set(fitted.zero_items_) == set(truth.loc[truth["cluster"] == -2, "item"])
    true_outliers = set(truth.loc[truth["cluster"] == -1, "item"])
    caught = true_outliers & set(fitted.outliers_)
    assert len(caught) >= 0.9 * len(true_outliers)
    assert not true_outliers & set(fitted.subset_items_)


def test_filter_drops_the_non_scalable_cluster(ladder, fitted):
    _, truth = ladder
    flat_items = set(truth.loc[truth["cluster"] == NON_SCALABLE, "item"])
    by_overlap = {c.label: len(flat_items & set(c.members)) for c in fitted.clusters_}
    flat = fitted.clusters_[max(by_overlap, key=by_overlap.get)]
    assert not flat.kept and flat.reasons
    assert all(c.kept for c in fitted.clusters_ if c.label != flat.label)
    row = fitted.filtered_.set_index("label").loc[flat.label]
    assert not row["kept"] and (row["c"] >= 1 or row["b"] <= 0.1 or row["a"] <= 1)
    # the explanation names the filtered cluster with its reasons, and the kept ones
    text = fitted.summary()
    flat_line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{flat.label} "))
    assert "filtered: " + "; ".join(flat.reasons) in flat_line
    assert f"{len(fitted.clusters_)} cluster(s), {len(SPECS) - 1} kept" in text
    assert f"set aside: {len(fitted.zero_items_)} never-passed" in text


def test_forecast_lands_within_its_interval(ladder, fitted):
    obs, _ = ladder
    target, actual = _target(obs)
    fc = fitted.predict(target)[0]
    assert fc.lower <= actual <= fc.upper
    assert abs(fc.point - actual) < 0.03
    assert fc.diagnostics["n_kept_clusters"] == len(SPECS) - 1
    assert any("extrapolates" in n for n in fc.notes)


def test_mapping_is_monotone_and_pinned(fitted):
    m = fitted.mapping_
    grid = np.linspace(0, 1, 201)
    assert np.all(np.diff(m(grid)) >= -1e-9)
    assert abs(float(m(0.0))) < 0.01 and abs(float(m(1.0)) - 1) < 0.01
    pts = fitted.mapping_points_
    assert np.sqrt(np.mean((m(pts["subset"]) - pts["full"]) ** 2)) < 0.01


def test_ablations(ladder, fitted):
    obs, _ = ladder
    fit_obs = obs[obs["model"] != "m8"]
    target, _ = _target(obs)
    kw = {"benchmark": "synthetic", "n_bootstrap": 5}
    nofilter = CODForecaster(use_filter=False, **kw).fit(fit_obs)
    assert all(c.kept for c in nofilter.clusters_)
    nomap = CODForecaster(use_mapping=False, **kw).fit(fit_obs)
    fc = nomap.predict(target)[0]
    assert fc.point == pytest.approx(fc.diagnostics["subset_prediction"])
    km = CODForecaster(clustering="kmeans", **kw).fit(fit_obs)
    assert not km.outliers_ and len(km.clusters_) == len(fitted.clusters_)


def test_anchor_model_joins_only_the_mapping(ladder):
    obs, _ = ladder
    fit_obs = obs[obs["model"] != "m8"]
    est = CODForecaster(benchmark="synthetic", anchor_models=("m7",), n_bootstrap=5).fit(fit_obs)
    assert "m7" not in est.matrix_.rates.columns
    assert est.mapping_points_.loc["m7", "anchor"]


def test_improved_mean_shift_makes_outliers_of_scattered_points():
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(0.2, 0.02, (40, 4)), rng.normal(0.8, 0.02, (40, 4))])
    noise = rng.uniform(0, 1, (6, 4))
    X = np.clip(np.vstack([blobs, noise]), 0, 1)
    labels, rounds = improved_mean_shift(X, bandwidth=cod_bandwidth(X), min_cluster_size=10)
    assert rounds >= 2
    first, second = (
        np.bincount(labels[sl][labels[sl] >= 0]).argmax() for sl in (slice(0, 40), slice(40, 80))
    )
    assert first != second
    assert (labels[:40] == first).mean() >= 0.8 and (labels[40:80] == second).mean() >= 0.8
    assert set(labels[:80]) <= {first, second, OUTLIER}  # members beyond R become outliers
    far = np.min([np.linalg.norm(noise - c, axis=1) for c in (0.2, 0.8)], axis=0) > 0.3
    assert np.all(labels[80:][far] == OUTLIER)


def _knn_bandwidth(X: np.ndarray, quantile: float) -> float:
    """sklearn's estimate_bandwidth by brute force: the mean over points of the distance to the
    k-th nearest point counting the point itself, k = max(1, int(n * quantile))."""
    k = max(1, int(len(X) * quantile))
    d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1))
    return float(np.sort(d, axis=1)[:, k - 1].mean())


def test_bandwidth_follows_the_rule_min_of_knn_and_cap():
    """R = min(estimate_bandwidth(X, 0.1), sqrt(dim)/10) (METHODS COD step 2), computed apart."""
    rng = np.random.default_rng(1)
    spread = rng.uniform(0, 1, (200, 9))  # kNN distance ~1 > cap sqrt(9)/10 = 0.3: capped
    assert _knn_bandwidth(spread, 0.1) > 0.6
    assert cod_bandwidth(spread) == pytest.approx(0.3, rel=1e-12)
    tight = rng.normal(0.5, 0.01, (200, 4))  # kNN distance ~0.02 < cap 0.2: the estimate itself
    expected = _knn_bandwidth(tight, 0.1)
    assert expected < 0.1
    assert cod_bandwidth(tight) == pytest.approx(expected, rel=1e-9)
    assert cod_bandwidth(tight, quantile=0.3) == pytest.approx(_knn_bandwidth(tight, 0.3), rel=1e-9)
    # degenerate inputs fall back to the cap: identical vectors (estimate 0) and a single item
    assert cod_bandwidth(np.full((20, 4), 0.5)) == pytest.approx(0.2, rel=1e-12)
    assert cod_bandwidth(np.zeros((1, 16))) == pytest.approx(0.4, rel=1e-12)


def test_law_fit_recovers_parameters_and_unit_transfers():
    flops = np.geomspace(1e19, 3e21, 8)
    y = cod_curve(flops / 1e18, 30.0, 0.5, 0.2)
    law = fit_cod_law(flops, y, unit=1e18)
    assert law.a == pytest.approx(30.0, rel=0.02) and law.b == pytest.approx(0.5, rel=0.02)
    assert law.c == pytest.approx(0.2, abs=0.01)
    law15 = fit_cod_law(flops, y, unit=1e15)
    assert law15.a == pytest.approx(30.0 * 1000**0.5, rel=0.03)  # a' = a (u/u')^b
    assert filter_reasons(law) == []
    assert filter_reasons(law15, a_min=1000**0.5) == []
    assert float(law(1e23)) == pytest.approx(float(law15(1e23)), rel=1e-3)


def test_mapping_falls_back_to_pchip_when_spline_not_monotone():
    m = fit_mapping(np.array([0.3, 0.31, 0.32, 0.6]), np.array([0.1, 0.5, 0.12, 0.4]))
    grid = np.linspace(0, 1, 101)
    assert m.kind == "pchip" and np.all(np.diff(m(grid)) >= -1e-9)


def test_too_few_models_is_a_fit_error(ladder):
    obs, _ = ladder
    with pytest.raises(FitError, match="at least 3 ladder models"):
        CODForecaster(benchmark="synthetic", ladder_points="models").fit(
            obs[obs["model"].isin(["m0", "m1"])]
        )


def test_two_models_fall_back_to_checkpoints_as_ladder_points(ladder):
    """By default fewer than 3 models make every checkpoint a ladder point, and say so."""
    obs, _ = ladder
    two = obs[obs["model"].isin(["m0", "m1"])]
    est = CODForecaster(benchmark="synthetic", n_bootstrap=5, jackknife=False).fit(two)
    n_points = two.groupby(["model", "checkpoint_step"]).ngroups
    assert est.ladder_by_ == "checkpoint" and est.matrix_.rates.shape[1] == n_points
    assert any("every checkpoint is a ladder point" in n for n in est.notes_)


def test_item_results_rows_become_observations():
    rows = pd.DataFrame(
        {
            "family": "lad",
            "model": ["a", "a", "b"],
            "n_params": [1e6, 1e6, 4e6],
            "flops": [1e15, 1e15, 1e16],
            "checkpoint_step": [10, 10, 10],
            "benchmark": "t",
            "item": ["i1", "i2", "i1"],
            "mode": ["samples", "passuntil", "samples"],
            "n_samples": [100, 5000, 100],
            "n_pass": [7, 2, 40],
            "pass_rate": [0.07, 0.0004, 0.4],
            "estimate": [None, 0.0002, None],
        }
    )
    obs = item_results_to_observations(rows)
    assert list(obs["metric"]) == ["pass_rate", "pu", "pass_rate"]
    assert list(obs["value"]) == [0.07, 0.0002, 0.4]
    m = item_matrix(obs, benchmark="t")
    assert list(m.rates.columns) == ["a", "b"] and m.dropped_items == ()


def test_jackknife_over_ladder_models_widens_the_interval(ladder, fitted):
    obs, _ = ladder
    target, _ = _target(obs)
    narrow = CODForecaster(benchmark="synthetic", n_bootstrap=100, jackknife=False)
    narrow.fit(obs[obs["model"] != "m8"])
    a, b = narrow.predict(target)[0], fitted.predict(target)[0]
    assert a.point == pytest.approx(b.point)
    assert b.diagnostics["jackknife_sd"] > 0 and not narrow.jackknife_
    assert (b.upper - b.lower) > (a.upper - a.lower)


def test_linear_tail_continues_the_last_secant():
    x, y = np.array([0.2, 0.3, 0.4, 0.5]), np.array([0.1, 0.16, 0.22, 0.28])
    curve = fit_mapping(x, y)
    lin = fit_mapping(x, y, tail="linear")
    y0, y1 = curve(np.array([0.4, 0.5]))
    slope = (y1 - y0) / 0.1
    assert float(lin(0.7)) == pytest.approx(y1 + slope * 0.2, rel=1e-6)
    assert float(curve(0.7)) > float(lin(0.7))  # the curve bends up towards (1, 1)
    assert float(lin(0.45)) == pytest.approx(float(curve(0.45)))
    assert np.all(np.diff(lin(np.linspace(0, 1, 201))) >= -1e-9) and float(lin(1.0)) <= 1.0


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_rescaling_flops_changes_no_filter_verdict(ladder, fitted, scale):
    """FLOPs counted k times larger (another convention, another unit) keep every verdict and
    the forecast: the filter reads a at a compute taken from the ladder. Reading a in a fixed
    unit (a_reference=None, the paper's) lets a rescaling flip verdicts, since a moves by k**b
    (b = 0.3-0.8 here: 1000x fewer FLOPs divides a by 8-250)."""
    obs, _ = ladder
    scaled = obs.assign(flops=obs["flops"] * scale, n_params=np.nan, n_tokens=np.nan)
    fit_obs = scaled[scaled["model"] != "m8"]
    est = CODForecaster(benchmark="synthetic", n_bootstrap=0, jackknife=False).fit(fit_obs)
    assert [c.kept for c in est.clusters_] == [c.kept for c in fitted.clusters_]
    target, _ = _target(scaled)
    base = CODForecaster(benchmark="synthetic", n_bootstrap=0, jackknife=False)
    expected = base.fit(obs[obs["model"] != "m8"]).predict(_target(obs)[0])[0].point
    # the laws are fitted in a unit at the ladder's geometric mean: same problem, same optimum
    assert est.predict(target)[0].point == pytest.approx(expected, rel=1e-6)
    if scale < 1:  # 1000x fewer FLOPs: a in 1e18 units falls below 1 for the slow clusters
        paper = CODForecaster(
            benchmark="synthetic", a_reference=None, n_bootstrap=0, jackknife=False
        )
        verdicts = [c.kept for c in paper.fit(fit_obs).clusters_]
        assert verdicts != [c.kept for c in fitted.clusters_]


def test_fallback_forecasts_when_the_filter_rejects_every_cluster(ladder):
    """c_max=0 rejects every cluster: the default falls back to the unfiltered variant (same
    point as use_filter=False), says so, and doubles the interval's half-widths; with
    fallback=False it refuses, and summary() still explains a fallback fit."""
    obs, _ = ladder
    fit_obs = obs[obs["model"] != "m8"]
    target, _ = _target(obs)
    kw = {"benchmark": "synthetic", "n_bootstrap": 30, "jackknife": False, "c_max": 0.0}
    fb = CODForecaster(**kw).fit(fit_obs)
    plain = CODForecaster(**{**kw, "use_filter": False}).fit(fit_obs)
    f, g = fb.predict(target)[0], plain.predict(target)[0]
    assert fb.fallback_ == "unfiltered" and f.params["fallback"] == "unfiltered"
    assert f.point == pytest.approx(g.point, rel=1e-12)
    assert any(n.startswith("FALLBACK: no cluster passed") for n in f.notes)
    # same replicates (same seed, same clusters): half-widths exactly 2x unless clipped at 0/1
    assert f.upper - f.point == pytest.approx(2 * (g.upper - g.point), rel=1e-9)
    assert "kept by fallback (unfiltered)" in fb.summary()
    with pytest.raises(FitError, match="no cluster on synthetic passed"):
        CODForecaster(**kw, fallback=False).fit(fit_obs)
