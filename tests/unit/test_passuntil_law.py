"""PassUntil task law on synthetic (n, s) data with known F, censoring and curvature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictors.base import FitError
from predictors.passuntil import PassUntilForecaster
from predictors.passuntil_law import binomial_line, pu_of_F, tobit_line
from predictors.synthetic_items import synthetic_passuntil_ladder

N = np.geomspace(3e7, 3e9, 8)
Z0 = float(np.log(3e7))
ALPHA, INTERCEPT = 0.6, 3.0


def linear(z):
    return INTERCEPT - ALPHA * (z - Z0)


def convex(z):  # log-sum-exp of two lines: sub-scaling
    return np.logaddexp(3.0 - 1.2 * (z - Z0), 0.2 - 0.2 * (z - Z0))


def concave(z):  # min of two lines: accelerated emergence
    return np.minimum(2.5 - 0.2 * (z - Z0), 4.5 - 1.5 * (z - Z0))


def _fit(F, *, seed=0, scheme="dataset", n_items=100, item_sd=0.0):
    obs, truth = synthetic_passuntil_ladder(N, F, n_items=n_items, seed=seed, item_sd=item_sd)
    est = PassUntilForecaster(benchmark="synthetic-pu", scheme=scheme, n_bootstrap=100)
    est.fit(obs[obs["model"] != "pu7"])
    target = obs[obs["model"] == "pu7"].drop_duplicates("model")
    return est, est.predict(target)[0], float(truth.loc[truth["model"] == "pu7", "p"].mean())


def test_known_alpha_and_c_recovered():
    """Eight simulated ladders with F = 3 - 0.6 (log N - log 3e7) and identical items (so the
    task PU is each item's p): the fitted slope and level match the truth within simulation s.e.

    Measured over seeds 0-7: sd(alpha) ~ 0.020, sd(F at the centre z0_) ~ 0.010. The mean of 8
    must lie within 3 s.e. = 3 sd / sqrt(8) of the truth (a bias check: 0.021 on alpha, which a
    10% error fails) and every replicate within 4 sd; the sds are capped at 2.5x their measured
    values so that a noisier estimator cannot widen its own tolerance. The level is checked at
    the centre of the data; log_c (the level at log N = 0) only extrapolates from it.
    """
    alphas, centres = [], []
    for seed in range(8):
        obs, _ = synthetic_passuntil_ladder(N, linear, n_items=150, seed=seed, item_sd=0.0)
        est = PassUntilForecaster(benchmark="synthetic-pu", n_bootstrap=0)
        est.fit(obs[obs["model"] != "pu7"])
        alphas.append(est.line_.alpha)
        centres.append(est.line_.intercept - float(linear(est.z0_)))
    for values, truth, cap in ((alphas, ALPHA, 0.05), (centres, 0.0, 0.025)):
        v = np.asarray(values)
        sd = v.std(ddof=1)
        assert 0 < sd < cap
        assert abs(v.mean() - truth) < 3 * sd / np.sqrt(len(v)), (v.mean(), truth, sd)
        assert np.all(np.abs(v - truth) < 4 * sd)
    est, fc, true_pu = _fit(linear, n_items=150)
    assert fc.params["alpha_exponent"] == est.line_.alpha
    assert fc.params["log_c"] == pytest.approx(est.line_.intercept + est.line_.alpha * est.z0_)
    assert fc.lower <= true_pu <= fc.upper
    assert abs(fc.point - true_pu) / true_pu < 0.25


def test_censored_models_are_upper_bounds_not_log_zero():
    est, fc, _ = _fit(linear)
    pts = est.points_
    assert pts["censored"].iloc[0] and np.isfinite(pts["F"]).all()
    assert pts["pu"].iloc[0] == 0.0  # measured nothing, fitted as a bound
    assert fc.ok and any("upper bounds" in n for n in fc.notes)


def test_tobit_beats_treating_bounds_as_values():
    rng = np.random.default_rng(0)
    z = np.linspace(-2, 2, 12)
    F_true = 1.0 - 0.8 * z
    F = F_true + rng.normal(0, 0.05, z.size)
    cens = F > 1.8  # the smallest models: only a bound is known
    F_obs = np.where(cens, 1.8, F)  # the bound's F (true F lies above)
    naive = np.polyfit(z, F_obs, 1)[0]
    fit = tobit_line(z, F_obs, cens)
    assert abs(fit.slope + 0.8) < abs(naive + 0.8)
    assert fit.n_censored == cens.sum() and fit.slope == pytest.approx(-0.8, abs=0.08)


def test_item_never_passed_gets_a_finite_small_law():
    z = np.log(N[:6]) - Z0
    b0, b1 = binomial_line(z, np.full(6, 1e4), np.zeros(6), prior_slope=-0.6)
    assert np.isfinite([b0, b1]).all()
    p_next = float(pu_of_F(b0 + b1 * (np.log(N[6]) - Z0)))
    assert 0 <= p_next < 1e-3


@pytest.mark.parametrize(
    ("F", "label"),
    [(linear, "scaling"), (convex, "sub-scaling"), (concave, "accelerated emergence")],
)
def test_curvature_labels(F, label):
    est, fc, _ = _fit(F)
    cur = est.curvature_
    assert cur.label == label
    assert f"shape: {label} " in est.summary()
    if label != "scaling":
        assert cur.aic_linear - cur.aic_quadratic >= 2
        assert (cur.quadratic > 0) == (label == "sub-scaling")
        assert fc.diagnostics["curvature"]["label"] == label


def test_instance_scheme_handles_heterogeneous_items():
    est, fc, true_pu = _fit(linear, scheme="instance", n_items=60, item_sd=0.3)
    assert len(est.item_laws_) == 60 and np.isfinite(est.item_laws_.to_numpy()).all()
    assert abs(fc.point - true_pu) / true_pu < 0.2
    assert fc.lower <= fc.point <= fc.upper


def test_rows_without_counts_need_default_n():
    obs, _ = synthetic_passuntil_ladder(N[:5], linear, n_items=10)
    bare = obs.drop(columns=["n_samples", "n_pass"])
    with pytest.raises(FitError, match="n_samples"):
        PassUntilForecaster(benchmark="synthetic-pu").fit(bare)
    est = PassUntilForecaster(benchmark="synthetic-pu", default_n=10_000, n_bootstrap=5).fit(bare)
    assert isinstance(est.points_, pd.DataFrame) and len(est.points_) == 5
