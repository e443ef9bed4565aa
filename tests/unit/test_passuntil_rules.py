"""The PassUntil forecaster rule by rule on a hand-made ladder (predictors/passuntil.py).

Four models (N = 1e8 .. 1e11), three items, (n, s) written out below. Expected numbers are worked
from the docstrings: item estimates (s - 1) / (n - 1) when stopped at r, else s / n; the task PU
their mean; F = log(-log PU); with nothing censored and no weights the law is np.polyfit's line of
F on z = log N - mean(log N). Bootstrap intervals are rebuilt from the documented recipe
(items resampled with numpy's generator, t-distributed law scatter) with polyfit lines.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from predictors.base import FitError
from predictors.contracts import InputContract
from predictors.passuntil import PassUntilForecaster, item_estimates, task_points
from predictors.passuntil_law import binomial_lines, sampling_var_F, tobit_line

SIZES = [1e8, 1e9, 1e10, 1e11]
#: (n, s) per model (rows) and item (columns i0, i1, i2).
COUNTS = [
    [(100, 1), (100, 0), (100, 0)],
    [(100, 3), (100, 1), (100, 0)],
    [(40, 2), (100, 5), (100, 1)],  # i0 stopped at r = 2 below the model's budget of 100
    [(10, 2), (20, 2), (100, 4)],  # i0 and i1 stopped at r = 2
]
#: The same, each item's estimate: (s-1)/(n-1) where stopped at r (s >= 2, n < budget), else s/n.
EST = np.array(
    [
        [0.01, 0.0, 0.0],
        [0.03, 0.01, 0.0],
        [1 / 39, 0.05, 0.01],
        [1 / 9, 1 / 19, 0.04],
    ]
)


def ladder(counts: list[list[tuple[int, int]]] = COUNTS, **extra: object) -> pd.DataFrame:
    rows = []
    for m, (size, items) in enumerate(zip(SIZES, counts, strict=True)):
        for i, (n, s) in enumerate(items):
            rows.append(
                {
                    "model": f"m{m}",
                    "family": "f",
                    "n_params": size,
                    "n_tokens": 20 * size,
                    "checkpoint_step": 1000,
                    "benchmark": "b",
                    "metric": "pu",
                    "item": f"i{i}",
                    "value": s / n,
                    "n_samples": n,
                    "n_pass": s,
                }
            )
    return pd.DataFrame(rows).assign(**extra)


def _line(est: np.ndarray) -> tuple[float, float, float, float]:
    """(intercept, slope, sigma, z0) of the least-squares law on per-model mean estimates."""
    logn = np.log(SIZES)
    z0 = float(logn.mean())
    F = np.log(-np.log(est.mean(axis=1)))
    slope, intercept = np.polyfit(logn - z0, F, 1)
    resid = F - (intercept + slope * (logn - z0))
    return float(intercept), float(slope), max(float(np.sqrt(np.mean(resid**2))), 1e-3), z0


def target(size: float = 1e12, name: str = "big") -> pd.DataFrame:
    return pd.DataFrame({"model": [name], "n_params": [size]})


# -- item and task estimates -------------------------------------------------------------------


def test_item_estimates() -> None:
    n = np.array([10.0, 10.0, 2.0, 0.0, 10.0])
    s = np.array([3.0, 1.0, 2.0, 0.0, 3.0])
    rr = np.array([True, True, True, False, False])
    got = item_estimates(n, s, rr)
    assert got == pytest.approx([2 / 9, 0.1, 1.0, 0.0, 0.3], rel=1e-14)


def test_task_points() -> None:
    """Column 0: no success anywhere, censored at the mean of the items' bounds (level 0.9 here).
    Column 1: every draw passed, PU capped at 1 - 0.5 / (total draws). Column 2: mean of s/n, or
    of (s-1)/(n-1) for items flagged as stopped at r."""
    n = np.array([[10.0, 4.0, 10.0], [20.0, 6.0, 30.0]])
    s = np.array([[0.0, 4.0, 3.0], [0.0, 6.0, 2.0]])
    F, cens = task_points(n, s, level=0.9)
    bound = ((1 - 0.1 ** (1 / 10)) + (1 - 0.1 ** (1 / 20))) / 2
    expected = [bound, 1 - 0.5 / 10, (0.3 + 2 / 30) / 2]
    assert pytest.approx(np.log(-np.log(expected)), rel=1e-12) == F
    assert cens.tolist() == [True, False, False]
    rr = np.array([[False, False, True], [False, False, False]])
    F_rr, _ = task_points(n, s, 0.9, rr)
    assert F_rr[2] == pytest.approx(math.log(-math.log((2 / 9 + 2 / 30) / 2)), rel=1e-12)
    F95, _ = task_points(n, s)  # default level 0.95
    bound95 = ((1 - 0.05 ** (1 / 10)) + (1 - 0.05 ** (1 / 20))) / 2
    assert F95[0] == pytest.approx(math.log(-math.log(bound95)), rel=1e-12)


# -- fit: points, law, estimators --------------------------------------------------------------


def test_fit_is_the_least_squares_law_of_the_task_points() -> None:
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(ladder())
    a, b, sigma, z0 = _line(EST)
    assert est.z0_ == pytest.approx(z0, rel=1e-14)
    assert (est.line_.intercept, est.line_.slope) == pytest.approx((a, b), rel=1e-10)
    assert est.line_.sigma == pytest.approx(sigma, rel=1e-10)
    pts = est.points_
    assert pts.index.tolist() == ["m0", "m1", "m2", "m3"]
    assert pts["x"].tolist() == SIZES
    assert pts["pu"].to_numpy() == pytest.approx(EST.mean(axis=1), rel=1e-12)
    assert pts["F"].to_numpy() == pytest.approx(np.log(-np.log(EST.mean(axis=1))), rel=1e-12)
    assert not pts["censored"].any()
    assert est.items_ == ["i0", "i1", "i2"] and est.x_ == "n_params"
    f = est.predict(target())[0]
    z = math.log(1e12) - z0
    assert f.point == pytest.approx(math.exp(-math.exp(a + b * z)), rel=1e-9)
    assert math.isnan(f.lower) and math.isnan(f.upper)
    assert f.notes == ("no bootstrap replicate: interval unavailable",)
    assert est.notes_ == [] and est.curvature_.n_bootstrap == 0
    assert math.isnan(est.curvature_.frac_convex)
    assert f.params == {
        "scheme": "dataset",
        "x": "n_params",
        "weighting": "none",
        "alpha_exponent": pytest.approx(-b, rel=1e-10),
        "log_c": pytest.approx(a - b * z0, rel=1e-10),
    }
    assert f.method == "passuntil" and f.target == "big" and f.alpha == 0.1
    assert (f.benchmark, f.metric) == ("b", "pu")
    d = f.diagnostics
    assert d["target_x"] == 1e12 and d["n_items"] == 3 and d["n_bootstrap"] == 0
    assert d["sigma"] == est.line_.sigma and d["curvature"] == est.curvature_.to_dict()
    assert [p["model"] for p in d["points"]] == ["m0", "m1", "m2", "m3"]
    assert d["points"][2]["pu"] == pytest.approx(EST[2].mean(), rel=1e-12)


def test_mle_estimator_and_stop_reasons() -> None:
    """estimator="mle": s / n everywhere. A stop_reason column decides which items stopped at r
    (here only i0 on m2), instead of the budget rule."""
    mle = PassUntilForecaster(benchmark="b", n_bootstrap=0, estimator="mle").fit(ladder())
    plain = np.array([[n and s / n for n, s in items] for items in COUNTS], dtype=float)
    assert mle.points_["pu"].to_numpy() == pytest.approx(plain.mean(axis=1), rel=1e-12)
    assert mle.line_.slope == pytest.approx(_line(plain)[1], rel=1e-10)
    obs = ladder()
    obs["stop_reason"] = "budget"
    obs.loc[(obs["model"] == "m2") & (obs["item"] == "i0"), "stop_reason"] = "r_reached"
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(obs)
    expected = plain.copy()
    expected[2, 0] = 1 / 39
    assert est.points_["pu"].to_numpy() == pytest.approx(expected.mean(axis=1), rel=1e-12)


def test_only_each_models_last_checkpoint_is_a_point() -> None:
    """An earlier checkpoint's rows (step 500, s = 90 of 100) are ignored; a missing step counts
    as the earliest (-1)."""
    obs = ladder()
    old = obs[obs["model"] == "m0"].assign(checkpoint_step=500, n_pass=90, value=0.9)
    nan_step = obs[obs["model"] == "m1"].assign(checkpoint_step=np.nan, n_pass=90, value=0.9)
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(
        pd.concat([obs, old, nan_step], ignore_index=True)
    )
    assert est.points_["pu"].to_numpy() == pytest.approx(EST.mean(axis=1), rel=1e-12)


def test_family_filter() -> None:
    """Rows of another family (here the same models with every item passed) are ignored when a
    family is named, and used when none is."""
    other = ladder().assign(family="g", n_pass=50, value=0.5, item=lambda d: d["item"] + "x")
    obs = pd.concat([ladder(), other], ignore_index=True)
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0, family="f").fit(obs)
    assert est.points_["pu"].to_numpy() == pytest.approx(EST.mean(axis=1), rel=1e-12)
    both = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(obs)
    assert len(both.items_) == 6
    no_col = PassUntilForecaster(benchmark="b", n_bootstrap=0, family="f").fit(
        ladder().drop(columns="family")
    )
    assert no_col.points_["pu"].to_numpy() == pytest.approx(EST.mean(axis=1), rel=1e-12)


def test_refusals() -> None:
    with pytest.raises(FitError, match=r"^PassUntil law needs at least 3 models; got \['m0', 'm1'"):
        PassUntilForecaster(benchmark="b", points="models").fit(
            ladder()[ladder()["model"].isin(["m0", "m1"])]
        )
    bad = ladder()
    bad.loc[bad["model"] == "m2", "n_params"] = -1.0
    with pytest.raises(FitError, match=r"^some models lack a positive n_params$"):
        PassUntilForecaster(benchmark="b").fit(bad)
    bad.loc[bad["model"] == "m2", "n_params"] = 0.0
    with pytest.raises(FitError, match=r"^some models lack a positive n_params$"):
        PassUntilForecaster(benchmark="b").fit(bad)
    none_pass = [[(100, 0)] * 3] * 3 + [[(100, 1), (100, 0), (100, 0)]]
    with pytest.raises(FitError, match=r"^b: need at least 2 uncensored points"):
        PassUntilForecaster(benchmark="b").fit(ladder(none_pass))


def test_counts_from_default_n_and_values() -> None:
    """Without n_samples every row drew default_n; without n_pass, s = round(value * n); a row
    missing only its n_samples takes default_n."""
    bare = ladder().drop(columns=["n_samples", "n_pass"])
    with pytest.raises(FitError, match=r"^b/pu: rows lack n_samples; give default_n to treat"):
        PassUntilForecaster(benchmark="b").fit(bare)
    est = PassUntilForecaster(benchmark="b", default_n=100, n_bootstrap=0).fit(bare)
    values = np.array([[s / n for n, s in items] for items in COUNTS])
    s = np.round(values * 100)
    assert est.s_ == pytest.approx(s.T, abs=0) and np.all(est.n_ == 100.0)
    part = ladder()
    part.loc[0, "n_samples"] = np.nan  # m0/i0: 100 by default_n
    part.loc[1, "n_pass"] = np.nan  # m0/i1: value 0 x 100
    est = PassUntilForecaster(benchmark="b", default_n=100, n_bootstrap=0).fit(part)
    assert est.points_["pu"].to_numpy() == pytest.approx(EST.mean(axis=1), rel=1e-12)
    with pytest.raises(FitError, match="rows lack n_samples"):
        PassUntilForecaster(benchmark="b").fit(part)


def test_few_models_make_checkpoints_the_points() -> None:
    """Two models with two checkpoints each: four points model@step, x is compute (flops =
    6 N D here), and the choice is noted; points="checkpoints" does it without the note."""
    obs = ladder()
    obs = obs[obs["model"].isin(["m0", "m1"])]
    early = obs.assign(checkpoint_step=500, n_tokens=obs["n_tokens"] / 10, n_pass=0, value=0.0)
    early.loc[early["item"] == "i0", ["n_pass", "value"]] = [1, 0.01]
    both = pd.concat([early, obs], ignore_index=True)
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(both)
    assert est.x_ == "flops"
    assert sorted(est.points_.index) == ["m0@1000", "m0@500", "m1@1000", "m1@500"]
    assert est.points_.loc["m1@500", "x"] == pytest.approx(6 * 1e9 * 2e9, rel=1e-12)
    note = "fewer than 3 models: each checkpoint is a point and x is compute (flops)"
    assert note in est.notes_
    forced = PassUntilForecaster(benchmark="b", n_bootstrap=0, points="checkpoints").fit(both)
    assert forced.x_ == "flops" and note not in forced.notes_
    assert forced.line_ == est.line_
    f = forced.predict(pd.DataFrame({"model": ["t"], "n_params": [1e10], "n_tokens": [2e11]}))[0]
    assert f.diagnostics["target_x"] == pytest.approx(6 * 1e10 * 2e11, rel=1e-12)
    assert f.params["x"] == "flops"


def test_sparse_points_are_dropped() -> None:
    """A fifth model that measured 1 of 3 items (< half) is dropped and noted."""
    obs = ladder()
    extra = obs[(obs["model"] == "m3") & (obs["item"] == "i0")].assign(model="m4", n_params=1e12)
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(pd.concat([obs, extra]))
    assert est.points_.index.tolist() == ["m0", "m1", "m2", "m3"]
    assert "point(s) ['m4'] measured too few items and were dropped" in est.notes_
    assert est.line_.slope == pytest.approx(_line(EST)[1], rel=1e-10)


def test_sampling_weights() -> None:
    """weighting="samples": tau^2 = max(mean(resid^2 - var_F), median(var_F)) from the unweighted
    line, then weighted least squares with weights 1 / (var_F + tau^2)."""
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0, weighting="samples").fit(ladder())
    n = np.array([[n for n, _ in items] for items in COUNTS], dtype=float).T
    s = np.array([[s for _, s in items] for items in COUNTS], dtype=float).T
    var = sampling_var_F(n, s)
    a, b, _, z0 = _line(EST)
    z = np.log(SIZES) - z0
    F = np.log(-np.log(EST.mean(axis=1)))
    tau2 = max(float(np.mean((F - a - b * z) ** 2 - var)), float(np.median(var)))
    assert est.tau2_ == pytest.approx(tau2, rel=1e-10)
    w = 1.0 / (var + tau2)
    slope, intercept = np.polyfit(z, F, 1, w=np.sqrt(w))
    assert (est.line_.intercept, est.line_.slope) == pytest.approx((intercept, slope), rel=1e-9)
    assert est.predict(target())[0].params["weighting"] == "samples"
    assert PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(ladder()).tau2_ == 0.0


def _boot_interval(
    est: PassUntilForecaster, name: str, size: float, alpha: float
) -> tuple[float, float, int]:
    """The documented interval: items resampled (rng = default_rng(random_state), one draw of
    n_items indices per replicate), each replicate's polyfit law predicted at ``size``, plus the
    law's scatter sigma sqrt(m / (m-2)) t_(m-2) in F (seeded by the target's name), quantiles."""
    rng = np.random.default_rng(est.random_state)
    n_items = len(est.items_)
    z = math.log(size) - est.z0_
    preds = []
    for _ in range(est.n_bootstrap):
        idx = rng.integers(0, n_items, n_items)
        F, cens = task_points(est.n_[idx], est.s_[idx], 0.95, est.rr_[idx])
        assert not cens.any()
        slope, intercept = np.polyfit(np.log(SIZES) - est.z0_, F, 1)
        preds.append(math.exp(-math.exp(intercept + slope * z)))
    m = 4
    scale = est.line_.sigma * math.sqrt(m / (m - 2))
    seed = int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little")
    t = np.random.default_rng([est.random_state, seed]).standard_t(m - 2, size=len(preds))
    draws = np.exp(-np.exp(np.log(-np.log(preds)) + scale * t))
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi), len(preds)


# every item passes somewhere on every model: no resample is censored
FULL = [
    [(100, 1), (100, 2), (100, 1)],
    [(100, 3), (100, 2), (100, 4)],
    [(40, 2), (100, 9), (100, 6)],
    [(10, 2), (20, 2), (30, 2)],
]


@pytest.mark.parametrize(
    ("alpha", "seed", "name", "k"),
    [(0.1, 0, "big", 8), (0.5, 3, "a-long-name-x", 8), (0.1, 1, "b", 1)],
)
def test_bootstrap_interval(alpha: float, seed: int, name: str, k: int) -> None:
    est = PassUntilForecaster(benchmark="b", n_bootstrap=k, alpha=alpha, random_state=seed)
    est.fit(ladder(FULL))
    f = est.predict(target(3e11, name))[0]
    lo, hi, n_boot = _boot_interval(est, name, 3e11, alpha)
    assert len(est.boot_lines_) == k and f.diagnostics["n_bootstrap"] == n_boot == k
    assert (f.lower, f.upper) == pytest.approx((min(lo, f.point), max(hi, f.point)), rel=1e-9)
    assert f.lower < f.upper
    assert f.notes == ()


def test_point_outside_the_draws_widens_the_interval() -> None:
    """The interval always holds the point: with alpha = 0.99 the quantiles are both near the
    draws' median; whichever side the point lies, that end is the point."""
    est = PassUntilForecaster(benchmark="b", n_bootstrap=8, alpha=0.99).fit(ladder(FULL))
    f = est.predict(target(3e11))[0]
    lo, hi, _ = _boot_interval(est, "big", 3e11, 0.99)
    assert (f.lower, f.upper) == pytest.approx((min(lo, f.point), max(hi, f.point)), rel=1e-9)
    assert f.point in (f.lower, f.upper)


