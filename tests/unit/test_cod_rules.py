"""CODForecaster's stages on a tiny noise-free ladder whose every number is known in closed form.

Two clusters of 6 identical items follow exp(-a C^-0.5) exactly (a = 5 and a = 30, C in 1e18
FLOPs), one outlier has no trend and two items are never passed, on 5 models at 1e19 .. 1e21
FLOPs. The clustering itself (tested in test_cod_clustering_rules.py) is replaced by a stand-in
that labels rows by which known trajectory they equal, so a fit takes a fraction of a second
and every cluster mean, mapping point, bootstrap draw and interval can be computed apart: from
the closed form, numpy's own generator for the resampled rows, and hand-picked replicates.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pytest

import predictors.cod as cod
from predictors.base import FitError
from predictors.cod import FALLBACK_WIDEN, ClusterFit, CODForecaster, Replicate
from predictors.cod_clustering import Clustering
from predictors.cod_law import LawFit, filter_reasons, fit_mapping, identity_mapping

FLOPS = np.geomspace(1e19, 1e21, 5)  # C = 10, 31.6, 100, 316, 1000 (units of 1e18)
MODELS = [f"m{k}" for k in range(5)]
A_SLOW, A_FAST = 30.0, 5.0
OUTLIER_PATH = np.array([0.9, 0.1, 0.7, 0.2, 0.8])
TARGET = 1e22  # C = 1e4


def _curve(a: float, flops: np.ndarray | float) -> np.ndarray:
    """The clusters' true law exp(-a C^-0.5), written out."""
    return np.exp(-a / np.sqrt(np.asarray(flops, float) / 1e18))


EASY, HARD = _curve(A_FAST, FLOPS), _curve(A_SLOW, FLOPS)
ITEMS = [f"c0-{j}" for j in range(6)] + [f"c1-{j}" for j in range(6)] + ["out", "z0", "z1"]
RATES = np.vstack([*[EASY] * 6, *[HARD] * 6, OUTLIER_PATH, np.zeros(5), np.zeros(5)])
SUBSET = (EASY + HARD) / 2  # the predictable subset's mean per model (12 items, 6 and 6)
FULL = (6 * EASY + 6 * HARD + OUTLIER_PATH) / 15  # the benchmark mean (zero items count)


def _obs(rates: np.ndarray = RATES, items: list[str] = ITEMS, **extra: Any) -> pd.DataFrame:
    rows = [
        {
            "model": m,
            "family": "lad",
            "flops": float(f),
            "checkpoint_step": 1000,
            "benchmark": "syn",
            "metric": "pass_rate",
            "item": item,
            "value": float(rates[i, k]),
            **extra,
        }
        for k, (m, f) in enumerate(zip(MODELS, FLOPS, strict=True))
        for i, item in enumerate(items)
    ]
    return pd.DataFrame(rows)


CALLS: list[dict[str, Any]] = []


def _stand_in(X: np.ndarray, **kw: Any) -> Clustering:
    """Labels a row 0 (easy) or 1 (hard) when it equals that trajectory on the ladder's first
    columns, else an outlier; records its arguments. Bandwidth 0.25 is arbitrary."""
    CALLS.append({"X": X.copy(), **kw})
    n = X.shape[1]
    labels = np.full(X.shape[0], -1)
    labels[np.all(np.isclose(X, EASY[:n]), axis=1)] = 0
    labels[np.all(np.isclose(X, HARD[:n]), axis=1)] = 1
    centres = {k: X[labels == k].mean(axis=0) for k in (0, 1) if (labels == k).any()}
    return Clustering(labels, 0.25, centres, 1)


