"""The predictors' shared plumbing: start counts, the public one-start fit, typed results.

Each test pins a number that a wrong implementation would change (issue 18, "House").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from predictors.cod import Replicate
from predictors.cod_clustering import Clustering, cluster_items
from predictors.cod_law import LawFit, identity_mapping
from predictors.filters import FilterError, parse_filter
from predictors.item_data import model_flops
from predictors.ladder import TwoStepLadder
from predictors.laws import (
    GADRE_LOSS_STARTS,
    Array,
    compute_loss,
    fit_law,
    fit_one_start,
    gadre_loss,
)


def _nan_law(x: Array, a: float) -> Array:
    """A law with no finite value anywhere: every local fit from every start must fail."""
    return np.full(np.shape(x), np.nan) * a


def test_n_starts_counts_the_local_fits_that_ran() -> None:
    # 128 starts given and run (the loop must not stop at the first): all converge on exact data.
    n = np.repeat([1e7, 3e7, 1e8, 3e8], 2)
    m = np.tile([20.0, 80.0], 4)
    y = gadre_loss((n, m), 50.0, 80.0, -0.2, 1.8)
    fit = fit_law(gadre_loss, (n, m), y, starts=GADRE_LOSS_STARTS[:5])
    assert (fit.n_starts, fit.n_converged) == (5, 5)
    assert fit.to_dict()["n_converged"] == 5


def test_huber_fit_counts_the_polish_of_the_fast_optimum() -> None:
    c = np.geomspace(1e18, 1e21, 6)
    y = compute_loss(c, 6.0, 0.15, 0.8)
    starts = [(6.0, 0.1, 1.0), (3.0, 0.2, 0.5)]
    fit = fit_law(compute_loss, c, y, starts=starts, loss="huber_log:1e-3")
    # two given starts plus one L-BFGS-B polish of the trust-region solver's best optimum
    assert fit.n_starts == 3
    assert fit.ok and math.isclose(fit.params[1], 0.15, rel_tol=1e-4)


def test_no_converged_start_is_reported_with_the_count() -> None:
    x = np.arange(1.0, 6.0)
    fit = fit_law(_nan_law, x, np.ones(5), starts=[(1.0,), (2.0,), (3.0,)])
    assert fit.status == "failed"
    assert (fit.n_starts, fit.n_converged) == (3, 0)
    assert fit.message == "no start of 3 converged"


def test_fit_one_start_recovers_exact_parameters_and_reports_failure() -> None:
    c = np.geomspace(1e18, 1e21, 6)
    y = compute_loss(c, 6.0, 0.15, 0.8)
    p = fit_one_start(compute_loss, c, y, p0=[5.0, 0.1, 1.0], maxfev=2000)
    assert p is not None
    np.testing.assert_allclose(p, [6.0, 0.15, 0.8], rtol=1e-6)
    # one function evaluation allowed: Levenberg-Marquardt stops unconverged -> None, not p0
    assert fit_one_start(compute_loss, c, y, p0=[1.0, 1.0, 1.0], maxfev=1) is None
    with pytest.raises(TypeError):  # keyword-only past (func, x, y): no 9 positional arguments
        fit_one_start(compute_loss, c, y, [5.0, 0.1, 1.0])


def test_fit_one_start_refuses_a_law_that_is_nan_everywhere() -> None:
    """L-BFGS-B hands back its start when every value is NaN; that start is not a fit."""

    def nowhere(x: np.ndarray, a: float, b: float) -> np.ndarray:
        return np.full_like(np.asarray(x, dtype=float), np.nan) * a * b

    c = np.geomspace(1.0, 10.0, 5)
    for loss in ("l2", "huber"):
        assert fit_one_start(nowhere, c, np.ones(5), p0=[1.0, 1.0], loss=loss) is None
    # a law finite at its optimum is still accepted under the robust loss
    p = fit_one_start(
        compute_loss, c, compute_loss(c, 2.0, 0.3, 0.5), p0=[1.0, 0.2, 0.4], loss="huber"
    )
    assert p is not None and np.all(np.isfinite(compute_loss(c, *p)))


def test_step2_spec_needs_no_fitted_state() -> None:
    L = np.array([1.0, 2.0, 4.0])
    S = np.array([0.3, 0.5, 0.9])
    starts, bounds = TwoStepLadder._step2_spec(L, S)
    # chance = lowest score 0.3 -> a = -0.7; second start centred on the median loss, 2.0
    assert starts == [(-0.7, 0.9, 3.0, 1.0), (-0.7, 1.0, 1.0, 2.0)]
    assert bounds == ([-1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 100.0, 100.0])


def test_model_flops_without_a_flops_column_uses_six_n_d() -> None:
    df = pd.DataFrame({"n_params": [1e8, 2e8], "n_tokens": [2e9, 4e9]})
    assert model_flops(df).tolist() == [1.2e18, 4.8e18]
    given = df.assign(flops=[5e18, np.nan])
    assert model_flops(given).tolist() == [5e18, 4.8e18]


def test_a_sign_on_a_non_number_is_refused_when_parsed() -> None:
    with pytest.raises(FilterError, match="sign goes on numbers only"):
        parse_filter("model in [-'a']")
    with pytest.raises(FilterError, match="sign goes on numbers only"):
        parse_filter("n_params in [-None]")
    obs = pd.DataFrame({"model": ["a", "b"], "n_params": [-1.0, 2.0]})
    assert parse_filter("n_params in [-1, +3]").apply(obs)["model"].tolist() == ["a"]


def test_replicate_weights_cluster_laws_by_size() -> None:
    unit = 1e18
    fast = LawFit(a=1.0, b=0.5, c=0.0, g=0.0, unit=unit, rmse=0.0, converged=True)
    slow = LawFit(a=4.0, b=0.5, c=0.0, g=0.0, unit=unit, rmse=0.0, converged=True)
    rep = Replicate((fast, slow), np.array([1.0, 3.0]), identity_mapping())
    # at C = 4 units: exp(-1 * 4^-0.5) = exp(-0.5), exp(-4 * 0.5) = exp(-2); weights 1 : 3
    expected = (math.exp(-0.5) + 3 * math.exp(-2.0)) / 4
    assert rep(4 * unit) == pytest.approx(expected, rel=1e-12)


def test_cluster_items_returns_typed_clusters() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0.2, 0.01, (15, 3)), rng.normal(0.8, 0.01, (15, 3))])
    # quantile 0.5: R is about the within-cluster spread (~0.04), far below the gap (~1.0)
    out = cluster_items(X, quantile=0.5, min_cluster_size=5)
    assert isinstance(out, Clustering)
    assert out.labels.tolist() == [0] * 15 + [1] * 15
    assert 0.01 < out.bandwidth < 0.1
    np.testing.assert_allclose(out.centres[0], X[:15].mean(axis=0))
    np.testing.assert_allclose(out.centres[1], X[15:].mean(axis=0))