def test_scatter_needs_three_uncensored_points() -> None:
    """Two uncensored points (two models without a success): item bootstrap only, noted, and
    the censored models are noted as upper bounds."""
    counts = [[(100, 0)] * 3, [(100, 0)] * 3, FULL[2], FULL[3]]
    est = PassUntilForecaster(benchmark="b", n_bootstrap=4).fit(ladder(counts))
    f = est.predict(target())[0]
    assert "law scatter unknown (fewer than 3 uncensored points): item bootstrap only" in f.notes
    assert "2 model(s) had no success on any item: fitted as upper bounds" in f.notes
    preds = [float(b.predict(math.log(1e12) - est.z0_)) for b in est.boot_lines_]
    lo, hi = np.quantile(preds, [0.05, 0.95])
    assert (f.lower, f.upper) == pytest.approx((min(lo, f.point), max(hi, f.point)), rel=1e-12)
    assert est.points_["censored"].tolist() == [True, True, False, False]


def test_instance_scheme_averages_item_laws() -> None:
    """Per-item laws from binomial_lines with the dataset slope as prior; the point is the mean
    of the items' pass rates, the bootstrap resamples those items."""
    est = PassUntilForecaster(benchmark="b", scheme="instance", n_bootstrap=5, ridge=2.0)
    est.fit(ladder(FULL))
    n = np.array([[n for n, _ in items] for items in FULL], dtype=float).T
    s = np.array([[s for _, s in items] for items in FULL], dtype=float).T
    z = np.log(SIZES) - est.z0_
    b0, b1 = binomial_lines(z, n, s, prior_slope=est.line_.slope, ridge=2.0)
    assert est.item_laws_["intercept"].to_numpy() == pytest.approx(b0, rel=1e-12)
    assert est.item_laws_["slope"].to_numpy() == pytest.approx(b1, rel=1e-12)
    zt = math.log(1e12) - est.z0_
    per_item = np.exp(-np.exp(b0 + b1 * zt))
    point, boot = est.predict_pu(1e12)
    assert point == pytest.approx(per_item.mean(), rel=1e-12)
    rng = np.random.default_rng(0)
    expected = [per_item[rng.integers(0, 3, 3)].mean() for _ in range(5)]
    assert boot == pytest.approx(expected, rel=1e-12)
    assert est.boot_lines_ == []
    assert est.item_laws_.index.tolist() == ["i0", "i1", "i2"]
    f = est.predict(target())[0]
    assert f.params["scheme"] == "instance" and f.point == pytest.approx(point, rel=1e-12)
    default = PassUntilForecaster(benchmark="b", scheme="instance", n_bootstrap=0).fit(ladder(FULL))
    b0_half, _ = binomial_lines(z, n, s, prior_slope=default.line_.slope, ridge=0.5)
    assert default.item_laws_["intercept"].to_numpy() == pytest.approx(b0_half, rel=1e-12)