@pytest.fixture(autouse=True)
def stand_in(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    CALLS.clear()
    monkeypatch.setattr(cod, "cluster_items", _stand_in)
    return CALLS


def _fit(**kw: Any) -> CODForecaster:
    obs = kw.pop("obs", None)
    args: dict[str, Any] = {"benchmark": "syn", "n_bootstrap": 0, "jackknife": False, **kw}
    return CODForecaster(**args).fit(_obs() if obs is None else obs)


@pytest.fixture
def fitted(stand_in: list[dict[str, Any]]) -> CODForecaster:
    """Two bootstrap replicates and the 5-model jackknife. Fitted per test, not per module:
    mutmut maps a mutant to the tests that run its function, and a cached fit runs in one."""
    return CODForecaster(benchmark="syn", n_bootstrap=2, min_cluster_size=3).fit(_obs())


def _top(est: CODForecaster) -> float:
    """The largest ladder compute as the fit stored it (a geometric mean: 1e21 to rounding)."""
    return float(est.matrix_.flops.max())


def _const(v: float) -> Replicate:
    """A replicate predicting ``v`` everywhere: a = 0 leaves exp(-c) = v; identity mapping."""
    law = LawFit(a=0.0, b=1.0, c=-math.log(v), g=0.0, unit=1.0, rmse=0.0, converged=True)
    return Replicate((law,), np.array([1.0]), identity_mapping())


# --- the pieces -------------------------------------------------------------------------------


def test_replicate_weights_laws_by_size_then_maps() -> None:
    laws = tuple(
        LawFit(a=a, b=0.5, c=0.1, g=0.0, unit=1e18, rmse=0.0, converged=True) for a in (5.0, 30.0)
    )
    rep = Replicate(laws, np.array([1.0, 3.0]), identity_mapping())
    # C = 100: (1 * exp(-0.5 - 0.1) + 3 * exp(-3 - 0.1)) / 4
    expected = (math.exp(-0.6) + 3 * math.exp(-3.1)) / 4
    assert rep(1e20) == pytest.approx(expected, rel=1e-12)


def test_cluster_fit_size_and_dict() -> None:
    law = LawFit(a=2.0, b=0.3, c=0.0, g=0.0, unit=1e18, rmse=0.5, converged=False)
    cf = ClusterFit(3, ("x", "y"), (0.1, 0.2), law, False, ("why",))
    assert cf.size == 2
    assert cf.to_dict() == {
        "label": 3, "size": 2, "centre": [0.1, 0.2], "law": law.to_dict(), "kept": False,
        "reasons": ["why"],
    }  # fmt: skip


def test_reference_flops_is_a_share_of_the_smallest_ladder_compute(fitted) -> None:
    assert fitted.reference_flops() == pytest.approx(1e18, rel=1e-12)  # 0.1 * 1e19
    other = copy.copy(fitted)
    other.a_reference = 0.5
    assert other.reference_flops() == pytest.approx(5e18, rel=1e-12)
    other.a_reference = None
    assert other.reference_flops() is None


# --- the fit ----------------------------------------------------------------------------------


def test_fit_sets_aside_zero_items_and_passes_its_settings_to_the_clustering(stand_in) -> None:
    est = _fit(
        min_cluster_size=3, bandwidth_quantile=0.2, n_clusters=4, random_state=7,
        clustering="kmeans",
    )  # fmt: skip
    (call,) = stand_in
    np.testing.assert_allclose(call["X"], RATES[:13], rtol=0, atol=0)  # the zero rows left out
    assert {k: v for k, v in call.items() if k != "X"} == {
        "method": "kmeans", "quantile": 0.2, "min_cluster_size": 3, "n_clusters": 4,
        "random_state": 7,
    }  # fmt: skip
    assert est.zero_items_ == ["z0", "z1"] and est.outliers_ == ["out"]
    assert est.bandwidth_ == 0.25
    assert est.labels_.to_dict() == {**{i: 0 for i in ITEMS[:6]}, **{i: 1 for i in ITEMS[6:12]},
                                     "out": -1}  # fmt: skip
    assert est.labels_.name == "cluster"
    assert est.ladder_by_ == "model" and est.notes_ == []


def test_fit_recovers_each_cluster_law_and_the_subset(fitted) -> None:
    easy, hard = fitted.clusters_
    assert (easy.label, easy.members, easy.kept, easy.reasons) == (0, tuple(ITEMS[:6]), True, ())
    assert (hard.label, hard.members, hard.kept) == (1, tuple(ITEMS[6:12]), True)
    np.testing.assert_allclose(easy.centre, EASY, rtol=1e-12)
    np.testing.assert_allclose(hard.centre, HARD, rtol=1e-12)
    for cf, a in ((easy, A_FAST), (hard, A_SLOW)):
        assert (cf.law.a, cf.law.b) == pytest.approx((a, 0.5), rel=1e-6)
        assert cf.law.c == pytest.approx(0.0, abs=1e-6) and cf.law.unit == 1e18
    assert fitted.subset_items_ == ITEMS[:12]
    f = fitted.filtered_
    assert list(f.columns) == [
        "a", "b", "c", "g", "unit", "rmse", "converged", "label", "size", "centre", "law",
        "kept", "reasons",
    ]  # fmt: skip
    assert list(f["label"]) == [0, 1] and list(f["size"]) == [6, 6] and list(f["kept"]) == [1, 1]
    assert f["a"].to_numpy() == pytest.approx([A_FAST, A_SLOW], rel=1e-6)


def test_mapping_points_are_subset_and_full_means_per_model(fitted) -> None:
    pts = fitted.mapping_points_
    assert list(pts.index) == MODELS and not pts["anchor"].any()
    np.testing.assert_allclose(pts["subset"], SUBSET, rtol=1e-12)
    np.testing.assert_allclose(pts["full"], FULL, rtol=1e-12)
    assert fitted.mapping_.kind == "spline" and fitted.mapping_tail == "curve"


def test_the_filter_thresholds_reach_the_verdicts() -> None:
    """b = 0.5: b_min = 0.6 rejects both clusters; a*C^-b at 1e18 is a: a_min = 10 rejects the
    easy cluster (a = 5) only; use_filter=False keeps both whatever the reasons."""
    est = _fit(min_cluster_size=3, a_min=10.0)
    assert [c.kept for c in est.clusters_] == [False, True]
    assert est.clusters_[0].reasons == tuple(
        filter_reasons(est.clusters_[0].law, a_min=10.0, reference_flops=1e18)
    )
    assert est.subset_items_ == ITEMS[6:12]
    nofilter = _fit(min_cluster_size=3, b_min=0.6, use_filter=False)
    assert [c.kept for c in nofilter.clusters_] == [True, True] and nofilter.fallback_ is None
    assert all(c.reasons for c in nofilter.clusters_)
    paper = _fit(min_cluster_size=3, a_min=10.0, a_reference=None)  # a read in 1e18 units: same
    assert [c.kept for c in paper.clusters_] == [False, True]


def test_fallback_unfiltered_keeps_every_converged_cluster() -> None:
    est = _fit(min_cluster_size=3, b_min=0.6)
    assert est.fallback_ == "unfiltered" and [c.kept for c in est.clusters_] == [True, True]
    assert est.notes_[-1] == (
        "FALLBACK: no cluster passed the extrapolability filter; every cluster whose law "
        "converged is used (the unfiltered variant); the interval is widened 2x"
    )
    assert "kept by fallback (unfiltered); fails: b=0.5 <= 0.6" in est.summary()
    with pytest.raises(FitError, match=r"passed the extrapolability filter \(2 cluster\(s\)\)"):
        _fit(min_cluster_size=3, b_min=0.6, fallback=False)


def test_fallback_pools_every_item_when_no_law_converged(monkeypatch) -> None:
    """The two cluster fits are marked unconverged: one law for all 13 non-zero items (label 2,
    its centre their mean), and the bootstrap resamples by that one label."""
    real = cod.fit_cod_law
    calls = []

    def unconverged_first_two(*args: Any, **kw: Any) -> LawFit:
        calls.append(args)
        law = real(*args, **kw)
        return replace(law, converged=False) if len(calls) <= 2 else law

    monkeypatch.setattr(cod, "fit_cod_law", unconverged_first_two)
    est = _fit(min_cluster_size=3, n_bootstrap=1)
    assert est.fallback_ == "pooled"
    assert [c.kept for c in est.clusters_] == [False, False, True]
    pooled = est.clusters_[-1]
    assert pooled.label == 2 and pooled.members == tuple(ITEMS[:13])
    np.testing.assert_allclose(pooled.centre, RATES[:13].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(calls[2][1], RATES[:13].mean(axis=0), rtol=1e-12)
    assert pooled.reasons == tuple(filter_reasons(pooled.law, reference_flops=1e18))
    assert "one law for all non-zero items is used" in est.notes_[-1]
    assert est.subset_items_ == ITEMS[:13]
    idx = np.random.default_rng(0).integers(0, 15, 15)
    (rep,) = est.bootstrap_
    assert list(rep.sizes) == [float(np.sum(idx < 13))]


def test_fit_refusals() -> None:
    three = _obs()[lambda d: d["model"].isin(["m0", "m1"])]
    with pytest.raises(FitError, match=r"COD needs at least 3 ladder models; got \['m0', 'm1'\]"):
        _fit(min_cluster_size=3, ladder_points="models", obs=three)
    with pytest.raises(FitError, match=r"only 13 item\(s\) with a non-zero pass rate on syn"):
        _fit(min_cluster_size=14)
    est = _fit(min_cluster_size=13, fallback=False, use_filter=False)  # 13 items: not refused
    assert est.matrix_.rates.shape == (15, 5)


def test_notes_name_dropped_models_and_items() -> None:
    obs = _obs()
    sparse = obs[(obs["model"] != "m4") | obs["item"].isin(ITEMS[:5])]  # m4: 5 of 15 items
    est = _fit(min_cluster_size=3, obs=sparse)
    assert "ladder point(s) ['m4'] measured too few items and were dropped" in est.notes_
    holed = obs[~((obs["model"] == "m2") & (obs["item"] == "z0"))]
    est = _fit(min_cluster_size=3, obs=holed)
    assert "1 item(s) not measured on every model were dropped" in est.notes_


def test_ladder_points_auto_counts_models_of_this_benchmark_only() -> None:
    obs = _obs()
    assert _fit(min_cluster_size=3, obs=obs).ladder_by_ == "model"
    # three models, but one only on another benchmark: two count, checkpoints become points
    two = obs[obs["model"].isin(["m0", "m1"])]
    other = obs[obs["model"] == "m2"].assign(benchmark="other")
    est = CODForecaster(benchmark="syn", min_cluster_size=3, n_bootstrap=0, jackknife=False)
    with pytest.raises(FitError, match=r"got \['m0@1000', 'm1@1000'\]"):
        est.fit(pd.concat([two, other]))
    assert est.ladder_by_ == "checkpoint"
    other_metric = obs[obs["model"] == "m2"].assign(metric="other")
    with pytest.raises(FitError, match=r"got \['m0@1000', 'm1@1000'\]"):
        est.fit(pd.concat([two, other_metric]))
    forced = _fit(min_cluster_size=3, ladder_points="checkpoints")
    assert forced.ladder_by_ == "checkpoint"
    assert list(forced.matrix_.rates.columns) == [f"{m}@1000" for m in MODELS]
    assert not any("every checkpoint" in n for n in forced.notes_)


def test_auto_checkpoint_ladder_is_noted() -> None:
    """Two models with two checkpoints each: four ladder points, and a note saying so."""
    two = _obs()[lambda d: d["model"].isin(["m0", "m1", "m2"])]
    obs = pd.concat([two.assign(checkpoint_step=s) for s in (1000, 2000)])
    obs = obs[obs["model"] != "m2"]
    est = _fit(min_cluster_size=3, obs=obs, use_filter=False)
    assert est.ladder_by_ == "checkpoint" and est.matrix_.rates.shape[1] == 4
    assert est.notes_[0] == (
        "fewer than 3 ladder models: every checkpoint is a ladder point (a training "
        "trajectory as the ladder)"
    )


def test_family_restricts_the_ladder() -> None:
    obs = pd.concat([_obs(), _obs().assign(family="other", model=lambda d: d["model"] + "x")])
    est = _fit(min_cluster_size=3, obs=obs, family="lad")
    assert list(est.matrix_.rates.columns) == MODELS


def test_anchor_model_joins_only_the_mapping() -> None:
    est = _fit(min_cluster_size=3, anchor_models=("m4",), n_bootstrap=1, jackknife=True)
    assert list(est.matrix_.rates.columns) == MODELS[:4]
    pts = est.mapping_points_
    assert list(pts.index) == MODELS and list(pts["anchor"]) == [False] * 4 + [True]
    assert pts.loc["m4", "subset"] == pytest.approx(SUBSET[4], rel=1e-12)
    assert pts.loc["m4", "full"] == pytest.approx(FULL[4], rel=1e-12)
    # every replicate's mapping keeps the anchor point (the largest subset accuracy here)
    for rep in [*est.bootstrap_, *est.jackknife_]:
        assert rep.mapping.x[-2] == pytest.approx(SUBSET[4], rel=1e-9)
    assert len(est.jackknife_) == 4
    obs = _obs()
    lacking = obs[~((obs["model"] == "m4") & (obs["item"] == "c0-0"))]
    with pytest.raises(FitError, match=r"anchor models lack 1 predictable-subset item\(s\)"):
        _fit(min_cluster_size=3, anchor_models=("m4",), obs=lacking)


# --- bootstrap and jackknife ------------------------------------------------------------------


def test_bootstrap_resamples_items_with_the_seeded_generator(fitted) -> None:
    """Rows of R are the 15 items in order; draws from default_rng(0) give each replicate's
    cluster sizes; identical rows leave the laws at the truth; the mapping is refitted on the
    resampled subset and full means."""
    rng = np.random.default_rng(0)
    assert len(fitted.bootstrap_) == 2
    for rep in fitted.bootstrap_:
        idx = rng.integers(0, 15, 15)
        n_easy, n_hard = int(np.sum(idx < 6)), int(np.sum((idx >= 6) & (idx < 12)))
        assert list(rep.sizes) == [n_easy, n_hard]
        assert [law.a for law in rep.laws] == pytest.approx([A_FAST, A_SLOW], rel=1e-5)
        sub = (n_easy * EASY + n_hard * HARD) / (n_easy + n_hard)
        full = RATES[idx].mean(axis=0)
        assert rep.mapping.x[1:-1] == pytest.approx(np.sort(sub), rel=1e-9)
        assert rep.mapping.y[1:-1] == pytest.approx(full[np.argsort(sub)], rel=1e-9)


def test_bootstrap_skips_clusters_a_replicate_misses() -> None:
    """Seed 3's first draw of 15 rows: check which clusters it hits, and that a replicate with
    none of a kept cluster's rows fits only the others (found by search over seeds apart)."""
    for seed in range(50):
        idx = np.random.default_rng(seed).integers(0, 15, 15)
        if not np.any(idx < 6):
            break
    else:  # pragma: no cover - the search above finds one (seed 17 when written)
        pytest.fail("no seed drops the easy cluster")
    est = _fit(min_cluster_size=3, n_bootstrap=1, random_state=seed)
    (rep,) = est.bootstrap_
    assert len(rep.laws) == 1 and rep.laws[0].a == pytest.approx(A_SLOW, rel=1e-5)
    assert list(rep.sizes) == [float(np.sum((idx >= 6) & (idx < 12)))]


def test_jackknife_drops_each_ladder_model_in_turn(fitted) -> None:
    assert len(fitted.jackknife_) == 5
    for j, rep in enumerate(fitted.jackknife_):
        keep = np.arange(5) != j
        assert list(rep.sizes) == [6.0, 6.0]
        assert [law.a for law in rep.laws] == pytest.approx([A_FAST, A_SLOW], rel=1e-5)
        assert rep.mapping.x[1:-1] == pytest.approx(SUBSET[keep], rel=1e-9)
        assert rep.mapping.y[1:-1] == pytest.approx(FULL[keep], rel=1e-9)
    assert _fit(min_cluster_size=3).jackknife_ == []


# --- the forecast -----------------------------------------------------------------------------


def test_point_is_the_mapped_size_weighted_subset_prediction(fitted) -> None:
    subset = float((_curve(A_FAST, TARGET) + _curve(A_SLOW, TARGET)) / 2)
    assert fitted.predict_subset(TARGET) == pytest.approx(subset, rel=1e-6)
    (fc,) = fitted.predict(pd.DataFrame({"model": ["big"], "flops": [TARGET]}))
    assert fc.point == pytest.approx(float(fitted.mapping_(subset)), rel=1e-6)
    assert fc.target == "big" and fc.method == "cod" and fc.alpha == 0.1
    nomap = _fit(min_cluster_size=3, use_mapping=False)
    assert nomap.mapping_.kind == "identity"
    (g,) = nomap.predict(pd.DataFrame({"model": ["big"], "flops": [TARGET]}))
    assert g.point == pytest.approx(subset, rel=1e-6)
    assert not any("beyond the mapping" in n for n in g.notes)
    uneven = copy.copy(fitted)
    uneven.clusters_ = [replace(fitted.clusters_[0], members=("x",)), fitted.clusters_[1]]
    expected = float((_curve(A_FAST, TARGET) + 6 * _curve(A_SLOW, TARGET)) / 7)
    assert uneven.predict_subset(TARGET) == pytest.approx(expected, rel=1e-6)


def test_forecast_records_its_settings_and_diagnostics(fitted) -> None:
    fc = fitted._forecast("big", TARGET)
    assert fc.params == {
        "clustering": "meanshift", "use_filter": True, "use_mapping": True, "fallback": None,
        "ladder_points": "model", "compute_unit": 1e18, "bandwidth": 0.25,
    }  # fmt: skip
    d = fc.diagnostics
    assert d["target_flops"] == TARGET and d["subset_prediction"] == fitted.predict_subset(TARGET)
    assert {k: d[k] for k in ("n_items", "n_zero_items", "n_outliers", "n_clusters")} == {
        "n_items": 15, "n_zero_items": 2, "n_outliers": 1, "n_clusters": 2
    }  # fmt: skip
    assert d["n_kept_clusters"] == 2 and d["predictable_fraction"] == pytest.approx(12 / 15)
    assert d["ladder_models"] == MODELS and d["n_bootstrap"] == 2
    assert d["mapping"] == fitted.mapping_.to_dict()
    assert d["clusters"] == [c.to_dict() for c in fitted.clusters_]
    jack = np.array([rep(TARGET) for rep in fitted.jackknife_])
    assert d["jackknife_sd"] == pytest.approx(math.sqrt(4 / 5 * np.sum((jack - jack.mean()) ** 2)))
    assert fc.benchmark == "syn" and fc.metric == "pass_rate"
    # notes: 10x beyond the ladder; subset (0.846) beyond the largest mapping point (0.621)
    assert fc.notes == (
        "extrapolates 10x beyond the largest ladder model's compute",
        f"subset prediction {d['subset_prediction']:.3f} lies beyond the mapping's largest "
        f"point {SUBSET[4]:.3f}: the mapping is extrapolated towards (1, 1)",
    )
    assert fitted._forecast("top", _top(fitted)).notes == ()  # at the ladder's end: neither note


def test_targets_without_a_model_column_are_numbered(fitted) -> None:
    fcs = fitted.predict(pd.DataFrame({"flops": [1e21, TARGET]}))
    assert [f.target for f in fcs] == ["target0", "target1"]
    assert fcs[1].diagnostics["target_flops"] == TARGET


@pytest.mark.parametrize("flops", [0.0, -1.0, math.nan, math.inf])
def test_forecast_needs_positive_finite_flops(fitted, flops: float) -> None:
    with pytest.raises(ValueError, match=r"target 'x': needs flops \(or n_params and n_tokens\)"):
        fitted._forecast("x", flops)


def _with(est: CODForecaster, boot: list[float], jack: list[float], **attrs: Any) -> Any:
    other = copy.copy(est)
    other.bootstrap_ = [_const(v) for v in boot]
    other.jackknife_ = [_const(v) for v in jack]
    for k, v in attrs.items():
        setattr(other, k, v)
    return other


def test_interval_combines_bootstrap_quantiles_and_jackknife_sd(fitted) -> None:
    """Five bootstrap values p - 0.04 .. p + 0.04 in steps of 0.02: numpy's linear quantiles at
    0.05 and 0.95 are p -+ 0.036. Jackknife 0.5, 0.52: mean 0.51, sd sqrt(1/2 * 2e-4) = 0.01,
    times z = Phi^-1(0.95). Half-widths hypot(0.036, 0.01 z), doubled after a fallback."""
    p = fitted._forecast("x", _top(fitted)).point
    z = NormalDist().inv_cdf(0.95)
    boot = [p - 0.04, p - 0.02, p, p + 0.02, p + 0.04]
    fc = _with(fitted, boot, [0.5, 0.52])._forecast("x", _top(fitted))
    half = math.hypot(0.036, 0.01 * z)
    assert (fc.lower, fc.upper) == pytest.approx((p - half, p + half), rel=1e-9)
    assert fc.diagnostics["jackknife_sd"] == pytest.approx(0.01, rel=1e-9)
    fb = _with(fitted, boot, [0.5, 0.52], fallback_="unfiltered")._forecast("x", _top(fitted))
    assert FALLBACK_WIDEN == 2.0
    assert (fb.lower, fb.upper) == pytest.approx((p - 2 * half, p + 2 * half), rel=1e-9)
    assert fb.params["fallback"] == "unfiltered"
    # alpha = 0.5: quantiles 0.25 and 0.75 are p -+ 0.02, z = Phi^-1(0.75); one jackknife
    # replicate has no spread (sd 0)
    wide = _with(fitted, boot, [0.3], alpha=0.5)._forecast("x", _top(fitted))
    assert (wide.lower, wide.upper) == pytest.approx((p - 0.02, p + 0.02), rel=1e-9)
    assert wide.diagnostics["jackknife_sd"] == 0.0
    wide2 = _with(fitted, boot, [0.5, 0.52], alpha=0.5)._forecast("x", _top(fitted))
    h2 = math.hypot(0.02, 0.01 * NormalDist().inv_cdf(0.75))
    assert (wide2.lower, wide2.upper) == pytest.approx((p - h2, p + h2), rel=1e-9)


def test_interval_one_sided_and_clipped(fitted) -> None:
    """Every bootstrap value above the point: the lower side is the jackknife's alone; a huge
    jackknife spread is clipped at 0 and 1."""
    p = fitted._forecast("x", _top(fitted)).point
    z = NormalDist().inv_cdf(0.95)
    above = [p + 0.01] * 3
    fc = _with(fitted, above, [0.5, 0.52])._forecast("x", _top(fitted))
    assert fc.lower == pytest.approx(p - 0.01 * z, rel=1e-9)
    assert fc.upper == pytest.approx(p + math.hypot(0.01, 0.01 * z), rel=1e-9)
    below = [p - 0.01] * 3
    fc = _with(fitted, below, [0.5, 0.52])._forecast("x", _top(fitted))
    assert fc.upper == pytest.approx(p + 0.01 * z, rel=1e-9)
    clipped = _with(fitted, [p], [0.01, 0.99])._forecast("x", _top(fitted))
    assert (clipped.lower, clipped.upper) == (0.0, 1.0)


def test_no_bootstrap_replicate_means_no_interval(fitted) -> None:
    fc = _with(fitted, [], [0.5, 0.52])._forecast("x", _top(fitted))
    assert math.isnan(fc.lower) and math.isnan(fc.upper)
    assert fc.notes == ("no bootstrap replicate: interval unavailable",)
    assert fc.diagnostics["n_bootstrap"] == 0


# --- the summary ------------------------------------------------------------------------------


def test_summary_lists_every_stage(fitted) -> None:
    lines = fitted.summary().splitlines()
    easy, hard = (c.law for c in fitted.clusters_)
    mapping = ", ".join(f"{s:.3f}->{f:.3f}" for s, f in zip(SUBSET, FULL, strict=True))
    assert lines == [
        "COD on syn/pass_rate: 15 items x 5 ladder models (m0, m1, m2, m3, m4)",
        "  compute unit 1e+18 FLOPs; ladder C = 10, 31.6, 100, 316, 1e+03",
        "  set aside: 2 never-passed item(s); 1 outlier(s) in no cluster of >= 3",
        "  clustering: meanshift, bandwidth 0.25; 2 cluster(s), 2 kept",
        "  cluster  size   a         b       c       rmse    verdict",
        f"        0     6   5         0.5     {easy.c:<7.3g} {easy.rmse:<7.3g} kept",
        f"        1     6   30        0.5     {hard.c:<7.3g} {hard.rmse:<7.3g} kept",
        "  predictable subset: 12 items (80% of the benchmark)",
        f"  mapping subset -> full (spline, tail curve): {mapping}",
    ]


def test_summary_marks_filtered_anchor_and_filter_off_clusters() -> None:
    est = _fit(min_cluster_size=3, a_min=10.0, anchor_models=("m4",))
    text = est.summary()
    reason = "; ".join(est.clusters_[0].reasons)
    assert f"filtered: {reason}" in text.splitlines()[5]
    assert text.splitlines()[7] == "  predictable subset: 6 items (40% of the benchmark)"
    assert text.splitlines()[8].endswith(f"{HARD[4]:.3f}->{FULL[4]:.3f}*  (* anchor model)")
    off = _fit(min_cluster_size=3, b_min=0.6, use_filter=False, compute_unit=1e19)
    line = off.summary().splitlines()[5]
    assert line.endswith("kept (filter off); fails: " + "; ".join(off.clusters_[0].reasons))
    assert "compute unit 1e+19 FLOPs; ladder C = 1, 3.16, 10, 31.6, 100" in off.summary()
    unmapped = _fit(min_cluster_size=3, use_mapping=False, mapping_tail="linear")
    assert "mapping subset -> full (identity, tail linear): " in unmapped.summary()
    noted = _fit(min_cluster_size=3, b_min=0.6)
    assert noted.summary().splitlines()[-1] == "  note: " + noted.notes_[-1]


# --- what each stage passes on ----------------------------------------------------------------


def test_every_law_fit_gets_the_unit_the_guess_and_a_warm_start(monkeypatch) -> None:
    """Cluster laws, bootstrap and jackknife refits all use compute_unit and guess; the refits
    start from their cluster's law (a = 5 and 30 in 1e18 units are 5 / sqrt(10) and 30 /
    sqrt(10) in 1e19 units)."""
    real = cod.fit_cod_law
    calls: list[dict[str, Any]] = []

    def record(*args: Any, **kw: Any) -> LawFit:
        calls.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(cod, "fit_cod_law", record)
    est = _fit(min_cluster_size=3, compute_unit=1e19, guess=0.0, n_bootstrap=1, jackknife=True)
    assert len(calls) == 2 + 2 + 5 * 2
    assert all(kw["unit"] == 1e19 and kw["guess"] == 0.0 for kw in calls)
    assert all("start" not in kw for kw in calls[:2])
    starts = [kw["start"] for kw in calls[2:]]
    assert starts == [est.clusters_[0].law, est.clusters_[1].law] * 6
    assert [c.law.a for c in est.clusters_] == pytest.approx(
        [A_FAST / 10**0.5, A_SLOW / 10**0.5], rel=1e-6
    )
    assert all(c.law.unit == 1e19 for c in est.clusters_)
    floor = _fit(min_cluster_size=3, guess=None)  # g fitted: the data's floor is 0
    assert [c.law.g for c in floor.clusters_] == pytest.approx([0.0, 0.0], abs=1e-4)


def test_pooled_fallback_uses_the_unit_and_guess(monkeypatch) -> None:
    real = cod.fit_cod_law
    calls: list[dict[str, Any]] = []

    def unconverged_first_two(*args: Any, **kw: Any) -> LawFit:
        calls.append(kw)
        law = real(*args, **kw)
        return replace(law, converged=False) if len(calls) <= 2 else law

    monkeypatch.setattr(cod, "fit_cod_law", unconverged_first_two)
    est = _fit(min_cluster_size=3, compute_unit=1e19, guess=0.0)
    assert calls[2] == {"unit": 1e19, "guess": 0.0}
    assert est.notes_[-1] == (
        "FALLBACK: no cluster passed the extrapolability filter; no cluster law converged; one "
        "law for all non-zero items is used; the interval is widened 2x"
    )


def test_mapping_settings_reach_the_mapping() -> None:
    """A looser RMSE target and the linear tail give the mapping fit_mapping gives apart."""
    est = _fit(min_cluster_size=3, mapping_rmse=0.05, mapping_tail="linear")
    expected = fit_mapping(SUBSET, FULL, rmse_target=0.05, tail="linear").to_dict()
    default = fit_mapping(SUBSET, FULL).to_dict()
    assert expected != default
    got = est.mapping_.to_dict()
    assert (got["kind"], got["tail"]) == (expected["kind"], "linear")
    assert (got["smoothing"], got["rmse"]) == pytest.approx(
        (expected["smoothing"], expected["rmse"]), rel=1e-9
    )
    assert np.ravel(got["curve"]) == pytest.approx(np.ravel(expected["curve"]), abs=1e-12)


def test_c_max_reaches_the_filter() -> None:
    est = _fit(min_cluster_size=3, c_max=0.0, fallback=False, use_filter=False)
    assert [c.reasons for c in est.clusters_] == [
        tuple(filter_reasons(c.law, c_max=0.0, reference_flops=1e18)) for c in est.clusters_
    ]
    assert all(r[-1].startswith("c=") for r in (c.reasons for c in est.clusters_))


def test_three_models_are_enough_and_a_model_ladder() -> None:
    obs = _obs()[lambda d: d["model"].isin(["m0", "m1", "m2"])]
    est = _fit(min_cluster_size=3, obs=obs, use_filter=False)
    assert est.ladder_by_ == "model" and list(est.matrix_.rates.columns) == MODELS[:3]
    forced = _fit(min_cluster_size=3, obs=obs, use_filter=False, ladder_points="models")
    assert forced.ladder_by_ == "model"


def test_metric_and_checkpoint_window_reach_the_item_matrix() -> None:
    """Rows of metric "acc" only; an older checkpoint at 0.5 everywhere that a window of 1
    leaves out (a window of 2 would average it in)."""
    obs = _obs().assign(metric="acc")
    old = obs.assign(checkpoint_step=500, value=0.5)
    est = _fit(min_cluster_size=3, obs=pd.concat([old, obs]), metric="acc", checkpoint_window=1)
    np.testing.assert_allclose(est.matrix_.rates.to_numpy(), RATES, rtol=1e-12)
    anchored = _fit(
        min_cluster_size=3, obs=pd.concat([old, obs]), metric="acc", checkpoint_window=1,
        anchor_models=("m4",),
    )  # fmt: skip
    assert anchored.mapping_points_.loc["m4", "subset"] == pytest.approx(SUBSET[4], rel=1e-12)
    assert anchored.mapping_points_.loc["m4", "full"] == pytest.approx(FULL[4], rel=1e-12)


def test_input_errors_name_the_method() -> None:
    with pytest.raises(ValueError, match=r"^CODForecaster\.fit: "):
        _fit(min_cluster_size=3, obs=_obs().drop(columns="flops"))
    est = _fit(min_cluster_size=3)
    with pytest.raises(ValueError, match=r"^CODForecaster\.predict: "):
        est.predict(pd.DataFrame({"model": ["big"]}))


def test_forecast_edges(fitted) -> None:
    """A compute below one FLOP is still a compute; 1.5x the ladder is noted; a subset
    prediction exactly 0.05 above the mapping's largest point is not yet noted."""
    small = fitted._forecast("x", 0.5)
    assert small.point == pytest.approx(float(fitted.mapping_(fitted.predict_subset(0.5))))
    top = _top(fitted)
    assert fitted._forecast("x", 1.5 * top).notes[0] == (
        "extrapolates 1.5x beyond the largest ladder model's compute"
    )
    subset = fitted.predict_subset(TARGET)
    edge = subset - 0.05
    while edge + 0.05 != subset:  # the float whose sum with 0.05 is exactly the prediction
        edge = np.nextafter(edge, -1.0 if edge + 0.05 > subset else 2.0)
    other = copy.copy(fitted)
    other.mapping_points_ = fitted.mapping_points_.assign(subset=[0.1, 0.2, 0.3, 0.4, edge])
    assert not any("beyond the mapping" in n for n in other._forecast("x", TARGET).notes)


def test_summary_joins_several_reasons_and_names_a_missing_fit(fitted) -> None:
    est = _fit(min_cluster_size=3, a_min=10.0, b_min=0.6)  # both fail b: fallback keeps both
    assert (
        est.summary()
        .splitlines()[5]
        .endswith(
            "kept by fallback (unfiltered); fails: a*C^-b=5 <= 10 at the reference 1e+18 FLOPs; "
            "b=0.5 <= 0.6"
        )
    )
    other = copy.copy(fitted)
    easy, hard = fitted.clusters_
    other.clusters_ = [replace(easy, kept=False, reasons=("r1", "r2")), replace(hard, kept=False)]
    lines = other.summary().splitlines()
    assert lines[5].endswith(" filtered: r1; r2") and lines[6].endswith(" filtered: no fit")


def test_a_replicate_without_kept_rows_is_skipped_not_the_end() -> None:
    """Only the hard cluster kept (rows 6-11 of 15): a seed whose first draw of 15 rows misses
    all six (chance (9/15)^15, about 1 in 2100) and whose second hits them gives one replicate."""

    def hits(rng: np.random.Generator) -> bool:
        idx = rng.integers(0, 15, 15)
        return bool(np.any((idx >= 6) & (idx < 12)))

    def first_misses(seed: int) -> bool:
        rng = np.random.default_rng(seed)
        return not hits(rng) and hits(rng)

    seed = next(s for s in range(100_000) if first_misses(s))
    est = _fit(min_cluster_size=3, a_min=10.0, n_bootstrap=2, random_state=seed)
    assert [c.kept for c in est.clusters_] == [False, True]
    (rep,) = est.bootstrap_
    assert rep.laws[0].a == pytest.approx(A_SLOW, rel=1e-5)


def test_defaults_are_the_documented_ones() -> None:
    """The docstring's defaults (the paper's thresholds, 3 checkpoints, clusters of >= 10)."""
    est = CODForecaster(benchmark="b")
    got = {k: getattr(est, k) for k in ("compute_unit", "checkpoint_window", "min_cluster_size")}
    assert got == {"compute_unit": 1e18, "checkpoint_window": 3, "min_cluster_size": 10}
    assert (est.a_min, est.b_min, est.c_max) == (1.0, 0.1, 1.0)
    assert (est.mapping_rmse, est.n_bootstrap, est.alpha) == (0.005, 200, 0.1)


def test_two_anchor_models_each_get_their_own_point() -> None:
    est = _fit(min_cluster_size=3, anchor_models=("m3", "m4"), use_filter=False)
    pts = est.mapping_points_.loc[["m3", "m4"]]
    np.testing.assert_allclose(pts["subset"], SUBSET[3:], rtol=1e-12)
    np.testing.assert_allclose(pts["full"], FULL[3:], rtol=1e-12)