def test_curvature_uses_the_uncensored_points_and_the_interval_level() -> None:
    est = PassUntilForecaster(benchmark="b", n_bootstrap=6, alpha=0.2).fit(ladder(FULL))
    cur = est.curvature_
    assert cur.n_points == 4 and cur.n_bootstrap == 6
    z = np.log(SIZES) - est.z0_
    zs = (z - z.mean()) / z.std()
    F = est.points_["F"].to_numpy()
    assert cur.quadratic == pytest.approx(np.polyfit(zs, F, 2, w=cur_weights(est))[0], rel=1e-9)
    reps = cur_reps(est)
    assert cur.quadratic_ci == pytest.approx(tuple(np.quantile(reps, [0.1, 0.9])), rel=1e-9)
    three = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(
        ladder([[(100, 0)] * 3, *FULL[1:]])
    )
    assert three.curvature_.label == "undetermined" and three.curvature_.n_points == 3


def _boot_F(est: PassUntilForecaster) -> np.ndarray:
    rng = np.random.default_rng(est.random_state)
    k = len(est.items_)
    rows = []
    for _ in range(est.n_bootstrap):
        idx = rng.integers(0, k, k)
        rows.append(task_points(est.n_[idx], est.s_[idx], 0.95, est.rr_[idx])[0])
    return np.array(rows)


def cur_weights(est: PassUntilForecaster) -> np.ndarray:
    return 1.0 / np.maximum(np.std(_boot_F(est), axis=0), 0.02)


def cur_reps(est: PassUntilForecaster) -> np.ndarray:
    z = np.log(SIZES) - est.z0_
    zs = (z - z.mean()) / z.std()
    w = cur_weights(est)
    return np.array([np.polyfit(zs, row, 2, w=w)[0] for row in _boot_F(est)])


def test_summary_text() -> None:
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(ladder([[(100, 0)] * 3, *FULL[1:]]))
    ln = est.line_
    lines = est.summary().splitlines()
    assert lines[0] == "PassUntil law on b/pu (dataset level): 3 items x 4 models, x = n_params"
    assert lines[1] == (
        f"  F = log(-log PU) = {ln.intercept:.4g} + {ln.slope:.4g} * (log x - {est.z0_:.4g})"
        f"  (sigma {ln.sigma:.3g}; 1 censored point(s))"
    )
    assert lines[2] == "  model                      x          PU          F"
    F0 = math.log(-math.log(1 - 0.05 ** (1 / 100)))
    assert lines[3] == f"  m0                         1e+08      0           {F0:.4g}  censored"
    F1 = math.log(-math.log(9 / 300))
    assert lines[4] == f"  m1                         1e+09      0.03        {F1:.4g}"
    assert lines[7] == (
        "  shape: undetermined (z^2 coefficient nan, 90% CI [nan, nan], convex in nan% of 0 "
        "item resamples; AIC linear - quadratic nan)"
    )
    assert len(lines) == 8


def test_target_refusals_and_names() -> None:
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(ladder())
    with pytest.raises(ValueError, match=r"^target 'zero': needs a positive n_params$"):
        est.predict(target(0.0, "zero"))
    with pytest.raises(ValueError, match=r"^target 'neg': needs a positive n_params$"):
        est.predict(target(-5.0, "neg"))
    two = est.predict(pd.DataFrame({"n_params": [1e12, 1e13]}))
    assert [f.target for f in two] == ["target0", "target1"]
    assert two[1].diagnostics["target_x"] == 1e13
    a, b, _, z0 = _line(EST)
    assert two[1].point == pytest.approx(math.exp(-math.exp(a + b * (math.log(1e13) - z0))))


def test_flops_as_x() -> None:
    """x="flops": compute of each model (6 N D), the law in log compute."""
    est = PassUntilForecaster(benchmark="b", x="flops", n_bootstrap=0).fit(ladder())
    assert est.points_["x"].to_numpy() == pytest.approx([120 * n**2 for n in SIZES], rel=1e-12)
    logc = np.log([120 * n**2 for n in SIZES])
    F = np.log(-np.log(EST.mean(axis=1)))
    slope, _ = np.polyfit(logc - logc.mean(), F, 1)
    assert est.line_.slope == pytest.approx(slope, rel=1e-10)
    assert est.input_contract().size == ("flops", "n_params_nonembed")
    assert PassUntilForecaster(benchmark="b").input_contract().size == (
        "n_params",
        "n_params_nonembed",
    )


def test_one_draw_without_success() -> None:
    """n = 1, s = 1 not stopped at r: s / n = 1 (n is floored at 1, not more)."""
    got = item_estimates(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([False, False]))
    assert got.tolist() == [1.0, 0.0]


def test_default_bootstrap_count() -> None:
    est = PassUntilForecaster(benchmark="b").fit(ladder(FULL))
    assert len(est.boot_idx_) == 200 and len(est.boot_lines_) == 200


def test_bootstrap_lines_are_weighted_and_skip_failed_resamples() -> None:
    """weighting="samples": each replicate's line is weighted by its own resample's sampling
    variances (+ tau^2). A resample of only i1 and i2 may have one uncensored point: no line,
    skipped, and the later replicates still count."""
    counts = [
        [(100, 2), (100, 0), (100, 0)],
        [(100, 5), (100, 0), (100, 0)],
        [(100, 9), (100, 1), (100, 0)],
        [(100, 20), (100, 4), (100, 3)],
    ]
    est = PassUntilForecaster(benchmark="b", n_bootstrap=12, weighting="samples", random_state=4)
    est.fit(ladder(counts))
    rng = np.random.default_rng(4)
    z = np.log(SIZES) - est.z0_
    slopes = []
    for _ in range(12):
        idx = rng.integers(0, 3, 3)
        F, cens = task_points(est.n_[idx], est.s_[idx], 0.95, est.rr_[idx])
        if (~cens).sum() < 2:
            continue
        w = 1.0 / (sampling_var_F(est.n_[idx], est.s_[idx]) + est.tau2_)
        slopes.append(tobit_line(z, F, cens, w).slope)
    assert 0 < len(slopes) < 12
    assert [b.slope for b in est.boot_lines_] == pytest.approx(slopes, rel=1e-9)


def test_counts_come_from_n_pass_not_value() -> None:
    """n_pass is the count (value is only a fallback): a wrong value column changes nothing;
    a non-numeric n_pass or n_samples reads as missing and is filled (value x n, default_n)."""
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(ladder(value=0.9))
    assert est.points_["pu"].to_numpy() == pytest.approx(EST.mean(axis=1), rel=1e-12)
    obs = ladder().astype({"n_pass": object, "n_samples": object})
    obs.loc[0, "n_pass"] = "n/a"  # m0/i0: value 0.01 x 100 = 1
    obs.loc[4, "n_samples"] = "?"  # m1/i1: default_n = 100
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0, default_n=100).fit(obs)
    assert est.points_["pu"].to_numpy() == pytest.approx(EST.mean(axis=1), rel=1e-12)
    obs = ladder()
    obs.loc[0, "n_pass"] = np.nan
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(obs)
    assert est.s_[0, 0] == 1.0


def test_curvature_note() -> None:
    """A curved shape adds its note to every forecast; "scaling" adds none."""
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(ladder(FULL))
    for label in ("sub-scaling", "accelerated emergence"):
        est.curvature_ = dataclasses.replace(est.curvature_, label=label)
        notes = est.predict(target())[0].notes
        assert notes[-1] == f"F(log x) is curved ({label}): a line extrapolates badly"
    est.curvature_ = dataclasses.replace(est.curvature_, label="scaling")
    assert est.predict(target())[0].notes == ("no bootstrap replicate: interval unavailable",)


def test_three_uncensored_points_get_the_scatter() -> None:
    counts = [[(100, 0)] * 3, *FULL[1:]]
    est = PassUntilForecaster(benchmark="b", n_bootstrap=4).fit(ladder(counts))
    f = est.predict(target())[0]
    assert f.notes == ("1 model(s) had no success on any item: fitted as upper bounds",)


def test_input_contract_and_labels_in_refusals() -> None:
    assert PassUntilForecaster(benchmark="b").input_contract() == InputContract(
        size=("n_params", "n_params_nonembed"), series=(("b", "pu"),), item_rows=True
    )
    with pytest.raises(ValueError, match=r"^PassUntilForecaster\.fit: needs n_params "):
        PassUntilForecaster(benchmark="b").fit(ladder().assign(n_params=np.nan))
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(ladder())
    with pytest.raises(ValueError, match=r"^PassUntilForecaster\.predict: targets need n_params"):
        est.predict(pd.DataFrame({"model": ["t"], "n_params": [np.nan]}))
    one = est.predict(target(1.0, "tiny"))[0]
    a, b, _, z0 = _line(EST)
    assert one.point == pytest.approx(math.exp(-math.exp(a + b * (0.0 - z0))), rel=1e-9)


def test_other_series_and_duplicate_runs() -> None:
    """Rows of another benchmark or metric are ignored; an item measured twice on a model (two
    runs) counts all its draws: n and s are summed."""
    obs = ladder()
    noise = pd.concat(
        [obs.assign(benchmark="other", n_pass=50), obs.assign(metric="pass_rate", n_pass=50)]
    )
    halves = obs.assign(n_samples=obs["n_samples"] / 2, n_pass=obs["n_pass"] / 2)
    twice = pd.concat([noise, halves, halves], ignore_index=True)
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0, estimator="mle").fit(twice)
    mle = PassUntilForecaster(benchmark="b", n_bootstrap=0, estimator="mle").fit(obs)
    assert est.points_["pu"].to_numpy() == pytest.approx(mle.points_["pu"].to_numpy(), rel=1e-12)
    assert est.n_ == pytest.approx(mle.n_, rel=0)


def test_three_models_are_model_points() -> None:
    """Exactly 3 models: enough for a law of model points ("auto"), and for the fit."""
    obs = ladder()
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(obs[obs["model"] != "m3"])
    assert est.x_ == "n_params" and est.points_.index.tolist() == ["m0", "m1", "m2"]
    assert est.notes_ == []


def test_half_coverage_is_enough_and_missing_steps_count_as_earliest() -> None:
    """A model that measured exactly half the items is kept. A model whose steps are all missing
    (or not numbers) keeps its rows; rows without a step lose to a model's step-0 rows."""
    counts = [[*items, items[-1]] for items in FULL]  # four items
    obs = ladder(counts)
    obs = obs[~((obs["model"] == "m2") & obs["item"].isin(["i0", "i1"]))]
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(obs)
    assert est.points_.index.tolist() == ["m0", "m1", "m2", "m3"] and est.items_ == ["i2", "i3"]
    obs = ladder(FULL).astype({"checkpoint_step": object})
    obs.loc[obs["model"] == "m0", "checkpoint_step"] = "main"
    obs.loc[obs["model"] == "m1", "checkpoint_step"] = 0
    junk = obs[obs["model"] == "m1"].assign(checkpoint_step=np.nan, n_pass=90, value=0.9)
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(pd.concat([obs, junk]))
    ref = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(ladder(FULL))
    assert est.points_["pu"].to_numpy() == pytest.approx(ref.points_["pu"].to_numpy(), rel=1e-12)


def test_tau_from_residuals_when_they_exceed_sampling() -> None:
    """Many draws (small sampling variance) and points off the line: tau^2 is the mean excess of
    squared residuals over sampling variance."""
    counts = [
        [(10000, 100)] * 3,
        [(10000, 900)] * 3,
        [(10000, 1500)] * 3,
        [(10000, 6000)] * 3,
    ]
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0, weighting="samples").fit(ladder(counts))
    n = np.full((3, 4), 10000.0)
    s = np.array([[100.0, 900.0, 1500.0, 6000.0]] * 3)
    var = sampling_var_F(n, s)
    F = np.log(-np.log(s[0] / n[0]))
    z = np.log(SIZES) - est.z0_
    slope, intercept = np.polyfit(z, F, 1)
    excess = float(np.mean((F - intercept - slope * z) ** 2 - var))
    assert excess > float(np.median(var))
    assert est.tau2_ == pytest.approx(excess, rel=1e-9)


def test_summary_of_a_bootstrapped_shape() -> None:
    est = PassUntilForecaster(benchmark="b", n_bootstrap=6).fit(ladder(FULL))
    cur = est.curvature_
    assert est.summary().splitlines()[-1] == (
        f"  shape: {cur.label} (z^2 coefficient {cur.quadratic:.3g}, 90% CI "
        f"[{cur.quadratic_ci[0]:.3g}, {cur.quadratic_ci[1]:.3g}], convex in "
        f"{cur.frac_convex:.0%} of 6 item resamples; AIC linear - quadratic "
        f"{cur.aic_linear - cur.aic_quadratic:.3g})"
    )
    assert cur.quadratic_ci[0] != cur.quadratic_ci[1] and cur.aic_quadratic != 0


def test_sizes_below_one_are_positive() -> None:
    """x in any unit: n_params in billions (0.1 .. 100) is positive, and the law in centred
    z = log x - mean(log x) is the same line; only z0 moves, by log(1e9)."""
    obs = ladder().assign(n_params=lambda d: d["n_params"] / 1e9)
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(obs)
    a, b, sigma, z0 = _line(EST)
    assert (est.line_.intercept, est.line_.slope) == pytest.approx((a, b), rel=1e-10)
    assert est.line_.sigma == pytest.approx(sigma, rel=1e-10)
    assert est.z0_ == pytest.approx(z0 - math.log(1e9), rel=1e-12)
    f = est.predict(target(0.5, "half"))[0]
    assert f.point == pytest.approx(math.exp(-math.exp(a + b * (math.log(5e8) - z0))), rel=1e-9)


def test_when_every_model_is_sparse_none_is_dropped() -> None:
    """Each model measured the shared items i0, i1 and three of its own: 5 of 14 items, below
    half, for every model. Dropping them all would leave nothing, so all stay (no note) and the
    law uses the items every model measured. Estimates by hand (i0, i1 of FULL; m3's budget is
    20, so its i1 (20, 2) is s / n)."""
    obs = ladder(FULL)
    obs = obs[obs["item"].isin(["i0", "i1"])]
    own = [
        obs[(obs["model"] == f"m{m}") & (obs["item"] == "i0")].assign(item=f"own{m}_{k}")
        for m in range(4)
        for k in range(3)
    ]
    est = PassUntilForecaster(benchmark="b", n_bootstrap=0).fit(pd.concat([obs, *own]))
    assert est.points_.index.tolist() == ["m0", "m1", "m2", "m3"] and est.notes_ == []
    assert est.items_ == ["i0", "i1"]
    pu = [0.015, 0.025, (1 / 39 + 0.09) / 2, (1 / 9 + 0.1) / 2]
    assert est.points_["pu"].to_numpy() == pytest.approx(pu, rel=1e-12)
